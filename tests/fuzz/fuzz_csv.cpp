// libFuzzer target for ravel's CSV reader: every input must load or throw ravel::Error. Each
// input is read with several options (header or not, label column by index or name, classes or
// values, another delimiter), like CorpusLoadsOrThrows in tests/data/readers_test.cpp.
#include <cstddef>
#include <cstdint>
#include <string>

#include "ravel/data/readers.h"

namespace {

void read(const std::string& text, const ravel::data::CsvOptions& options) {
  try {
    ravel::data::CsvTable t = ravel::data::csv_from_string(text, options, "fuzz input");
    if (t.labels.defined() && t.labels.size(0) != t.features.size(0)) __builtin_trap();
    if (static_cast<int64_t>(t.feature_names.size()) != t.features.size(1)) __builtin_trap();
    (void)t.features.to_string();
  } catch (const ravel::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  for (bool header : {true, false})
    for (const char* label : {"", "0", "-1", "label"}) read(text, {header, ',', label, true});
  read(text, {true, ';', "-1", false});
  return 0;
}
