#include "host/crash_guard.h"

#include <signal.h>
#include <string.h>
#include <sys/mman.h>

#include <csetjmp>
#include <mutex>

namespace portal::host {

namespace {

constexpr int kFaultSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
constexpr std::size_t kAltStackBytes = 64 * 1024;

// The innermost active guard of this thread. Trivial type in the executable's TLS block:
// reading it from the signal handler needs no allocation.
thread_local sigjmp_buf* t_jump = nullptr;

// This thread's alternate signal stack, released when the thread ends.
struct AltStack {
  void* mem = nullptr;
  ~AltStack() {
    if (!mem) return;
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    ::sigaltstack(&off, nullptr);
    ::munmap(mem, kAltStackBytes);
  }
};
thread_local AltStack t_alt_stack;

void ensure_alt_stack() {
  if (t_alt_stack.mem) return;
  stack_t cur{};
  if (::sigaltstack(nullptr, &cur) == 0 && !(cur.ss_flags & SS_DISABLE)) return;  // someone set one
  void* mem = ::mmap(nullptr, kAltStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return;  // still guarded, only not against stack overflow
  stack_t st{};
  st.ss_sp = mem;
  st.ss_size = kAltStackBytes;
  if (::sigaltstack(&st, nullptr) != 0) {
    ::munmap(mem, kAltStackBytes);
    return;
  }
  t_alt_stack.mem = mem;
}

void on_fault(int sig, siginfo_t*, void*) {
  sigjmp_buf* jump = t_jump;
  if (jump) {
    t_jump = nullptr;
    ::siglongjmp(*jump, sig);
  }
  // Not inside a guarded call: let the default action happen. A re-executed faulting
  // instruction faults again; a signal sent with kill() is raised again here.
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
  ::raise(sig);
}

void install_once() {
  struct sigaction sa{};
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (int sig : kFaultSignals) ::sigaction(sig, &sa, nullptr);
}

}  // namespace

void install_crash_handler() {
  static std::once_flag once;
  std::call_once(once, install_once);
}

int run_guarded(void (*fn)(void*), void* arg) {
  install_crash_handler();
  ensure_alt_stack();
  sigjmp_buf jump;
  sigjmp_buf* const outer = t_jump;
  // savemask = 1: the signal, blocked while its handler runs, is unblocked again on return.
  int sig = sigsetjmp(jump, 1);
  if (sig != 0) {
    t_jump = outer;
    return sig;
  }
  t_jump = &jump;
  try {
    fn(arg);
  } catch (...) {
    t_jump = outer;
    throw;
  }
  t_jump = outer;
  return 0;
}

std::string describe_signal(int sig) {
  const char* name = ::strsignal(sig);
  return "signal " + std::to_string(sig) + " (" + (name ? name : "unknown") + ")";
}

}  // namespace portal::host
