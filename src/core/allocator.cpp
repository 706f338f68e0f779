#include "core/allocator.h"

#include <sys/mman.h>

#include <cstdlib>

#include "ravel/error.h"

namespace ravel {

namespace {
constexpr int kClasses = 7;  // 64, 128, ..., 4096 bytes
constexpr size_t kMaxSmall = size_t{64} << (kClasses - 1);
constexpr int kSlots = 64;  // blocks an idle thread keeps per class

int size_class(size_t nbytes) {
  return nbytes <= 64 ? 0 : 58 - __builtin_clzll(nbytes - 1);  // ceil(log2(nbytes)) - 6
}

// Per-thread free lists. The slots are plain data (no TLS init guard on the hot path); a
// separate object, created with the thread's first cached block, frees them at thread exit.
struct FreeLists {
  void* slots[kClasses][kSlots];
  int count[kClasses];
};
thread_local FreeLists tls_lists;  // zero-initialised
struct FreeListsReaper {
  ~FreeListsReaper() {
    for (int c = 0; c < kClasses; ++c) {
      for (int i = 0; i < tls_lists.count[c]; ++i) std::free(tls_lists.slots[c][i]);
      tls_lists.count[c] = 0;
    }
  }
};
thread_local bool tls_reaper_armed = false;

void arm_reaper() {
  thread_local FreeListsReaper reaper;
  tls_reaper_armed = true;
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
  FreeLists& fl = tls_lists;
  if (fl.count[c] > 0) return fl.slots[c][--fl.count[c]];
  return system_alloc(size_t{64} << c);
}

void deallocate_bytes(void* p, size_t nbytes) {
  if (!p) return;
  if (nbytes <= kMaxSmall) {
    int c = size_class(nbytes);
    FreeLists& fl = tls_lists;
    if (fl.count[c] < kSlots) {
      if (!tls_reaper_armed) [[unlikely]]
        arm_reaper();
      fl.slots[c][fl.count[c]++] = p;
      return;
    }
  }
  std::free(p);
}

}  // namespace ravel
