// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON {"name": {"dtype": "F32", "shape": [..],
// "data_offsets": [begin, end]}, ..., "__metadata__": {"key": "text"}}, then the raw
// little-endian tensor data. What ravel writes, the Python safetensors library and other tools
// read, and the other way round.
//
//   ravel::save_safetensors("w.safetensors", {{"fc.weight", w}, {"fc.bias", b}},
//                           {{"framework", "ravel"}});
//   ravel::SafetensorsFile f = ravel::load_safetensors("w.safetensors");
//   Tensor w2 = f.get("fc.weight");
//
// dtypes: BOOL U8 I8 I16 I32 I64 F16 BF16 F32 F64 (others -- U16, U32, U64, F8 -- throw naming
// the dtype). Tensors are written in the order given, packed back to back (the format allows no
// gaps), after a header padded with spaces so the data section starts at a multiple of 8 (as
// the reference writer does). Reading checks everything a hostile file could get wrong --
// header length beyond the file or above the format's 100 MB limit, invalid JSON, nesting,
// wrong JSON types (metadata values must be strings), duplicate keys, unknown dtypes, negative
// dims, shape products that overflow or disagree with the offsets, data ranges that overlap,
// leave gaps or run past the end -- and throws ravel::Error naming the source and the problem
// (the reader is fuzzed). As in the reference reader, header entries may come in any order
// (their offsets place them) and unknown fields in a tensor entry are ignored. Files are
// written to a temporary file in the same directory and renamed into place, so a crash
// mid-save leaves the previous file intact.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ravel/tensor.h"

namespace ravel {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct SafetensorsFile {
  NamedTensors tensors;  // in data order
  std::map<std::string, std::string> metadata;
  // The tensor of that name; throws naming the name when absent.
  const Tensor& get(const std::string& name) const;
  bool contains(const std::string& name) const;
};

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});
SafetensorsFile load_safetensors(const std::string& path);
std::string to_safetensors_bytes(const NamedTensors& tensors,
                                 const std::map<std::string, std::string>& metadata = {});
SafetensorsFile safetensors_from_bytes(const void* data, size_t size,
                                       const std::string& what = "safetensors data");

}  // namespace ravel
