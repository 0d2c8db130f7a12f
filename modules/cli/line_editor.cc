#include "line_editor.h"

#include <algorithm>
#include <charconv>

namespace portal::cli {

namespace {

constexpr char kBell = '\a';
constexpr std::string_view kClearToEnd = "\x1b[K";

constexpr unsigned char ctrl(char c) { return static_cast<unsigned char>(c & 0x1f); }

std::string cursor_left(std::size_t n) { return n == 0 ? std::string() : "\x1b[" + std::to_string(n) + "D"; }
std::string cursor_right(std::size_t n) { return n == 0 ? std::string() : "\x1b[" + std::to_string(n) + "C"; }

std::size_t common_prefix(const std::vector<std::string> &words) {
  std::size_t n = words.front().size();
  for (const std::string &w : words) {
    std::size_t i = 0;
    while (i < n && i < w.size() && w[i] == words.front()[i]) ++i;
    n = i;
  }
  return n;
}

}  // namespace

std::string_view current_word(std::string_view before_cursor) {
  std::size_t sp = before_cursor.rfind(' ');
  return sp == std::string_view::npos ? before_cursor : before_cursor.substr(sp + 1);
}

LineEditor::Step LineEditor::feed(std::string_view in, std::string &out) {
  Step step;
  while (step.consumed < in.size() && !step.action)
    key(static_cast<unsigned char>(in[step.consumed++]), out, step.action);
  return step;
}

void LineEditor::key(unsigned char c, std::string &out, std::optional<EditorAction> &action) {
  const bool was_cr = after_cr_;
  after_cr_ = false;
  if (esc_ == Esc::start) {
    esc_ = (c == '[' || c == 'O') ? Esc::params : Esc::none;  // Alt+key: dropped
    esc_params_.clear();
    return;
  }
  if (esc_ == Esc::params) {
    if (c >= 0x40 && c <= 0x7e) {
      esc_ = Esc::none;
      escape_final(c, out);
    } else if (esc_params_.size() < 16) {
      esc_params_ += static_cast<char>(c);
    } else {
      esc_ = Esc::none;  // not a key we know: dropped
    }
    return;
  }
  switch (c) {
    case '\r':
      after_cr_ = true;
      return enter(out, action);
    case '\n':
      if (!was_cr) enter(out, action);
      return;
    case 0x1b:
      esc_ = Esc::start;
      return;
    case 0x7f:
    case 0x08:
      if (cursor_ > 0) erase(cursor_ - 1, cursor_, out);
      return;
    case '\t':
      if (echo_) action = EditorAction{EditorAction::Kind::complete, line_.substr(0, cursor_)};
      return;
    case ctrl('A'):
      return move_to(0, out);
    case ctrl('E'):
      return move_to(line_.size(), out);
    case ctrl('U'):
      return erase(0, cursor_, out);
    case ctrl('K'):
      return erase(cursor_, line_.size(), out);
    case ctrl('W'): {
      std::size_t i = cursor_;
      while (i > 0 && (line_[i - 1] == ' ' || line_[i - 1] == '/')) --i;
      while (i > 0 && line_[i - 1] != ' ' && line_[i - 1] != '/') --i;
      return erase(i, cursor_, out);
    }
    case ctrl('L'):
      out += "\x1b[H\x1b[2J" + redraw();
      return;
    case ctrl('C'):
      out += "^C\n";
      line_.clear();
      cursor_ = 0;
      hist_pos_ = history_.size();
      echo_ = true;
      out += prompt_;
      action = EditorAction{EditorAction::Kind::cancel, {}};
      return;
    case ctrl('D'):
      if (line_.empty())
        action = EditorAction{EditorAction::Kind::quit, {}};
      else if (cursor_ < line_.size())
        erase(cursor_, cursor_ + 1, out);
      return;
    default:
      if (c >= 0x20) insert_byte(static_cast<char>(c), out);
      return;  // other control bytes are ignored
  }
}

void LineEditor::escape_final(unsigned char final, std::string &out) {
  switch (final) {
    case 'A':
      return history_step(-1, out);
    case 'B':
      return history_step(+1, out);
    case 'C':
      if (cursor_ < line_.size()) move_to(cursor_ + 1, out);
      return;
    case 'D':
      if (cursor_ > 0) move_to(cursor_ - 1, out);
      return;
    case 'H':
      return move_to(0, out);
    case 'F':
      return move_to(line_.size(), out);
    case '~':
      if (esc_params_ == "1" || esc_params_ == "7") return move_to(0, out);
      if (esc_params_ == "4" || esc_params_ == "8") return move_to(line_.size(), out);
      if (esc_params_ == "3" && cursor_ < line_.size()) return erase(cursor_, cursor_ + 1, out);
      return;
    default:
      return;
  }
}

void LineEditor::enter(std::string &out, std::optional<EditorAction> &action) {
  std::string line = std::move(line_);
  line_.clear();
  cursor_ = 0;
  overflowed_ = false;
  hist_pos_ = history_.size();
  saved_line_.clear();
  if (parse_winsize_line(line, winsize_)) {
    out += refresh();  // hides the echoed hidden line
    return;
  }
  out += "\n";
  if (echo_) remember(line);
  echo_ = true;
  action = EditorAction{EditorAction::Kind::line, std::move(line)};
}

bool parse_winsize_line(std::string_view line, std::optional<WindowSize> &size) {
  constexpr std::string_view kWord = "__winsize ";
  if (!line.starts_with(kWord)) return false;
  std::string_view rest = line.substr(kWord.size());
  WindowSize ws;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), ws.rows);
  if (ec == std::errc() && p < rest.data() + rest.size() && *p == ' ') {
    auto [q, ec2] = std::from_chars(p + 1, rest.data() + rest.size(), ws.cols);
    if (ec2 == std::errc() && ws.rows > 0 && ws.cols > 0) size = ws;
  }
  return true;  // malformed or not, a hidden line is never a command
}

void LineEditor::remember(const std::string &line) {
  if (line.empty() || line.starts_with("login ")) return;
  if (!history_.empty() && history_.back() == line) return;
  history_.push_back(line);
  if (history_.size() > kHistory) history_.pop_front();
  hist_pos_ = history_.size();
}

void LineEditor::insert_byte(char c, std::string &out) {
  if (line_.size() >= kMaxLine) {
    if (!overflowed_) out += kBell;
    overflowed_ = true;
    return;
  }
  line_.insert(cursor_, 1, c);
  ++cursor_;
  if (!echo_) return;
  if (cursor_ == line_.size())
    out += c;
  else
    out += refresh();
}

void LineEditor::erase(std::size_t from, std::size_t to, std::string &out) {
  if (from >= to) return;
  line_.erase(from, to - from);
  cursor_ = from;
  overflowed_ = false;
  if (echo_) out += refresh();
}

void LineEditor::move_to(std::size_t pos, std::string &out) {
  if (echo_) out += pos < cursor_ ? cursor_left(cursor_ - pos) : cursor_right(pos - cursor_);
  cursor_ = pos;
}

void LineEditor::history_step(int dir, std::string &out) {
  if (!echo_) return;
  if (dir < 0 && hist_pos_ == 0) return;
  if (dir > 0 && hist_pos_ >= history_.size()) return;
  if (hist_pos_ == history_.size()) saved_line_ = line_;
  hist_pos_ = static_cast<std::size_t>(static_cast<long>(hist_pos_) + dir);
  replace_line(hist_pos_ == history_.size() ? saved_line_ : history_[hist_pos_], out);
}

void LineEditor::replace_line(std::string text, std::string &out) {
  line_ = std::move(text);
  cursor_ = line_.size();
  out += refresh();
}

std::string LineEditor::redraw() const {
  if (!echo_) return prompt_;
  return prompt_ + line_ + cursor_left(line_.size() - cursor_);
}

std::string LineEditor::refresh() const {
  if (!echo_) return "\r" + prompt_;
  return "\r" + prompt_ + line_ + std::string(kClearToEnd) + cursor_left(line_.size() - cursor_);
}

std::string LineEditor::complete(const std::vector<std::string> &candidates) {
  if (candidates.empty() || !echo_) return std::string(1, kBell);
  std::string_view word = current_word(std::string_view(line_).substr(0, cursor_));
  const std::size_t word_len = word.size();
  std::string insert;
  const std::size_t common = common_prefix(candidates);
  if (common > word_len) insert = candidates.front().substr(word_len, common - word_len);
  if (candidates.size() == 1 && !candidates.front().ends_with('/')) insert += ' ';
  std::string listing;
  if (candidates.size() > 1) {
    // Listed by their last segment: the directory part is the same for all.
    const std::size_t dir = word.rfind('/') == std::string_view::npos ? 0 : word.rfind('/') + 1;
    listing = "\n";
    for (const std::string &c : candidates) listing += c.substr(std::min(dir, c.size())) + "  ";
    listing += "\n";
  }
  if (line_.size() + insert.size() > kMaxLine) return std::string(1, kBell);
  line_.insert(cursor_, insert);
  cursor_ += insert.size();
  if (!listing.empty()) return listing + redraw();
  return refresh();
}

}  // namespace portal::cli
