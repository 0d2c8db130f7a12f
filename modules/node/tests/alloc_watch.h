// Watches the largest single allocation made through operator new while it lives, so a test
// can show that a length field never becomes an allocation of that size. alloc_watch.cc
// replaces the global operator new of the test binary that links it.
#pragma once

#include <cstddef>

namespace portal::node::test {

class AllocationWatch {
 public:
  AllocationWatch();
  ~AllocationWatch();
  AllocationWatch(const AllocationWatch&) = delete;
  AllocationWatch& operator=(const AllocationWatch&) = delete;
  std::size_t largest() const;
};

}  // namespace portal::node::test
