// NumPy's .npy and .npz files: what NumPy writes, ravel reads, and the other way round.
//
//   ravel::save_npy("x.npy", x);
//   Tensor y = ravel::load_npy("x.npy");
//   ravel::save_npz("w.npz", {{"w", w}, {"b", b}}, /*compressed=*/true);
//   auto arrays = ravel::load_npz("w.npz");          // std::map<std::string, Tensor>
// Malformed or truncated files throw ravel::Error naming the file and what was wrong.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "ravel/tensor.h"

namespace ravel {

void save_npy(const std::string& path, const Tensor& t, bool fortran_order = false);
Tensor load_npy(const std::string& path);
std::string to_npy_bytes(const Tensor& t, bool fortran_order = false);
Tensor from_npy_bytes(const void* data, size_t size, const std::string& what = "npy data");

void save_npz(const std::string& path, const std::map<std::string, Tensor>& arrays,
              bool compressed = false);
std::map<std::string, Tensor> load_npz(const std::string& path);
std::map<std::string, Tensor> from_npz_bytes(const void* data, size_t size,
                                             const std::string& what = "npz data");

}  // namespace ravel
