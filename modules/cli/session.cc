#include "session.h"

#include <sys/socket.h>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <utility>

#include "top.h"

namespace portal::cli {

namespace {

constexpr std::size_t kChunk = 16 * 1024;
// Input waiting while a command runs: reading pauses beyond this.
constexpr std::size_t kMaxPendingInput = 64 * 1024;
// Output a client does not read (a flood of events): the session is closed
// beyond this.
constexpr std::size_t kMaxPendingOutput = 8u << 20;
// Live output held while top runs; beyond this it is counted, not kept.
constexpr std::size_t kMaxHeldLive = 64 * 1024;
constexpr std::string_view kGreeting = "Portal v2.0.0 CLI\nType 'help' for available commands.\n";

std::string event_text(const Event &ev) {
  std::string body = ev.body;
  while (!body.empty() && (body.back() == '\0' || body.back() == '\n')) body.pop_back();
  std::string text;
  if (ev.dropped > 0) text += "[EVENT] (" + std::to_string(ev.dropped) + " lost)\n";
  return text + "[EVENT] " + ev.path + (body.empty() ? "" : ": " + body) + "\n";
}

}  // namespace

Session::Session(std::shared_ptr<ServerShared> shared, Socket socket, std::uint64_t serial)
    : shared_(std::move(shared)),
      token_holder_(shared_),
      socket_(std::move(socket)),
      idle_timer_(shared_->io),
      serial_(serial),
      chunk_(std::make_unique<char[]>(kChunk)) {}

Session::~Session() { close(); }

void Session::start() {
  ucred peer{};
  socklen_t len = sizeof peer;
  if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0) {
    peer_uid_ = peer.uid;
    source_ = "uid:" + std::to_string(peer.uid);
  }
  ++shared_->clients;
  last_activity_ = Clock::now();
  arm_idle_timer();
  busy_ = true;
  print(kGreeting);
  refresh_module_commands([](Session &s) { s.done(); });
  read_more();
}

void Session::close() {
  if (closed_) return;
  closed_ = true;
  end_top();
  for (const auto &[pattern, id] : subscriptions_) shared_->core.unsubscribe(id);
  subscriptions_.clear();
  trace_off();
  boost::system::error_code ignored;
  socket_.shutdown(Socket::shutdown_both, ignored);
  socket_.close(ignored);
  idle_timer_.cancel();
  --shared_->clients;
  // Released from the event loop later: the caller may still be inside this
  // object.
  if (auto it = shared_->live.find(serial_); it != shared_->live.end()) {
    boost::asio::post(shared_->io, [keep = std::move(it->second)] {});
    shared_->live.erase(it);
  }
}

Credentials Session::credentials() const {
  Credentials c;
  c.source = source_;
  if (!token_.empty())
    c.token = token_;
  else
    c.peer_uid = peer_uid_;
  return c;
}

// --- input
// -------------------------------------------------------------------------------

void Session::read_more() {
  if (closed_ || reading_ || quitting_ || inbuf_.size() >= kMaxPendingInput) return;
  reading_ = true;
  socket_.async_read_some(
      boost::asio::buffer(chunk_.get(), kChunk),
      [self = shared_from_this()](const boost::system::error_code &ec, std::size_t n) { self->on_read(ec, n); });
}

void Session::on_read(const boost::system::error_code &ec, std::size_t n) {
  reading_ = false;
  if (closed_) return;
  if (ec) return close();  // end of input or a broken connection: the session ends
  last_activity_ = Clock::now();
  inbuf_.append(chunk_.get(), n);
  process_input();
  read_more();
}

void Session::process_input() {
  if (processing_) return;  // a command finished inside run_line(): the outer loop goes on
  processing_ = true;
  std::size_t pos = 0;
  while (!closed_ && !quitting_ && pos < inbuf_.size() && (top_ || !busy_)) {
    if (auto view = top_) {  // a copy: leaving the view releases the session's
      const std::size_t used = view->keys(*this, std::string_view(inbuf_).substr(pos));
      if (used == 0) break;  // a key cut short waits for its other bytes
      pos += used;
      continue;
    }
    std::string out;
    LineEditor::Step step = editor_.feed(std::string_view(inbuf_).substr(pos), out);
    pos += step.consumed;
    print(out);
    if (!step.action) continue;
    switch (step.action->kind) {
      case EditorAction::Kind::line:
        if (secret_then_) {
          auto then = std::move(secret_then_);
          secret_then_ = nullptr;
          busy_ = true;
          then(*this, step.action->text);
        } else {
          run_line(step.action->text);
        }
        break;
      case EditorAction::Kind::complete:
        run_completion(step.action->text);
        break;
      case EditorAction::Kind::cancel:  // Ctrl-C; at a password prompt it drops the command too
        secret_then_ = nullptr;
        break;
      case EditorAction::Kind::quit:
        print("\n");
        quit();
        break;
    }
  }
  inbuf_.erase(0, pos);
  processing_ = false;
  if (!busy_ || top_) read_more();
}

void Session::done() {
  if (closed_ || quitting_) return;
  busy_ = false;
  print(editor_.redraw());
  process_input();
  read_more();
}

void Session::enter_top(std::shared_ptr<TopView> view) {
  top_ = std::move(view);
  process_input();  // keys typed while the first table was fetched
}

void Session::leave_top() {
  end_top();
  if (held_dropped_ > 0)
    held_live_ += "(" + std::to_string(held_dropped_) + " bytes of live output dropped while top ran)\n";
  held_dropped_ = 0;
  print(std::exchange(held_live_, {}));
  done();
}

void Session::end_top() {
  if (top_) top_->stop();
  top_.reset();
}

void Session::read_secret(std::string prompt, std::function<void(Session &, std::string)> then) {
  print(prompt);
  editor_.set_echo(false);
  secret_then_ = std::move(then);
  busy_ = false;
  process_input();
  read_more();
}

void Session::quit() {
  print("Goodbye.\n");
  quitting_ = true;
  busy_ = true;
  if (!writing_active_ && outq_.empty()) close();
}

void Session::set_cwd(std::string cwd) {
  cwd_ = std::move(cwd);
  editor_.set_prompt("portal:" + cwd_ + "> ");
}

void Session::set_login(std::string user, std::string token) {
  user_ = std::move(user);
  token_ = std::move(token);
}

void Session::clear_login() {
  user_.clear();
  token_.clear();
}

// --- requests
// ----------------------------------------------------------------------------

void Session::request(Message msg, Then then) {
  msg.ctx.credentials = credentials();
  send(std::move(msg), std::move(then));
}

void Session::request_as_peer(Message msg, Then then) {
  msg.ctx.credentials = Credentials{};
  msg.ctx.credentials.source = source_;
  msg.ctx.credentials.peer_uid = peer_uid_;
  send(std::move(msg), std::move(then));
}

void Session::send(Message msg, Then then) {
  shared_->core.send_async(std::move(msg), [weak = weak_from_this(), then = std::move(then)](Response r) {
    auto self = weak.lock();
    if (self && !self->closed_) then(*self, r);
  });
}

void Session::request(Method m, std::string path, Headers headers, Then then) {
  Message msg = make_message(m, std::move(path));
  msg.headers = std::move(headers);
  request(std::move(msg), std::move(then));
}

void Session::show(Method m, std::string path, Headers headers) {
  request(m, std::move(path), std::move(headers), [](Session &s, const Response &r) {
    s.print(format_response(r));
    s.done();
  });
}

// --- live output
// -------------------------------------------------------------------------

void Session::print_live(std::string text) {
  if (closed_ || quitting_) return;
  if (top_) {  // not over the full-screen view: printed when it ends
    if (held_live_.size() + text.size() > kMaxHeldLive)
      held_dropped_ += text.size();
    else
      held_live_ += text;
    return;
  }
  if (busy_) return print(text);  // a command's output is under way: no prompt to redraw
  print("\r\x1b[K" + text + editor_.redraw());
}

void Session::subscribe(const std::string &pattern) {
  if (subscriptions_.contains(pattern)) {
    print("Already subscribed to " + pattern + "\n");
    return done();
  }
  std::weak_ptr<Session> weak = weak_from_this();
  shared_->core.subscribe_as(
      pattern, credentials(),
      [weak](const Event &ev) {
        if (auto s = weak.lock()) s->print_live(event_text(ev));
      },
      [weak, pattern, this](Result<SubscriptionId> r) {
        auto s = weak.lock();
        if (!s || closed_) {
          if (r) shared_->core.unsubscribe(*r);
          return;
        }
        if (r) {
          subscriptions_[pattern] = *r;
          print("Subscribed to " + pattern + "\n");
        } else {
          print(r.error().message.empty() ? "Subscribe denied\n" : r.error().message);
          if (!r.error().message.ends_with('\n')) print("\n");
        }
        done();
      });
}

void Session::unsubscribe(const std::string &pattern) {
  auto it = subscriptions_.find(pattern);
  if (it == subscriptions_.end()) {
    print("Not subscribed to " + pattern + "\n");
  } else {
    shared_->core.unsubscribe(it->second);
    subscriptions_.erase(it);
    print("Unsubscribed from " + pattern + "\n");
  }
  done();
}

void Session::trace(std::string filter, bool debug) {
  trace_off();
  std::weak_ptr<Session> weak = weak_from_this();
  const std::string what = std::string(debug ? "Debug" : "Verbose") + " trace on" +
                           (filter.empty() || filter == "/" ? std::string() : " (filter: " + filter + ")");
  shared_->core.trace(
      filter, debug, credentials(),
      [weak](const Event &ev) {
        if (auto s = weak.lock()) s->print_live(ev.body.ends_with('\n') ? ev.body : ev.body + "\n");
      },
      [weak, what, this](Result<SubscriptionId> r) {
        auto s = weak.lock();
        if (!s || closed_) {
          if (r) shared_->core.unsubscribe(*r);
          return;
        }
        if (r) {
          trace_ = *r;
          print(what + "\n");
        } else {
          print("Trace refused: " + (r.error().message.empty() ? std::string("denied\n") : r.error().message));
          if (!r.error().message.ends_with('\n')) print("\n");
        }
        done();
      });
}

void Session::trace_off() {
  if (trace_) shared_->core.unsubscribe(*trace_);
  trace_.reset();
}

// --- output
// ------------------------------------------------------------------------------

void Session::print(std::string_view text) {
  if (closed_ || text.empty()) return;
  outq_.append(text);
  if (outq_.size() > kMaxPendingOutput) return close();  // the client stopped reading
  write_more();
}

void Session::write_more() {
  if (closed_ || writing_active_ || outq_.empty()) return;
  writing_.swap(outq_);
  outq_.clear();
  writing_active_ = true;
  boost::asio::async_write(socket_, boost::asio::buffer(writing_),
                           [self = shared_from_this()](const boost::system::error_code &ec, std::size_t) {
                             self->writing_active_ = false;
                             self->writing_.clear();
                             if (self->closed_) return;
                             if (ec) return self->close();
                             self->last_activity_ = Clock::now();
                             self->write_more();
                             if (self->quitting_ && !self->writing_active_) self->close();
                           });
}

// --- idle timeout
// ------------------------------------------------------------------------

void Session::arm_idle_timer() {
  const std::chrono::milliseconds idle = shared_->settings.idle_timeout;
  if (idle.count() <= 0) return;
  const Clock::duration left = idle - (Clock::now() - last_activity_);
  idle_timer_.expires_after(left > Clock::duration::zero() ? left : Clock::duration::zero());
  idle_timer_.async_wait([self = shared_from_this()](const boost::system::error_code &ec) {
    if (ec || self->closed_) return;
    if (Clock::now() - self->last_activity_ >= self->shared_->settings.idle_timeout && !self->busy_) {
      self->print("\nIdle timeout.\n");
      self->quitting_ = true;
      if (!self->writing_active_) self->close();
      return;
    }
    if (self->busy_) self->last_activity_ = Clock::now();
    self->arm_idle_timer();
  });
}

}  // namespace portal::cli
