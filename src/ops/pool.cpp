// Pooling: shape rules (PyTorch's, ceil_mode included), then oneDNN for float32 where it computes
// exactly what PyTorch does, else the portable kernels; the backward next to the forward.
// Adaptive pooling runs on oneDNN as an ordinary pool when every input size is a multiple of the
// output size (its windows are then a fixed kernel and stride).
#include "ravel/nn/functional/pool.h"

#include <algorithm>
#include <type_traits>

#include "backend/cpu/onednn/pool.h"  // PoolParams (the functions are only called with oneDNN)
#include "backend/cpu/reference/kernel_types.h"
#include "backend/cpu/reference/pool.h"
#include "backend/cpu/reference/select.h"
#include "graph/trace_hook.h"
#include "ravel/autograd.h"
#include "ravel/ops.h"

namespace ravel::nn::functional {
namespace {

using onednn::PoolAlg;
using onednn::PoolParams;

// What an op computes: one geometry, described for both kernel families.
struct Pool {
  Pool(const char* op_, int nsp_, bool max_, bool count_include_pad_ = true, int64_t divisor_ = 0)
      : op(op_), nsp(nsp_), max(max_), count_include_pad(count_include_pad_), divisor(divisor_) {}
  const char* op;
  int nsp;
  bool max;
  bool count_include_pad;
  int64_t divisor;  // divisor_override; 0: none
  bool batched = true;
  cpu::PoolGeom geom;     // windows, for the portable kernels
  PoolParams params;      // for oneDNN
  bool onednn_ok = true;  // oneDNN computes exactly this (else: portable kernels)
};

// Checks the input's rank and dtype and fills the sizes every pool shares.
void init_pool(Pool& p, const Tensor& input) {
  const int64_t nd = input.ndim();
  RAVEL_CHECK(nd == p.nsp + 1 || nd == p.nsp + 2, p.op, ": expected a ", p.nsp + 1,
              "-D (unbatched) or ", p.nsp + 2, "-D (batched) input, got input of shape ",
              input.shape());
  RAVEL_CHECK(is_floating(input.dtype()), p.op, ": expected a floating-point input, got ",
              dtype_name(input.dtype()));
  p.batched = nd == p.nsp + 2;
  p.params.nsp = p.geom.nsp = p.nsp;
  p.params.n = p.batched ? input.size(0) : 1;
  p.params.c = input.size(p.batched ? 1 : 0);
  p.geom.nc = p.params.n * p.params.c;
  for (int i = 0; i < p.nsp; ++i) {
    const int64_t in = input.size(i + (p.batched ? 2 : 1));
    RAVEL_CHECK(in > 0, p.op, ": expected non-empty spatial axes, got input of shape ",
                input.shape());
    p.params.in[3 - p.nsp + i] = p.geom.in[3 - p.nsp + i] = in;
  }
  p.params.alg = p.max                 ? PoolAlg::Max
                 : p.count_include_pad ? PoolAlg::AvgIncludePad
                                       : PoolAlg::AvgExcludePad;
}

using cpu::with_type;

template <typename T>
bool onednn_forward(const Pool& p, const T* x, T* y, Tensor* workspace) {
#ifdef RAVEL_HAVE_ONEDNN
  if constexpr (std::is_same_v<T, float>)
    return p.onednn_ok && p.geom.nc > 0 && ravel::detail::onednn_enabled() &&
           onednn::pool_forward(x, y, p.params, workspace);
#endif
  return false;
}
template <typename T>
bool onednn_backward(const Pool& p, const T* gy, const Tensor& workspace, T* gx) {
#ifdef RAVEL_HAVE_ONEDNN
  if constexpr (std::is_same_v<T, float>) return onednn::pool_backward(gy, workspace, gx, p.params);
#endif
  return false;
}

Shape out_shape(const Pool& p) {
  Shape s;
  if (p.batched) s.push_back(p.params.n);
  s.push_back(p.params.c);
  for (int i = 3 - p.nsp; i < 3; ++i) s.push_back(p.params.out[i]);
  return s;
}

// Runs the pool p on input and records its backward. Max pooling saves what its backward needs:
// oneDNN's workspace (uint8) or the argmax positions (int64).
Tensor run_pool(const Pool& p, const Tensor& input) {
  const DType dt = input.dtype() == DType::Float64 ? DType::Float64 : DType::Float32;
  const Tensor x = input.to(dt).contiguous();
  const bool needs = autograd::needs_grad(input);
  Tensor y = empty(out_shape(p), dt), aux;
  bool used_onednn = false;
  with_type(dt, [&]<typename T>() {
    const T* xp = x.data_ptr<T>();
    T* yp = y.data_ptr<T>();
    used_onednn = onednn_forward<T>(p, xp, yp, needs ? &aux : nullptr);
    if (used_onednn) return;
    if (p.max) {
      if (needs) aux = empty(y.shape(), DType::Int64);
      cpu::max_pool_forward<T>(xp, yp, needs ? aux.data_ptr<int64_t>() : nullptr, p.geom);
    } else {
      cpu::avg_pool_forward<T>(xp, yp, p.geom, p.count_include_pad, p.divisor);
    }
  });
  if (y.dtype() != input.dtype()) y = y.to(input.dtype());
  if (!needs) return y;
  const Shape in_shape = input.shape();
  std::vector<Tensor> saved;
  if (aux.defined()) saved.push_back(aux);
  autograd::record(
      p.op, {input}, y, saved,
      [p, dt, in_shape, used_onednn](const Tensor& grad, const std::vector<Tensor>& saved) {
        const Tensor gy = grad.to(dt).contiguous();
        const Tensor aux = saved.empty() ? Tensor() : saved[0];
        Tensor gx = empty(in_shape, dt);
        with_type(dt, [&]<typename T>() {
          const T* gyp = gy.data_ptr<T>();
          T* gxp = gx.data_ptr<T>();
          if (used_onednn && onednn_backward<T>(p, gyp, aux, gxp)) return;
          RAVEL_CHECK(!(used_onednn && p.max), p.op, ": internal: oneDNN backward unavailable");
          if (p.max)
            cpu::max_pool_backward<T>(gyp, aux.data_ptr<int64_t>(), gxp, p.geom);
          else
            cpu::avg_pool_backward<T>(gyp, gxp, p.geom, p.count_include_pad, p.divisor);
        });
        return std::vector<Tensor>{gx};
      });
  return y;
}

// PyTorch's output size rule: with ceil_mode the last window must start inside the input or
// its left padding.
int64_t pool_out_size(int64_t in, int64_t k, int64_t s, int64_t pad, int64_t dil, bool ceil) {
  const int64_t span = dil * (k - 1) + 1;
  int64_t num = in + 2 * pad - span + (ceil ? s - 1 : 0);
  int64_t out = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
  if (ceil && (out - 1) * s >= in + pad) --out;
  return out;
}

// The ONNX form of a pool (graph::trace).
void trace_pool(graph::detail::TracedOp& t, const Pool& p, const std::vector<int64_t>& k,
                const std::vector<int64_t>& s, std::vector<int64_t> pad,
                const std::vector<int64_t>& dil, bool ceil_mode) {
  if (!p.batched) return t.unsupported(std::string(p.op) + " on an unbatched input");
  if (p.divisor) return t.unsupported(std::string(p.op) + " with divisor_override");
  t.attr("kernel_shape", k);
  t.attr("strides", s);
  pad.insert(pad.end(), pad.begin(), pad.end());
  t.attr("pads", pad);
  if (ceil_mode) t.attr("ceil_mode", int64_t{1});
  if (p.max) {
    t.attr("dilations", dil);
  } else {
    if (std::any_of(dil.begin(), dil.end(), [](int64_t d) { return d != 1; }))
      return t.unsupported(std::string(p.op) + " with dilation");
    t.attr("count_include_pad", int64_t{p.count_include_pad ? 1 : 0});
  }
}

Tensor pool(Pool p, const Tensor& input, const Ints& kernel_size, const Ints& stride_,
            const Ints& padding, const Ints& dilation, bool ceil_mode) {
  graph::detail::TracedOp traced(p.max ? "MaxPool" : "AveragePool", {input});
  init_pool(p, input);
  const size_t nsp = static_cast<size_t>(p.nsp);
  std::vector<int64_t> k = kernel_size.expand(nsp, p.op, "kernel_size");
  std::vector<int64_t> s = stride_.empty() ? k : stride_.expand(nsp, p.op, "stride");
  std::vector<int64_t> pad = padding.expand(nsp, p.op, "padding");
  std::vector<int64_t> dil = dilation.expand(nsp, p.op, "dilation");
  RAVEL_CHECK(p.divisor >= 0, p.op, ": divisor_override must be positive, got ", p.divisor);
  for (size_t i = 0; i < nsp; ++i) {
    const size_t j = 3 - nsp + i;
    RAVEL_CHECK(k[i] > 0 && s[i] > 0 && dil[i] > 0, p.op,
                ": kernel_size, stride and dilation must be positive");
    RAVEL_CHECK(pad[i] >= 0 && pad[i] <= k[i] / 2, p.op, ": padding ", pad[i],
                " must be non-negative and at most half the kernel size ", k[i]);
    const int64_t in = p.geom.in[j];
    const int64_t out = pool_out_size(in, k[i], s[i], pad[i], dil[i], ceil_mode);
    RAVEL_CHECK(out > 0, p.op, ": input of shape ", input.shape(), " is too small for kernel ",
                k[i], " (dilation ", dil[i], ", padding ", pad[i], "): output size ", out);
    p.geom.out[j] = p.params.out[j] = out;
    p.geom.win[j] = cpu::pool_windows(in, out, k[i], s[i], pad[i], dil[i]);
    p.params.k[j] = k[i];
    p.params.stride[j] = s[i];
    p.params.dil[j] = dil[i];
    p.params.pad_l[j] = pad[i];
    p.params.pad_r[j] = (out - 1) * s[i] + dil[i] * (k[i] - 1) + 1 - in - pad[i];
    // oneDNN counts a window's part past the padding (ceil_mode) in the divisor; PyTorch not.
    if (!p.max && p.count_include_pad && p.params.pad_r[j] > pad[i]) p.onednn_ok = false;
  }
  for (int a = 0; a < 3 - p.nsp; ++a) p.geom.win[a] = {{0, 1, 1, 1}};
  if (p.divisor) p.onednn_ok = false;
  if (traced) trace_pool(traced, p, k, s, pad, dil, ceil_mode);
  return traced.output(run_pool(p, input));
}

Tensor adaptive_pool(Pool p, const Tensor& input, const Ints& output_size) {
  graph::detail::TracedOp traced(p.max ? "MaxPool" : "AveragePool", {input});
  init_pool(p, input);
  const size_t nsp = static_cast<size_t>(p.nsp);
  std::vector<int64_t> out = output_size.expand(nsp, p.op, "output_size");
  for (size_t i = 0; i < nsp; ++i) {
    const size_t j = 3 - nsp + i;
    const int64_t in = p.geom.in[j];
    RAVEL_CHECK(out[i] > 0, p.op, ": output_size must be positive, got ", out[i]);
    p.geom.out[j] = p.params.out[j] = out[i];
    p.geom.win[j] = cpu::adaptive_windows(in, out[i]);
    if (in % out[i] != 0) p.onednn_ok = false;
    p.params.k[j] = p.params.stride[j] = in / out[i];
  }
  for (int a = 0; a < 3 - p.nsp; ++a) p.geom.win[a] = {{0, 1, 1, 1}};
  if (traced) {
    // Global average for 1x1; evenly divisible sizes are a plain pool with kernel = stride.
    std::vector<int64_t> k;
    for (size_t i = 0; i < nsp; ++i) {
      const int64_t in = p.geom.in[3 - nsp + i];
      if (in % out[i] != 0)
        traced.unsupported(std::string(p.op) + " from size " + std::to_string(in) + " to " +
                           std::to_string(out[i]) + " (not a divisor)");
      k.push_back(in / out[i]);
    }
    if (!p.max && std::all_of(out.begin(), out.end(), [](int64_t o) { return o == 1; }))
      traced.set_op("GlobalAveragePool");
    else
      trace_pool(traced, p, k, k, std::vector<int64_t>(nsp, 0), std::vector<int64_t>(nsp, 1),
                 false);
  }
  return traced.output(run_pool(p, input));
}

}  // namespace

Tensor max_pool1d(const Tensor& input, const Ints& kernel_size, const Ints& stride,
                  const Ints& padding, const Ints& dilation, bool ceil_mode) {
  return pool({"max_pool1d", 1, true}, input, kernel_size, stride, padding, dilation, ceil_mode);
}
Tensor max_pool2d(const Tensor& input, const Ints& kernel_size, const Ints& stride,
                  const Ints& padding, const Ints& dilation, bool ceil_mode) {
  return pool({"max_pool2d", 2, true}, input, kernel_size, stride, padding, dilation, ceil_mode);
}
Tensor max_pool3d(const Tensor& input, const Ints& kernel_size, const Ints& stride,
                  const Ints& padding, const Ints& dilation, bool ceil_mode) {
  return pool({"max_pool3d", 3, true}, input, kernel_size, stride, padding, dilation, ceil_mode);
}

Tensor avg_pool1d(const Tensor& input, const Ints& kernel_size, const Ints& stride,
                  const Ints& padding, bool ceil_mode, bool count_include_pad) {
  return pool({"avg_pool1d", 1, false, count_include_pad}, input, kernel_size, stride, padding, 1,
              ceil_mode);
}
Tensor avg_pool2d(const Tensor& input, const Ints& kernel_size, const Ints& stride,
                  const Ints& padding, bool ceil_mode, bool count_include_pad,
                  std::optional<int64_t> divisor_override) {
  RAVEL_CHECK(!divisor_override || *divisor_override != 0, "avg_pool2d: divisor must be not zero");
  return pool({"avg_pool2d", 2, false, count_include_pad, divisor_override.value_or(0)}, input,
              kernel_size, stride, padding, 1, ceil_mode);
}
Tensor avg_pool3d(const Tensor& input, const Ints& kernel_size, const Ints& stride,
                  const Ints& padding, bool ceil_mode, bool count_include_pad,
                  std::optional<int64_t> divisor_override) {
  RAVEL_CHECK(!divisor_override || *divisor_override != 0, "avg_pool3d: divisor must be not zero");
  return pool({"avg_pool3d", 3, false, count_include_pad, divisor_override.value_or(0)}, input,
              kernel_size, stride, padding, 1, ceil_mode);
}

Tensor adaptive_avg_pool1d(const Tensor& input, const Ints& output_size) {
  return adaptive_pool({"adaptive_avg_pool1d", 1, false, false}, input, output_size);
}
Tensor adaptive_avg_pool2d(const Tensor& input, const Ints& output_size) {
  return adaptive_pool({"adaptive_avg_pool2d", 2, false, false}, input, output_size);
}
Tensor adaptive_max_pool1d(const Tensor& input, const Ints& output_size) {
  return adaptive_pool({"adaptive_max_pool1d", 1, true}, input, output_size);
}
Tensor adaptive_max_pool2d(const Tensor& input, const Ints& output_size) {
  return adaptive_pool({"adaptive_max_pool2d", 2, true}, input, output_size);
}

}  // namespace ravel::nn::functional
