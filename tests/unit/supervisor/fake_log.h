// One line per event, appended to $FAKE_LOG with a single write (O_APPEND keeps lines from
// several processes whole), prefixed with CLOCK_MONOTONIC microseconds.
#pragma once

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

inline unsigned long long fake_mono_us() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<unsigned long long>(ts.tv_sec) * 1000000ull + static_cast<unsigned long long>(ts.tv_nsec) / 1000;
}

inline void fake_log(const std::string& text) {
  const char* path = std::getenv("FAKE_LOG");
  if (!path) return;
  int fd = ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  std::string line = std::to_string(fake_mono_us()) + " " + text + "\n";
  ssize_t rc = ::write(fd, line.data(), line.size());
  (void)rc;
  ::close(fd);
}
