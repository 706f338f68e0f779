// libFuzzer target for ravel's .npy/.npz readers: every input must load or throw ravel::Error —
// never crash, hang, leak or trip a sanitizer. A loaded array is also printed and written back,
// and must read back identically.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "ravel/io.h"

namespace {

void check_loaded(const ravel::Tensor& t) {
  (void)t.to_string();
  std::string bytes = ravel::to_npy_bytes(t);
  ravel::Tensor back = ravel::from_npy_bytes(bytes.data(), bytes.size(), "round trip");
  if (back.shape() != t.shape() || back.dtype() != t.dtype() || ravel::to_npy_bytes(back) != bytes)
    __builtin_trap();  // a write/read round trip must be exact
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    check_loaded(ravel::from_npy_bytes(data, size, "fuzz input"));
  } catch (const ravel::Error&) {
  }
  try {
    for (const auto& [name, t] : ravel::from_npz_bytes(data, size, "fuzz input")) check_loaded(t);
  } catch (const ravel::Error&) {
  }
  return 0;
}
