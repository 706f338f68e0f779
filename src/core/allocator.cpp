#include "core/allocator.h"

#include <sys/mman.h>

#include <array>
#include <cstdlib>
#include <vector>

#include "ravel/error.h"

namespace ravel {

namespace {
constexpr int kClasses = 7;  // 64, 128, ..., 4096 bytes
constexpr size_t kMaxSmall = 64u << (kClasses - 1);
constexpr size_t kMaxCachedPerClass = 64;  // bounds what an idle thread keeps

int size_class(size_t nbytes) {
  int c = 0;
  size_t cap = 64;
  while (cap < nbytes) {
    cap <<= 1;
    ++c;
  }
  return c;
}

struct ThreadCache {
  std::array<std::vector<void*>, kClasses> free_lists;
  ~ThreadCache() {
    for (auto& list : free_lists)
      for (void* p : list) std::free(p);
  }
};

ThreadCache& cache() {
  thread_local ThreadCache c;
  return c;
}

// Blocks of 4 MiB and more are 2 MiB aligned and asked to use transparent huge pages (as NumPy
// does): first-touch page faults on 4 KiB pages otherwise cost more than a large add itself.
constexpr size_t kHugeThreshold = size_t{4} << 20, kHugePage = size_t{2} << 20;

void* system_alloc(size_t nbytes) {
  const size_t align = nbytes >= kHugeThreshold ? kHugePage : kAlignment;
  size_t rounded = (std::max<size_t>(nbytes, 1) + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded);
  RAVEL_CHECK(p != nullptr, "out of memory allocating ", nbytes, " bytes");
#ifdef MADV_HUGEPAGE
  if (align == kHugePage) madvise(p, rounded, MADV_HUGEPAGE);  // a hint: failure is harmless
#endif
  return p;
}
}  // namespace

void* allocate_bytes(size_t nbytes) {
  if (nbytes > kMaxSmall) return system_alloc(nbytes);
  int c = size_class(nbytes);
  auto& list = cache().free_lists[c];
  if (!list.empty()) {
    void* p = list.back();
    list.pop_back();
    return p;
  }
  return system_alloc(size_t{64} << c);
}

void deallocate_bytes(void* p, size_t nbytes) {
  if (!p) return;
  if (nbytes <= kMaxSmall) {
    auto& list = cache().free_lists[size_class(nbytes)];
    if (list.size() < kMaxCachedPerClass) {
      list.push_back(p);
      return;
    }
  }
  std::free(p);
}

}  // namespace ravel
