// Deterministic mutations of a valid file, for the loaders' in-CI fuzz tests: mutation m of a
// seed truncates it, flips bytes, overwrites its header fields, inserts a random run or deletes
// a run (m % 5 picks which), so a few hundred mutations per seed cover each kind.
//
//   std::mt19937 gen(1234);
//   for (int m = 0; m < 300; ++m) {
//     std::string s = testing::mutate(seed, m, gen, {.field_start = 16, .field_span = 200});
//     try { load(s); } catch (const ravel::Error&) {}   // anything else fails the test
//   }
#pragma once
#include <algorithm>
#include <cstddef>
#include <random>
#include <string>

namespace ravel::testing {

struct MutationOptions {
  size_t field_start = 0;  // where the header's size fields begin
  size_t field_span = 16;  // how far they may reach
  int field_writes = 2;    // bytes overwritten there by one mutation
};

inline std::string mutate(std::string s, int m, std::mt19937& gen, const MutationOptions& o) {
  auto pick = [&](size_t n) { return n ? gen() % n : 0; };
  switch (m % 5) {
    case 0:
      s.resize(pick(s.size()));
      break;
    case 1:
      for (int k = 0; k < 1 + m % 4; ++k) s[pick(s.size())] ^= static_cast<char>(1 + gen() % 255);
      break;
    case 2:
      for (int k = 0; k < o.field_writes; ++k)
        s[std::min(s.size() - 1, o.field_start + pick(o.field_span))] = static_cast<char>(gen());
      break;
    case 3: {
      std::string run(1 + pick(16), '\0');
      for (auto& ch : run) ch = static_cast<char>(gen());
      s.insert(pick(s.size()), run);
      break;
    }
    default:
      s.erase(pick(s.size()), 1 + pick(8));
      break;
  }
  return s;
}

}  // namespace ravel::testing
