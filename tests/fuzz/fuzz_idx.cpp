// libFuzzer target for ravel's IDX reader (plain and gzip): every input must load or throw
// ravel::Error -- never crash, hang, leak, trip a sanitizer or allocate more than the input can
// hold (a gzip stream inflates at most 1032:1, so a 4 KiB input allocates at most ~4 MiB).
#include <cstddef>
#include <cstdint>

#include "ravel/data/readers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    ravel::Tensor t = ravel::data::idx_from_bytes(data, size, "fuzz input");
    (void)t.to_string();
  } catch (const ravel::Error&) {
  }
  return 0;
}
