#include "commands.h"

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>

#include "module_table.h"

namespace portal::tools {

namespace {

constexpr std::chrono::milliseconds kMaxConnectWait{5000};

int fail(std::FILE* err, const std::string& message, int code) {
  std::fprintf(err, "portalctl: %s\n", message.c_str());
  return code;
}

Result<std::string> read_body_file(const std::string& file) {
  if (file == "-") {
    std::string body;
    char buf[64 * 1024];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), stdin)) > 0) body.append(buf, n);
    if (std::ferror(stdin)) return make_error(kExitUsage, "cannot read the body from stdin");
    return body;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error(kExitUsage, "cannot read " + file + ": " + std::system_category().message(errno));
  std::ostringstream body;
  body << in.rdbuf();
  if (in.bad()) return make_error(kExitUsage, "cannot read " + file);
  return std::move(body).str();
}

void write_all(std::FILE* out, std::string_view data) {
  if (!data.empty()) std::fwrite(data.data(), 1, data.size(), out);
  std::fflush(out);
}

int print_response(const Options& o, const Response& r, std::FILE* out) {
  if (o.verbose) std::fprintf(out, "%d\n", r.status);
  write_all(out, r.body);
  return r.ok() ? kExitOk : kExitFailed;
}

int print_module_list(const Options& o, const Response& r, std::FILE* out, std::FILE* err) {
  if (o.verbose) std::fprintf(out, "%d\n", r.status);
  if (!r.ok()) {
    write_all(err, r.body);
    return kExitFailed;
  }
  Result<std::string> table = render_module_table(r.body);
  if (!table) return fail(err, table.error().message, kExitFailed);
  write_all(out, *table);
  return kExitOk;
}

}  // namespace

Result<CtlRequest> build_request(const Options& o) {
  CtlRequest req;
  req.method = command_method(o.command);
  req.credentials = o.credentials;
  req.headers = o.headers;
  switch (o.command) {
    case Command::module_list:
      req.path = "/core/modules";
      req.headers.push_back({"format", "json"});
      break;
    case Command::module_action:
      req.path = "/core/modules/" + o.module;
      req.headers.push_back({"action", o.action});
      break;
    default:
      req.path = o.path;
      break;
  }
  if (o.body) req.body = *o.body;
  if (o.body_file) {
    Result<std::string> body = read_body_file(*o.body_file);
    if (!body) return body.error();
    req.body = std::move(*body);
  }
  return req;
}

int run(const Options& o, const EnvLookup& env, std::FILE* out, std::FILE* err) {
  Result<CtlRequest> req = build_request(o);
  if (!req) return fail(err, req.error().message, kExitUsage);
  Result<std::string> socket = resolve_socket(o, env);
  if (!socket) return fail(err, socket.error().message, kExitUsage);
  auto client = CtlClient::connect(*socket, {.connect_timeout = std::min(o.timeout, kMaxConnectWait)});
  if (!client) return fail(err, client.error().message, kExitConnect);
  Result<Response> resp = (*client)->request(std::move(*req), o.timeout);
  if (!resp) return fail(err, resp.error().message, kExitFailed);
  if (o.command == Command::module_list && !o.json) return print_module_list(o, *resp, out, err);
  return print_response(o, *resp, out);
}

}  // namespace portal::tools
