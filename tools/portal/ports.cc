#include "ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "common/ini.h"

namespace portal::instance {

namespace fs = std::filesystem;

namespace {

bool bindable(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

void collect(const fs::path& file, std::set<std::uint16_t>& out) {
  auto ini = config::load_ini_file(file.string());
  if (!ini) return;
  for (const auto& e : ini->entries()) {
    if (e.key != "port" && e.key != "tls_port" && e.key != "listen_port") continue;
    char* end = nullptr;
    unsigned long v = std::strtoul(e.value.c_str(), &end, 10);
    if (!e.value.empty() && *end == '\0' && v > 0 && v < 65536) out.insert(static_cast<std::uint16_t>(v));
  }
}

}  // namespace

std::set<std::uint16_t> ports_in_use(const std::string& etc_root) {
  std::set<std::uint16_t> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(etc_root, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec) && it->path().extension() == ".conf") collect(it->path(), out);
  return out;
}

Result<std::uint16_t> pick_port(std::uint16_t base, const std::set<std::uint16_t>& taken) {
  for (std::uint32_t p = base; p < 65536; ++p) {
    auto port = static_cast<std::uint16_t>(p);
    if (!taken.count(port) && bindable(port)) return port;
  }
  return make_error(503, "no free port at or above " + std::to_string(base));
}

}  // namespace portal::instance
