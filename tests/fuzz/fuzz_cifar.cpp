// libFuzzer target for ravel's CIFAR binary reader, as CIFAR-10 (one label byte a record) and
// CIFAR-100 (coarse and fine label bytes): every input must load or throw ravel::Error.
#include <cstddef>
#include <cstdint>

#include "ravel/data/readers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int specs[][2] = {{1, 0}, {2, 0}, {2, 1}};  // labels_per_record, label_index
  for (const auto& [per_record, index] : specs) {
    try {
      ravel::data::LabelledImages d =
          ravel::data::cifar_from_bytes(data, size, per_record, index, "fuzz input");
      if (d.images.size(0) != d.labels.size(0) || d.num_classes < 1) __builtin_trap();
    } catch (const ravel::Error&) {
    }
  }
  return 0;
}
