#include "module_table.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/util.h"

namespace portal::tools {

namespace {

using Json = nlohmann::json;

// Control characters from the server must not reach the terminal.
std::string printable(std::string s) {
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return s;
}

std::string text_of(const Json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>().empty() ? "-" : printable(v.get<std::string>());
  if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  if (v.is_number_float()) return std::to_string(static_cast<std::int64_t>(v.get<double>()));
  return printable(v.dump(-1, ' ', false, Json::error_handler_t::replace));
}

const Json& field(const Json& obj, const char* key) {
  static const Json kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

std::string pid_cell(const Json& v) {
  if (v.is_number() && v.get<double>() <= 0) return "-";
  return text_of(v);
}

std::string uptime_cell(const Json& obj) {
  const Json& state = field(obj, "state");
  const Json& up = field(obj, "uptime_s");
  if (!up.is_number() || up.get<double>() < 0) return text_of(up);
  if (state.is_string() && (state == "stopped" || state == "failed")) return "-";
  return format_duration(static_cast<std::uint64_t>(up.get<double>()));
}

std::vector<std::string> module_row(const Json& m) {
  return {text_of(field(m, "name")),     text_of(field(m, "state")), pid_cell(field(m, "pid")),
          text_of(field(m, "restarts")), uptime_cell(m),            text_of(field(m, "msgs"))};
}

}  // namespace

std::string render_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()), 0);
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

Result<std::string> render_module_table(std::string_view json_text) {
  Json doc = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return make_error(500, "the module list is not valid JSON");
  if (!doc.is_array()) return make_error(500, "the module list is not a JSON array");
  std::vector<std::vector<std::string>> rows{{"NAME", "STATE", "PID", "RESTARTS", "UPTIME", "MSGS"}};
  for (const Json& m : doc) {
    if (!m.is_object()) return make_error(500, "the module list holds something other than objects");
    rows.push_back(module_row(m));
  }
  return render_table(rows);
}

}  // namespace portal::tools
