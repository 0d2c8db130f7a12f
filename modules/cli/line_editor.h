// The server-side line editor of a CLI session (COMPAT.md 3.2). Pure: bytes
// from the client go in, the bytes to echo and redraw come out, and a finished
// line, a completion request, a cancelled line (Ctrl-C) or the end of the session is reported as an
// action. No sockets, no clock: unit-tested alone.
//
// Keys: printable bytes insert; Backspace (0x7f, 0x08); Left/Right (ESC [ D /
// ESC [ C); Up/Down walk the history; Home / Ctrl-A, End / Ctrl-E; Ctrl-U kills
// to the start, Ctrl-K to the end, Ctrl-W the word before the cursor (up to a
// space or '/'); Ctrl-L clears the screen; Ctrl-C drops the line; Ctrl-D on an
// empty line ends the session; Enter is CR, LF or CRLF (counted once); Tab asks
// for completion. A script that never sends an escape sequence just types
// lines: they are echoed and run the same way.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portal::cli {

struct EditorAction {
  enum class Kind { line, complete, cancel, quit };
  Kind kind = Kind::line;
  std::string text;  // line: the finished line; complete: the line up to the cursor
};

struct WindowSize {
  int rows = 0;
  int cols = 0;
};

class LineEditor {
 public:
  static constexpr std::size_t kMaxLine = 1023;
  static constexpr std::size_t kHistory = 64;

  struct Step {
    std::size_t consumed = 0;
    std::optional<EditorAction> action;
  };

  // Consumes bytes of `in` until an action happens or `in` is used up; the
  // bytes to send to the client are appended to `out`. After a `line` action
  // the editor is empty again.
  Step feed(std::string_view in, std::string &out);

  void set_prompt(std::string prompt) { prompt_ = std::move(prompt); }
  const std::string &prompt() const { return prompt_; }
  // The next line is read without echo and stays out of the history (a
  // password).
  void set_echo(bool on) { echo_ = on; }

  // The prompt and the edit line from column 0 of a fresh line, cursor in
  // place.
  std::string redraw() const;
  // Replaces the word before the cursor with the completion of `candidates`
  // (full replacement words, e.g. "resources/" or "status"): one candidate
  // completes it (and adds a space unless it ends in '/'), several extend it to
  // their common prefix and are listed on a line of their own, then the prompt
  // and line are redrawn. Returns the output.
  std::string complete(const std::vector<std::string> &candidates);

  const std::string &line() const { return line_; }
  std::size_t cursor() const { return cursor_; }
  const std::deque<std::string> &history() const { return history_; }
  std::optional<WindowSize> window_size() const { return winsize_; }
  // A size the client sent while a full-screen view (top) had the input.
  void set_window_size(WindowSize size) { winsize_ = size; }

 private:
  void key(unsigned char c, std::string &out, std::optional<EditorAction> &action);
  void escape_final(unsigned char final, std::string &out);
  void enter(std::string &out, std::optional<EditorAction> &action);
  void insert_byte(char c, std::string &out);
  void erase(std::size_t from, std::size_t to, std::string &out);
  void move_to(std::size_t pos, std::string &out);
  void history_step(int dir, std::string &out);
  void replace_line(std::string text, std::string &out);
  void remember(const std::string &line);
  std::string refresh() const;  // redraw() over the current screen line, clearing its rest

  std::string prompt_ = "portal:/> ";
  std::string line_;
  std::size_t cursor_ = 0;
  std::deque<std::string> history_;
  std::size_t hist_pos_ = 0;  // == history_.size(): the line being edited
  std::string saved_line_;    // the edited line while walking the history
  enum class Esc { none, start, params } esc_ = Esc::none;
  std::string esc_params_;
  bool after_cr_ = false;
  bool overflowed_ = false;  // the bell rang for this overflow already
  bool echo_ = true;
  std::optional<WindowSize> winsize_;
};

// The hidden line `__winsize <rows> <cols>` a terminal client sends: false when
// `line` is not one; `size` is set only when both numbers are valid.
bool parse_winsize_line(std::string_view line, std::optional<WindowSize> &size);

// The word the cursor is in: the text after the last space of `before_cursor`.
std::string_view current_word(std::string_view before_cursor);

}  // namespace portal::cli
