// Internal: 64-byte aligned host memory. Small blocks (<= 4 KiB) are recycled through per-thread
// free lists, because glibc's aligned_alloc costs ~60 ns and a 16-element op must cost less than
// that in total. Larger blocks are cached process-wide by size (up to 1 GiB) and reused, so a
// training loop stops paying page faults for its activations after the first step.
#pragma once
#include <cstddef>

namespace ravel {

inline constexpr size_t kAlignment = 64;

void* allocate_bytes(size_t nbytes);            // never null: throws ravel::Error
void deallocate_bytes(void* p, size_t nbytes);  // nbytes as passed to allocate_bytes

// std::allocator-compatible front to the same free lists, for allocate_shared of the small
// objects every op creates (TensorImpl, Storage).
template <typename T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() = default;
  template <typename U>
  PoolAllocator(const PoolAllocator<U>&) {}  // NOLINT
  T* allocate(size_t n) { return static_cast<T*>(allocate_bytes(n * sizeof(T))); }
  void deallocate(T* p, size_t n) { deallocate_bytes(p, n * sizeof(T)); }
  friend bool operator==(const PoolAllocator&, const PoolAllocator&) { return true; }
};

}  // namespace ravel
