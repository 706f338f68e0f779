#include "core/allocator.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

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
// The thread's lists: not yet used, in use (the reaper will free them), or reaped -- blocks
// freed later in the thread's exit (by thread-locals destroyed after the reaper) go to free().
enum ReaperState : unsigned char { kUnarmed, kArmed, kReaped };
thread_local ReaperState tls_reaper_state = kUnarmed;
struct FreeListsReaper {
  ~FreeListsReaper() {
    for (int c = 0; c < kClasses; ++c) {
      for (int i = 0; i < tls_lists.count[c]; ++i) std::free(tls_lists.slots[c][i]);
      tls_lists.count[c] = 0;
    }
    tls_reaper_state = kReaped;
  }
};

void arm_reaper() {
  thread_local FreeListsReaper reaper;
  tls_reaper_state = kArmed;
}

// Blocks of 4 MiB and more are 2 MiB aligned and asked to use transparent huge pages (as NumPy
// does): first-touch page faults on 4 KiB pages otherwise cost more than a large add itself.
constexpr size_t kHugeThreshold = size_t{4} << 20, kHugePage = size_t{2} << 20;

// A block larger than the machine's memory could never be used: say so, instead of leaving it
// to the system (or a sanitizer, which aborts) to fail on an absurd size from a corrupt file.
size_t physical_memory() {
  static const size_t bytes =
      static_cast<size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<size_t>(sysconf(_SC_PAGE_SIZE));
  return bytes;
}

void* system_alloc(size_t nbytes) {
  RAVEL_CHECK(nbytes <= physical_memory(), "cannot allocate ", nbytes, " bytes (", nbytes >> 30,
              " GiB): more than this machine's memory (", physical_memory() >> 30, " GiB)");
  const size_t align = nbytes >= kHugeThreshold ? kHugePage : kAlignment;
  size_t rounded = (std::max<size_t>(nbytes, 1) + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded);
  RAVEL_CHECK(p != nullptr, "out of memory allocating ", nbytes, " bytes");
#ifdef MADV_HUGEPAGE
  if (align == kHugePage) madvise(p, rounded, MADV_HUGEPAGE);  // a hint: failure is harmless
#endif
  return p;
}

// Large blocks are cached for reuse, shared by all threads: a training step frees and
// re-allocates the same activation sizes every iteration, and a fresh block from the system
// costs page faults that zero every page again (measured: 18% of a ResNet-20 step). Sizes are
// rounded up to 4 steps per power of two, so a freed block serves later requests of nearby
// sizes; the cache holds at most kCacheLimit bytes and frees what does not fit.
constexpr size_t kCacheLimit = size_t{1} << 30;

size_t large_size(size_t nbytes) {
  int top = 63 - __builtin_clzll(nbytes - 1);  // 2^top < nbytes <= 2^(top+1)
  size_t step = size_t{1} << (top - 2);
  return (nbytes + step - 1) / step * step;
}

struct LargeCache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;  // by large_size
  size_t cached_bytes = 0;
};
LargeCache& large_cache() {
  static LargeCache* cache = new LargeCache;  // never destroyed: threads may free at exit
  return *cache;
}

void* large_alloc(size_t nbytes) {
  size_t size = large_size(nbytes);
  LargeCache& lc = large_cache();
  {
    std::lock_guard<std::mutex> lock(lc.mu);
    auto it = lc.free_blocks.find(size);
    if (it != lc.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      lc.cached_bytes -= size;
      return p;
    }
  }
  return system_alloc(size);
}

void large_free(void* p, size_t nbytes) {
  size_t size = large_size(nbytes);
  LargeCache& lc = large_cache();
  {
    std::lock_guard<std::mutex> lock(lc.mu);
    if (lc.cached_bytes + size <= kCacheLimit) {
      lc.free_blocks[size].push_back(p);
      lc.cached_bytes += size;
      return;
    }
  }
  std::free(p);
}
}  // namespace

void* allocate_bytes(size_t nbytes) {
  if (nbytes > kMaxSmall) return large_alloc(nbytes);
  int c = size_class(nbytes);
  FreeLists& fl = tls_lists;
  if (fl.count[c] > 0) return fl.slots[c][--fl.count[c]];
  return system_alloc(size_t{64} << c);
}

void deallocate_bytes(void* p, size_t nbytes) {
  if (!p) return;
  if (nbytes > kMaxSmall) return large_free(p, nbytes);
  int c = size_class(nbytes);
  FreeLists& fl = tls_lists;
  if (fl.count[c] < kSlots && tls_reaper_state != kReaped) {
    if (tls_reaper_state == kUnarmed) [[unlikely]]
      arm_reaper();
    fl.slots[c][fl.count[c]++] = p;
    return;
  }
  std::free(p);
}

}  // namespace ravel
