#include "top.h"

#include <algorithm>

#include "session.h"

namespace portal::cli {

namespace {

constexpr std::chrono::seconds kRefresh{1};
// A client that never sent `__winsize` (a script) gets a classic terminal.
constexpr WindowSize kDefaultSize{24, 80};

}  // namespace

void TopView::start(Session &s) {
  auto view = std::make_shared<TopView>(s.core());
  view->refresh(s, true);
}

void TopView::stop() {
  if (timer_) core_.remove_timer(*timer_);
  timer_.reset();
}

void TopView::refresh(Session &s, bool first) {
  fetching_ = true;
  // The view is kept alive by its requests until the session owns it; later
  // answers are dropped once the session left the view.
  s.request(Method::get, "/core/modules", {{"format", "json"}},
            [self = shared_from_this(), first](Session &s2, const Response &r) {
              if (first || s2.top_view() == self.get()) self->on_modules(s2, r, first);
            });
}

void TopView::on_modules(Session &s, const Response &r, bool first) {
  std::optional<std::vector<ModuleRow>> modules = r.ok() ? parse_modules(r.body) : std::nullopt;
  if (first && !modules) {
    s.print(r.ok() ? "Unexpected answer from /core/modules\n" : format_response(r));
    return s.done();
  }
  if (!modules) {
    frame_.error = "Refresh failed: status " + std::to_string(r.status);
  } else {
    frame_.error.clear();
    frame_.rows.clear();
    const auto now = CpuMeter::Clock::now();
    for (ModuleRow &m : *modules) {
      TopRow row{std::move(m), std::nullopt, std::nullopt};
      if (std::optional<ProcUsage> usage = read_proc_usage(row.module.pid)) {
        row.cpu_percent = cpu_.sample(row.module.pid, usage->cpu_ticks, now);
        row.rss_kib = usage->rss_kib;
      }
      frame_.rows.push_back(std::move(row));
    }
    cpu_.next_round();
  }
  s.request(Method::get, "/core/status", {}, [self = shared_from_this(), first](Session &s2, const Response &r2) {
    if (first || s2.top_view() == self.get()) self->on_status(s2, r2, first);
  });
}

void TopView::on_status(Session &s, const Response &r, bool first) {
  fetching_ = false;
  frame_.summary = r.ok() ? status_summary(r.body) : std::string();
  if (first) {
    s.print(kEnterScreen);
    start_timer(s);
    draw(s);
    return s.enter_top(shared_from_this());
  }
  draw(s);
}

void TopView::start_timer(Session &s) {
  timer_ = core_.add_timer(std::chrono::duration_cast<std::chrono::milliseconds>(kRefresh),
                           [weak_session = s.weak_from_this(), weak_view = weak_from_this()] {
                             auto session = weak_session.lock();
                             auto view = weak_view.lock();
                             // A refresh still under way (a slow router) is not doubled.
                             if (session && view && session->top_view() == view.get() && !view->fetching_)
                               view->refresh(*session, false);
                           });
}

void TopView::draw(Session &s) { s.print(render_top(frame_, scroll_, s.window_size().value_or(kDefaultSize))); }

long TopView::page_rows(Session &s) const {
  return static_cast<long>(visible_rows(s.window_size().value_or(kDefaultSize).rows));
}

void TopView::scroll_by(Session &s, long delta) {
  const long limit = static_cast<long>(max_scroll(frame_.rows.size(), s.window_size().value_or(kDefaultSize).rows));
  scroll_ = static_cast<std::size_t>(std::clamp(static_cast<long>(scroll_) + delta, 0L, limit));
  draw(s);
}

std::size_t TopView::keys(Session &s, std::string_view in) {
  std::size_t used = 0;
  while (used < in.size()) {
    TopInput k = next_top_key(in.substr(used));
    if (k.key == TopKey::incomplete) break;
    used += k.consumed;
    switch (k.key) {
      case TopKey::quit:
        s.print(kLeaveScreen);
        s.leave_top();
        return used;
      case TopKey::up:
        scroll_by(s, -1);
        break;
      case TopKey::down:
        scroll_by(s, 1);
        break;
      case TopKey::page_up:
        scroll_by(s, -page_rows(s));
        break;
      case TopKey::page_down:
        scroll_by(s, page_rows(s));
        break;
      case TopKey::home:
        scroll_by(s, -static_cast<long>(frame_.rows.size()));
        break;
      case TopKey::end:
        scroll_by(s, static_cast<long>(frame_.rows.size()));
        break;
      case TopKey::resize:
        s.set_window_size(k.size);
        scroll_by(s, 0);
        break;
      case TopKey::ignored:
      case TopKey::incomplete:
        break;
    }
  }
  return used;
}

}  // namespace portal::cli
