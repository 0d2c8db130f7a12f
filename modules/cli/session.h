// One client of the CLI socket: feeds its bytes to the line editor, runs each
// finished line as a command, and writes the output back. Runs on the module's
// event loop only; requests go out with Core::send_async and carry the
// session's credentials — the login token, else the client's UNIX uid — never
// an identity.
#pragma once

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "commands.h"
#include "line_editor.h"
#include "shared.h"

namespace portal::cli {

class TopView;

class Session : public std::enable_shared_from_this<Session> {
 public:
  using Socket = boost::asio::local::stream_protocol::socket;
  using Then = std::function<void(Session &, const Response &)>;

  Session(std::shared_ptr<ServerShared> shared, Socket socket, std::uint64_t serial);
  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  void start();
  // Ends subscriptions and traces, closes the socket. Idempotent.
  void close();

  // --- for command handlers ---
  void print(std::string_view text);
  // The command finished: the prompt comes back and the next input line is
  // read.
  void done();
  // Sends with the session's credentials; `then` runs on the event loop if the
  // session lives.
  void request(Message msg, Then then);
  void request(Method m, std::string path, Headers headers, Then then);
  // Without the login token: only the client's UNIX uid (a new login).
  void request_as_peer(Message msg, Then then);
  // Request, print the response, done.
  void show(Method m, std::string path, Headers headers = {});
  // Reads the next line without echo (a password) and hands it to `then`.
  void read_secret(std::string prompt, std::function<void(Session &, std::string)> then);
  void quit();

  const std::string &cwd() const { return cwd_; }
  void set_cwd(std::string cwd);
  const std::string &user() const { return user_; }
  bool logged_in() const { return !token_.empty(); }
  void set_login(std::string user, std::string token);
  void clear_login();
  std::uint64_t serial() const { return serial_; }
  Credentials credentials() const;

  // Live events and traces (printed as they come, the edit line redrawn).
  void subscribe(const std::string &pattern);
  void unsubscribe(const std::string &pattern);
  void trace(std::string filter, bool debug);
  void trace_off();

  Core &core() const { return shared_->core; }
  std::optional<WindowSize> window_size() const { return editor_.window_size(); }
  void set_window_size(WindowSize size) { editor_.set_window_size(size); }

  // The full-screen view (top) takes every input byte until it leaves; live
  // output waits meanwhile. leave_top() ends the command.
  void enter_top(std::shared_ptr<TopView> view);
  void leave_top();
  const TopView *top_view() const { return top_.get(); }

  const std::vector<ModuleCommand> &module_commands() const { return module_commands_; }
  // Asks /core/paths and each module's /<m>/cli/commands; `then` runs when all
  // answered.
  void refresh_module_commands(std::function<void(Session &)> then);

 private:
  using Clock = std::chrono::steady_clock;

  void read_more();
  void on_read(const boost::system::error_code &ec, std::size_t n);
  void process_input();
  void run_line(const std::string &line);
  void run_completion(const std::string &before_cursor);
  void complete_path(std::string word);
  void print_live(std::string text);
  void end_top();
  void send(Message msg, Then then);
  void write_more();
  void arm_idle_timer();

  std::shared_ptr<ServerShared> shared_;
  TrackToken token_holder_;
  Socket socket_;
  boost::asio::steady_timer idle_timer_;
  std::uint64_t serial_;
  std::optional<std::int64_t> peer_uid_;
  std::string source_;

  LineEditor editor_;
  std::string inbuf_;
  std::string outq_, writing_;
  std::unique_ptr<char[]> chunk_;
  std::function<void(Session &, std::string)> secret_then_;

  std::string cwd_ = "/";
  std::string user_, token_;
  std::map<std::string, SubscriptionId> subscriptions_;
  std::optional<SubscriptionId> trace_;
  std::vector<ModuleCommand> module_commands_;
  std::shared_ptr<TopView> top_;
  std::string held_live_;  // live output that came while top ran
  std::size_t held_dropped_ = 0;
  Clock::time_point last_activity_;

  bool busy_ = false;  // a command runs; input waits
  bool processing_ = false;
  bool reading_ = false;
  bool writing_active_ = false;
  bool quitting_ = false;
  bool closed_ = false;
};

}  // namespace portal::cli
