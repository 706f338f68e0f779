// libFuzzer target for ravel's safetensors reader: every input must load or throw ravel::Error --
// never crash, hang, leak or trip a sanitizer. What loads is also printed, written back, and
// must read back identically.
#include <cstddef>
#include <cstdint>
#include <string>

#include "ravel/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    ravel::SafetensorsFile f = ravel::safetensors_from_bytes(data, size, "fuzz input");
    for (const auto& [name, t] : f.tensors) (void)t.to_string();
    std::string bytes = ravel::to_safetensors_bytes(f.tensors, f.metadata);
    ravel::SafetensorsFile back = ravel::safetensors_from_bytes(bytes.data(), bytes.size());
    if (back.metadata != f.metadata ||
        ravel::to_safetensors_bytes(back.tensors, back.metadata) != bytes)
      __builtin_trap();  // a write/read round trip must be exact
  } catch (const ravel::Error&) {
  }
  return 0;
}
