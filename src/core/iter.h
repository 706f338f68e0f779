// Internal: the strided loop behind every elementwise op, cast and copy.
//
// TensorIter takes up to kMaxOperands tensors of one shape (inputs already broadcast with
// expand(), so broadcast axes have stride 0), merges axes that are contiguous for every operand,
// and calls loop(char** ptrs, const int64_t* byte_strides, int64_t n) on 1-D runs of the
// innermost axis. Large iterations are split across threads by linear index.
//
//   TensorIter it({&out, &a, &b});
//   map_kernel<float, float, float>(it, [](float x, float y) { return x + y; });
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <tuple>
#include <utility>

#include "core/parallel.h"
#include "ravel/tensor.h"

namespace ravel {

inline constexpr int kMaxOperands = 4;

class TensorIter {
 public:
  // All operands must have the same shape; operand 0 is usually the output.
  TensorIter(std::initializer_list<const Tensor*> operands);

  int64_t numel() const { return numel_; }
  int noperands() const { return nops_; }
  const Shape& shape() const { return shape_; }  // after merging axes
  const Shape& byte_strides(int op) const { return strides_[op]; }
  bool is_contiguous() const { return contiguous_; }  // one run covers everything

  template <typename Loop>
  void for_each(Loop&& loop, int64_t grain = kParallelGrain) const {
    if (numel_ == 0) return;
    if (contiguous_) {  // fast path: one flat run, split by threads when large
      parallel_for(numel_, grain, [&](int64_t b, int64_t e) {
        char* p[kMaxOperands];
        for (int k = 0; k < nops_; ++k) p[k] = base_[k] + b * inner_stride_[k];
        loop(p, inner_stride_.data(), e - b);
      });
      return;
    }
    parallel_for(numel_, grain, [&](int64_t b, int64_t e) { run_range(b, e, loop); });
  }

 private:
  template <typename Loop>
  void run_range(int64_t begin, int64_t end, Loop& loop) const {
    const size_t nd = shape_.size();
    const int64_t inner = shape_[nd - 1];
    Shape idx(nd, 0);
    int64_t rem = begin;
    for (size_t d = nd; d-- > 0;) {
      idx[d] = rem % shape_[d];
      rem /= shape_[d];
    }
    char* p[kMaxOperands];
    int64_t pos = begin;
    while (pos < end) {
      for (int k = 0; k < nops_; ++k) {
        char* q = base_[k];
        for (size_t d = 0; d < nd; ++d) q += idx[d] * strides_[k][d];
        p[k] = q;
      }
      int64_t n = std::min(inner - idx[nd - 1], end - pos);
      loop(p, inner_stride_.data(), n);
      pos += n;
      idx[nd - 1] += n;
      for (size_t d = nd - 1; d > 0 && idx[d] == shape_[d]; --d) {
        idx[d] = 0;
        ++idx[d - 1];
      }
    }
  }

  int nops_ = 0;
  int64_t numel_ = 0;
  bool contiguous_ = false;
  Shape shape_;
  std::array<Shape, kMaxOperands> strides_;
  std::array<char*, kMaxOperands> base_{};
  std::array<int64_t, kMaxOperands> inner_stride_{};
};

// Applies f elementwise: out[i] = f(in0[i], in1[i], ...). Operand 0 of `it` is the output of
// type Out, then one operand per In. Contiguous runs get a plain loop the compiler vectorises.
template <typename Out, typename... In, typename F>
void map_kernel(const TensorIter& it, F&& f, int64_t grain = kParallelGrain) {
  it.for_each(
      [&](char** p, const int64_t* s, int64_t n) {
        [&]<size_t... I>(std::index_sequence<I...>) {
          Out* out = reinterpret_cast<Out*>(p[0]);
          bool contiguous = s[0] == static_cast<int64_t>(sizeof(Out)) &&
                            ((s[I + 1] == static_cast<int64_t>(sizeof(In))) && ...);
          if (contiguous) {
            std::tuple<const In*...> in{reinterpret_cast<const In*>(p[I + 1])...};
            for (int64_t i = 0; i < n; ++i) out[i] = f(std::get<I>(in)[i]...);
          } else {
            for (int64_t i = 0; i < n; ++i) {
              *reinterpret_cast<Out*>(p[0] + i * s[0]) =
                  f(*reinterpret_cast<const In*>(p[I + 1] + i * s[I + 1])...);
            }
          }
        }
        (std::index_sequence_for<In...>{});
      },
      grain);
}

}  // namespace ravel
