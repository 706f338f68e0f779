// libFuzzer target for ravel's PyTorch state_dict reader (ravel/pytorch.h): every input must
// load or throw ravel::Error -- never crash, hang, leak or trip a sanitizer. The zip layer
// checks CRCs, so mutations of whole files rarely reach the unpickler; the fuzzer therefore
// also reads each input as a bare pickle, zipped with CRCs that fit, next to a storage record
// "0" of 64 bytes. What loads is printed.
#include <cstddef>
#include <cstdint>
#include <string>

#include "io/zip.h"  // (the fuzz objects keep src/ private)
#include "ravel/pytorch.h"

namespace {

void load(const std::string& bytes) {
  try {
    for (const auto& [name, t] : ravel::pytorch_from_bytes(bytes.data(), bytes.size(), "fuzz"))
      (void)t.to_string();
  } catch (const ravel::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  load(input);
  ravel::io::ZipWriter zip("fuzz archive");
  zip.add("archive/data.pkl", input, false);
  zip.add("archive/data/0", std::string(64, '\x01'), false);
  load(zip.finish());
  return 0;
}
