// Per-thread crash guard for module code running inside a host process (isolation =
// inprocess, DESIGN.md 4). A fault (SIGSEGV, SIGBUS, SIGFPE, SIGILL) raised on a thread
// that is inside run_guarded() jumps back to that call; a fault anywhere else keeps its
// default action (the process dies with a core dump). Each guarded thread gets an
// alternate signal stack, so a stack overflow is caught too.
//
// A caught fault leaks whatever the guarded code held (locks, heap, half-built objects):
// the caller must never run that module's code again.
#pragma once

#include <string>

namespace portal::host {

// Installs the process-wide handler; later calls do nothing. run_guarded() calls it.
void install_crash_handler();

// Runs fn(arg) on the calling thread under the guard. Returns 0, or the number of the
// signal that was caught. Guards nest (an in-process call that reaches another in-process
// module on the same thread); C++ exceptions pass through unchanged.
int run_guarded(void (*fn)(void*), void* arg);

template <class F>
int run_guarded(F& f) {
  return run_guarded([](void* p) { (*static_cast<F*>(p))(); }, &f);
}

// "signal 11 (Segmentation fault)".
std::string describe_signal(int sig);

}  // namespace portal::host
