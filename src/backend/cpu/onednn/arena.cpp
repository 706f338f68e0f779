#include "backend/cpu/onednn/arena.h"

#include <algorithm>
#include <utility>

namespace ravel::onednn {

size_t place_in_arena(std::vector<ArenaBuffer>& buffers) {
  std::vector<size_t> order(buffers.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return buffers[a].size > buffers[b].size; });
  const size_t align = 64;
  size_t total = 0;
  std::vector<size_t> placed;
  for (size_t i : order) {
    ArenaBuffer& b = buffers[i];
    std::vector<std::pair<size_t, size_t>> busy;
    for (size_t j : placed) {
      const ArenaBuffer& o = buffers[j];
      if (o.first <= b.last && b.first <= o.last) busy.emplace_back(o.offset, o.offset + o.size);
    }
    std::sort(busy.begin(), busy.end());
    size_t off = 0;
    for (const auto& [lo, hi] : busy) {
      if (off + b.size <= lo) break;
      off = std::max(off, (hi + align - 1) / align * align);
    }
    b.offset = off;
    total = std::max(total, off + b.size);
    placed.push_back(i);
  }
  return total;
}

}  // namespace ravel::onednn
