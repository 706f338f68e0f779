// Internal: places buffers with known lifetimes in one arena (the frozen inference and compiled
// training programs plan all their activation memory this way at compile time).
#pragma once
#include <cstddef>
#include <vector>

namespace ravel::onednn {

struct ArenaBuffer {
  size_t size = 0, offset = 0;
  int first = 0, last = 0;  // the first and last exec that touches it
};

// Sets every buffer's offset (64-byte aligned): largest first, each at the lowest offset free of
// the buffers whose lifetimes overlap its own. Returns the arena's size in bytes.
size_t place_in_arena(std::vector<ArenaBuffer>& buffers);

}  // namespace ravel::onednn
