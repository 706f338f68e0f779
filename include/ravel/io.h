// NumPy's .npy and .npz files: what NumPy writes, ravel reads, and the other way round.
//
//   ravel::save_npy("x.npy", x);
//   Tensor y = ravel::load_npy("x.npy");
//   ravel::save_npz("w.npz", {{"w", w}, {"b", b}}, /*compressed=*/true);
//   auto arrays = ravel::load_npz("w.npz");          // std::map<std::string, Tensor>
// Malformed or truncated files throw ravel::Error naming the file and what was wrong; sizes are
// checked against the bytes really there before anything is allocated (the readers are fuzzed,
// tests/fuzz/). Files are written to a temporary file in the same directory, then renamed.
//
// Formats and dtypes:
// - Reads npy versions 1.0, 2.0 and 3.0; writes 1.0 (2.0 when the header needs it), the header
//   padded so the data is 64-byte aligned, as NumPy does.
// - Reads descrs b1, i1/i2/i4/i8, u1, f2/f4/f8 in either byte order ('<', '>', '|', '='; big-endian
//   data is byte-swapped). Differences from NumPy: uint16 ('u2') and uint32 ('u4') load widened
//   losslessly to int32 / int64 (ravel has no such dtypes); uint64, complex, strings, objects,
//   datetimes and structured dtypes throw an Error naming the descr.
// - bfloat16 has no NumPy descr: it is saved as float32 ('<f4', exact widening) and so loads back
//   as float32.
// - fortran_order: saving with fortran_order=true writes the data in Fortran order (any input
//   layout); a Fortran-order file loads as a transposed view of contiguous data (like NumPy's
//   F-contiguous array), values and shape as saved.
// - npz: a zip of '<name>.npy' members, stored or deflated (compressed=true); reads what
//   numpy.savez / savez_compressed write (zip64 extra fields included) and checks each member's
//   CRC-32. Writing does not produce zip64, so one member or the archive must stay below 4 GiB.
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
