// `top`: a full-screen view of the module workers, refreshed every second from
// GET /core/modules (format=json) and /core/status, with CPU% and RSS of each
// worker read from /proc. While it runs it takes every input byte
// (Session::process_input); it never blocks the event loop: refreshes are
// send_async requests started by a Core timer, one at a time.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "portal/module.h"
#include "top_screen.h"

namespace portal::cli {

class Session;

class TopView : public std::enable_shared_from_this<TopView> {
 public:
  // Asks for the first table: a refusal (403 for a user who may not see
  // /core/modules) is printed and the command ends; otherwise the session
  // shows the view.
  static void start(Session &s);

  explicit TopView(Core &core) : core_(core) {}
  TopView(const TopView &) = delete;
  TopView &operator=(const TopView &) = delete;

  // Input while the view is shown; returns the bytes used. q, ESC and Ctrl-C
  // leave the view (Session::leave_top); bytes after that are left for the
  // line editor.
  std::size_t keys(Session &s, std::string_view in);
  // Ends the refreshes. Idempotent.
  void stop();

 private:
  void refresh(Session &s, bool first);
  void on_modules(Session &s, const Response &r, bool first);
  void on_status(Session &s, const Response &r, bool first);
  void start_timer(Session &s);
  void draw(Session &s);
  long page_rows(Session &s) const;
  void scroll_by(Session &s, long delta);

  Core &core_;
  std::optional<TimerId> timer_;
  bool fetching_ = false;
  TopFrame frame_;
  std::size_t scroll_ = 0;
  CpuMeter cpu_;
};

}  // namespace portal::cli
