#include "router/store/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace portal::store {

namespace {

Error sys_error(const std::string& what, const std::string& path) {
  return make_error(500, path + ": " + what + ": " + std::strerror(errno));
}

std::string random_suffix() {
  unsigned char bytes[8];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  // O_EXCL makes a collision an error, never a shared file, so a weak fallback is safe.
  if (got < sizeof bytes) {
    auto v = static_cast<unsigned long long>(getpid()) ^ static_cast<unsigned long long>(time(nullptr));
    std::memcpy(bytes, &v, sizeof bytes);
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += hex[b >> 4];
    out += hex[b & 0xf];
  }
  return out;
}

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

Status fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return sys_error("open directory", dir);
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  errno = saved;
  if (rc != 0) return sys_error("fsync directory", dir);
  return {};
}

}  // namespace

// Only names write_file_atomic makes: "<file>.tmp.<hex>", never a store file such as
// "a.tmp.b.conf" (a valid user name).
bool is_temporary_name(std::string_view name) {
  std::size_t at = name.rfind(".tmp.");
  if (at == std::string_view::npos || at == 0 || at + 5 == name.size()) return false;
  for (char c : name.substr(at + 5))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Status write_file_atomic(const std::string& path, std::string_view contents, unsigned mode) {
  std::string tmp = path + ".tmp." + random_suffix();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return sys_error("create", tmp);
  auto fail = [&](const char* what) {
    Error e = sys_error(what, tmp);
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  };
  if (::fchmod(fd, mode) != 0) return fail("chmod");
  if (!write_all(fd, contents)) return fail("write");
  if (::fsync(fd) != 0) return fail("fsync");
  int rc = ::close(fd);
  fd = -1;
  if (rc != 0) return fail("close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("rename");
  return fsync_dir(parent_dir(path));
}

Status ensure_private_dir(const std::string& dir, unsigned mode) {
  if (::mkdir(dir.c_str(), mode) == 0) {
    if (::chmod(dir.c_str(), mode) != 0) return sys_error("chmod", dir);
    return {};
  }
  if (errno != EEXIST) return sys_error("mkdir", dir);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return sys_error("stat", dir);
  if (!S_ISDIR(st.st_mode)) return make_error(500, dir + ": exists and is not a directory");
  if ((st.st_mode & 07777) != mode && ::chmod(dir.c_str(), mode) != 0) return sys_error("chmod", dir);
  return {};
}

int remove_stale_temporaries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  int removed = 0;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (!is_temporary_name(name)) continue;
    if (::unlink((dir + "/" + std::string(name)).c_str()) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

Result<std::string> read_whole_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(errno == ENOENT ? 404 : 500, path + ": " + std::strerror(errno));
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Error e = sys_error("read", path);
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace portal::store
