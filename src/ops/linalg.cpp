// Linear algebra: the matmul family on OpenBLAS (float32/float64; float16/bfloat16 through
// float32; integers and bool by a plain tiled loop), einsum reduced to permutes, diagonals, sums
// and batched matmuls, and decompositions on LAPACKE, batched over leading axes.
#include <cblas.h>
#include <lapacke.h>
#ifdef RAVEL_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif

#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>
#include <map>
#include <vector>

#include "core/dispatch.h"
#include "core/parallel.h"
#include "ravel/autograd.h"
#include "ravel/ops.h"

namespace ravel {

namespace {

Shape leading(const Shape& s, size_t drop) {
  Shape out;
  for (size_t i = 0; i + drop < s.size(); ++i) out.push_back(s[i]);
  return out;
}

Shape concat(const Shape& a, const Shape& b) {
  Shape out = a;
  for (int64_t v : b) out.push_back(v);
  return out;
}

// How BLAS can read a rows x cols matrix with element strides (rs, cs) in place: row-major
// (no transpose, ld = rs) or column-major (transpose, ld = cs). Strides of size-1 axes are free.
struct BlasLayout {
  bool ok = false, trans = false;
  int64_t ld = 0;
};
BlasLayout blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  int64_t ld = rows == 1 ? std::max<int64_t>(cols, 1) : rs;
  if ((cols == 1 || cs == 1) && ld >= std::max<int64_t>(1, cols)) return {true, false, ld};
  ld = cols == 1 ? std::max<int64_t>(rows, 1) : cs;
  if ((rows == 1 || rs == 1) && ld >= std::max<int64_t>(1, rows)) return {true, true, ld};
  return {};
}

// Calls fn(i, offset_a, offset_b) for each of the nb matrices of a batch of shape `batch`, where
// sa/sb are the operands' element strides over the batch axes (0 where broadcast).
template <typename Fn>
void for_each_batch(const Shape& batch, const Shape& sa, const Shape& sb, Fn&& fn) {
  const int64_t nb = shape_numel(batch), nd = static_cast<int64_t>(batch.size());
  Shape idx(batch.size(), 0);
  int64_t oa = 0, ob = 0;
  for (int64_t i = 0; i < nb; ++i) {
    fn(i, oa, ob);
    for (int64_t d = nd - 1; d >= 0; --d) {  // odometer step
      oa += sa[d];
      ob += sb[d];
      if (++idx[d] < batch[d]) break;
      oa -= sa[d] * batch[d];
      ob -= sb[d] * batch[d];
      idx[d] = 0;
    }
  }
}

// float32 goes through oneDNN's sgemm where present: it runs on ravel's OpenMP threads, while
// OpenBLAS (Debian's pthread build) has a pool of its own, and the two pools spinning on the
// same cores between alternating gemms and elementwise ops made an MLP step 2-5x slower.
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
          const float* b, int64_t ldb, float* c, int64_t ldc) {
#ifdef RAVEL_HAVE_ONEDNN
  if (m > 0 && n > 0 && k > 0 &&
      dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc) ==
          dnnl_success)
    return;
#endif
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), 0.0f, c,
              static_cast<blasint>(ldc));
}
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double* a, int64_t lda,
          const double* b, int64_t ldb, double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), 1.0, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), 0.0, c,
              static_cast<blasint>(ldc));
}

// out[batch, m, n] (contiguous, dtype T) = a[batch, m, k] @ b[batch, k, n] through BLAS. a and b
// are of dtype T, already broadcast to the batch (stride 0 where broadcast).
template <typename T>
void matmul_blas(Tensor a, Tensor b, Tensor& out, const Shape& batch) {
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1), nd = a.ndim();
  RAVEL_CHECK(m <= INT_MAX && n <= INT_MAX && k <= INT_MAX, "matmul: matrix dimensions (", m, ", ",
              k, ", ", n, ") exceed what BLAS can index");
  BlasLayout la = blas_layout(m, k, a.strides()[nd - 2], a.strides()[nd - 1]);
  if (!la.ok) {
    a = a.contiguous();
    la = blas_layout(m, k, k, 1);
  }
  BlasLayout lb = blas_layout(k, n, b.strides()[nd - 2], b.strides()[nd - 1]);
  if (!lb.ok) {
    b = b.contiguous();
    lb = blas_layout(k, n, n, 1);
  }
  const T* pa = a.data_ptr<T>();
  const T* pb = b.data_ptr<T>();
  T* pc = out.data_ptr<T>();
  const Shape sa = leading(a.strides(), 2), sb = leading(b.strides(), 2);
  // b shared by every batch and a's batch and row axes one uniform stride (e.g. x[B, S, in] @
  // w[in, out]): one big gemm over all rows.
  bool fold = !la.trans && std::all_of(sb.begin(), sb.end(), [](int64_t s) { return s == 0; });
  for (size_t d = batch.size(); fold && d-- > 0;) {
    int64_t inner_extent = d + 1 < batch.size() ? batch[d + 1] : m;
    int64_t inner_stride = d + 1 < batch.size() ? sa[d + 1] : la.ld;
    fold = batch[d] == 1 || sa[d] == inner_stride * inner_extent;
  }
  const int64_t rows = shape_numel(batch) * m;
  if (fold && rows <= INT_MAX) {
    gemm(false, lb.trans, rows, n, k, pa, la.ld, pb, lb.ld, pc, std::max<int64_t>(n, 1));
    return;
  }
  for_each_batch(batch, sa, sb, [&](int64_t i, int64_t oa, int64_t ob) {
    gemm(la.trans, lb.trans, m, n, k, pa + oa, la.ld, pb + ob, lb.ld, pc + i * m * n,
         std::max<int64_t>(n, 1));
  });
}

// The same for integers and bool (NumPy supports them; BLAS does not). Arithmetic is unsigned so
// overflow wraps as in NumPy instead of being undefined; the inner loop runs along contiguous
// rows of b and vectorises.
template <typename T>
void matmul_loop(const Tensor& a, Tensor b, Tensor& out, const Shape& batch) {
  using W = std::conditional_t<(sizeof(T) <= 4), uint32_t, uint64_t>;
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1), nd = a.ndim();
  if (n > 1 && b.strides()[nd - 1] != 1) b = b.contiguous();
  const int64_t ras = a.strides()[nd - 2], cas = a.strides()[nd - 1], rbs = b.strides()[nd - 2];
  const T* pa = a.data_ptr<T>();
  const T* pb = b.data_ptr<T>();
  T* pc = out.data_ptr<T>();
  const Shape sa = leading(a.strides(), 2), sb = leading(b.strides(), 2);
  const int64_t nb = shape_numel(batch);
  std::vector<int64_t> offa(nb), offb(nb);
  for_each_batch(batch, sa, sb, [&](int64_t i, int64_t oa, int64_t ob) {
    offa[i] = oa;
    offb[i] = ob;
  });
  constexpr int64_t kBlock = 256;  // output columns held in registers/L1 per pass
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, k * n));
  parallel_for(nb * m, grain, [&](int64_t r0, int64_t r1) {
    W acc[kBlock];
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t bi = r / m, i = r % m;
      const T* arow = pa + offa[bi] + i * ras;
      const T* bmat = pb + offb[bi];
      T* crow = pc + r * n;
      for (int64_t j0 = 0; j0 < n; j0 += kBlock) {
        const int64_t nj = std::min(kBlock, n - j0);
        std::fill(acc, acc + nj, W{0});
        for (int64_t p = 0; p < k; ++p) {
          const W av = static_cast<W>(arow[p * cas]);
          const T* brow = bmat + p * rbs + j0;
          for (int64_t j = 0; j < nj; ++j) acc[j] += av * static_cast<W>(brow[j]);
        }
        for (int64_t j = 0; j < nj; ++j) {
          if constexpr (std::is_same_v<T, bool>)
            crow[j0 + j] = acc[j] != 0;
          else
            crow[j0 + j] = static_cast<T>(acc[j]);
        }
      }
    }
  });
}

// out (contiguous [batch..., m, n], dtype of a and b) = a @ b with a [.., m, k], b [.., k, n].
void matmul_into(const Tensor& a, const Tensor& b, Tensor& out, const Shape& batch) {
  if (out.numel() == 0) return;
  if (a.size(-1) == 0) {
    out.zero_();
    return;
  }
  Tensor ae = a.expand(concat(batch, {a.size(-2), a.size(-1)}));
  Tensor be = b.expand(concat(batch, {b.size(-2), b.size(-1)}));
  visit_dtype(out.dtype(), [&]<typename T>() {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      matmul_blas<T>(ae, be, out, batch);
    } else if constexpr (is_float_v<T>) {  // float16/bfloat16: compute in float32
      Tensor o32 = empty(out.shape(), DType::Float32);
      matmul_blas<float>(ae.to(DType::Float32), be.to(DType::Float32), o32, batch);
      out.copy_(o32);
    } else {
      matmul_loop<T>(ae, be, out, batch);
    }
  });
}

// ---------------------------------------------------------------- reductions used here
// Sums the last r axes of t into a new contiguous tensor of dtype `dt` (floats accumulate in
// double, integers in wrapping unsigned 64-bit, bool as "any").
Tensor sum_trailing(const Tensor& t, int64_t r, DType dt) {
  Shape out_shape = leading(t.shape(), static_cast<size_t>(r));
  Tensor out = empty(out_shape, dt);
  Tensor c = t.to(dt).contiguous();
  const int64_t rows = out.numel(), len = rows ? c.numel() / rows : 0;
  visit_dtype(dt, [&]<typename T>() {
    using Acc = std::conditional_t<is_float_v<T>, double,
                                   std::conditional_t<std::is_same_v<T, bool>, bool, uint64_t>>;
    const T* pc = c.data_ptr<T>();
    T* po = out.data_ptr<T>();
    parallel_for(rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, len)),
                 [&](int64_t r0, int64_t r1) {
                   for (int64_t i = r0; i < r1; ++i) {
                     Acc acc{};
                     const T* row = pc + i * len;
                     for (int64_t j = 0; j < len; ++j) {
                       if constexpr (std::is_same_v<T, bool>)
                         acc = acc || row[j];
                       else
                         acc += static_cast<Acc>(static_cast<compute_t<T>>(row[j]));
                     }
                     if constexpr (std::is_integral_v<T>)
                       po[i] = static_cast<T>(acc);
                     else
                       po[i] = cast_value<T>(acc);
                   }
                 });
  });
  return out;
}

// sum_trailing, or ravel::sum (which records its backward) when t needs grad.
Tensor sum_last(const Tensor& t, int64_t r, DType dt) {
  if (!autograd::needs_grad(t)) return sum_trailing(t, r, dt);
  Shape axes;
  for (int64_t d = t.ndim() - r; d < t.ndim(); ++d) axes.push_back(d);
  return sum(t, Axes(axes), false, dt);
}

// The transpose of the last two axes, as a view (BLAS reads it through its transpose flag).
Tensor mT(const Tensor& t) { return t.transpose(-2, -1); }

// Gradients of out = a @ b (numpy.matmul's shapes) given g of out's shape: grad a = g @ b^T and
// grad b = a^T @ g on transposed views, written with matmul so they are differentiable again.
// a (for grad b) and b (for grad a) are undefined where that gradient is not needed.
std::vector<Tensor> matmul_backward(const Tensor& g, const Tensor& a, const Tensor& b,
                                    const Shape& a_shape, const Shape& b_shape) {
  const bool a_vec = a_shape.size() == 1, b_vec = b_shape.size() == 1;
  const Shape a2 = a_vec ? Shape{1, a_shape[0]} : a_shape;  // 1-D operands as matrices
  const Shape b2 = b_vec ? Shape{b_shape[0], 1} : b_shape;
  const int64_t m = a2[a2.size() - 2], k = a2.back(), n = b2.back();
  const Shape batch = broadcast_shapes(leading(a2, 2), leading(b2, 2), "matmul");
  const Tensor g2 = g.reshape(concat(batch, {m, n}));
  Tensor ga, gb;
  if (b.defined()) {  // [batch..., m, k]; the engine sums axes a was broadcast over
    ga = matmul(g2, mT(b_vec ? b.unsqueeze(1) : b));
    if (a_vec) ga = ga.squeeze(-2);
  }
  if (a.defined()) {
    const Tensor am = a_vec ? a.unsqueeze(0) : a;
    if (b2.size() == 2 && !batch.empty() && leading(a2, 2) == batch)
      gb = matmul(mT(am.reshape({-1, k})), g2.reshape({-1, n}));  // one gemm over all rows
    else
      gb = matmul(mT(am), g2);  // [batch..., k, n]
    if (b_vec) gb = gb.squeeze(-1);
  }
  return {ga, gb};
}

// Contracts axes_a of a with axes_b of b (equal lengths, sizes must match): a permute, reshape
// to 2-D and one matmul. Free axes of a come first in the result, then those of b.
Tensor contract(const Tensor& a, const Tensor& b, Shape axes_a, Shape axes_b, const char* op) {
  RAVEL_CHECK(axes_a.size() == axes_b.size(), op, ": axes lists differ in length");
  std::vector<bool> ca(a.ndim(), false), cb(b.ndim(), false);
  int64_t kk = 1;
  for (size_t i = 0; i < axes_a.size(); ++i) {
    axes_a[i] = normalize_axis(axes_a[i], a.ndim(), op);
    axes_b[i] = normalize_axis(axes_b[i], b.ndim(), op);
    RAVEL_CHECK(a.shape()[axes_a[i]] == b.shape()[axes_b[i]], op,
                ": shape mismatch for sum: ", a.shape(), " axis ", axes_a[i], " vs ", b.shape(),
                " axis ", axes_b[i]);
    RAVEL_CHECK(!ca[axes_a[i]] && !cb[axes_b[i]], op, ": repeated axis in contraction");
    ca[axes_a[i]] = true;
    cb[axes_b[i]] = true;
    kk *= a.shape()[axes_a[i]];
  }
  Shape perm_a, perm_b, out_shape;
  int64_t mm = 1, nn = 1;
  for (int64_t d = 0; d < a.ndim(); ++d)
    if (!ca[d]) {
      perm_a.push_back(d);
      out_shape.push_back(a.shape()[d]);
      mm *= a.shape()[d];
    }
  for (int64_t ax : axes_a) perm_a.push_back(ax);
  for (int64_t ax : axes_b) perm_b.push_back(ax);
  for (int64_t d = 0; d < b.ndim(); ++d)
    if (!cb[d]) {
      perm_b.push_back(d);
      out_shape.push_back(b.shape()[d]);
      nn *= b.shape()[d];
    }
  Tensor a2 = a.permute(perm_a).reshape({mm, kk});
  Tensor b2 = b.permute(perm_b).reshape({kk, nn});
  return matmul(a2, b2).reshape(out_shape);
}

}  // namespace

// ---------------------------------------------------------------- matmul family
Tensor matmul(const Tensor& a, const Tensor& b) {
  RAVEL_CHECK(a.ndim() >= 1 && b.ndim() >= 1, "matmul: input operand ", a.ndim() < 1 ? 0 : 1,
              " does not have enough dimensions (shapes ", a.shape(), " and ", b.shape(),
              "; 0-d tensors are not allowed)");
  if (autograd::needs_grad(a, b)) {
    Tensor out;
    {
      NoGradGuard ng;
      out = matmul(a, b);
    }
    const bool need_a = autograd::requires_grad(a), need_b = autograd::requires_grad(b);
    autograd::record(
        "matmul", {a, b}, out, {need_b ? a : Tensor(), need_a ? b : Tensor()},
        [as = a.shape(), bs = b.shape()](const Tensor& g, const std::vector<Tensor>& s) {
          return matmul_backward(g, s[0], s[1], as, bs);
        });
    return out;
  }
  const DType dt = promote_types(a.dtype(), b.dtype());
  Tensor a2 = a.ndim() == 1 ? a.unsqueeze(0) : a;  // [k] -> [1, k]
  Tensor b2 = b.ndim() == 1 ? b.unsqueeze(1) : b;  // [k] -> [k, 1]
  const int64_t m = a2.size(-2), k = a2.size(-1), n = b2.size(-1);
  RAVEL_CHECK(b2.size(-2) == k, "matmul: shapes ", a.shape(), " and ", b.shape(),
              " are not aligned: ", k, " (last axis of a) != ", b2.size(-2),
              " (second-to-last axis of b)");
  Shape batch = broadcast_shapes(leading(a2.shape(), 2), leading(b2.shape(), 2), "matmul");
  Shape out_shape = batch;
  if (a.ndim() > 1) out_shape.push_back(m);
  if (b.ndim() > 1) out_shape.push_back(n);
  Tensor out = empty(concat(batch, {m, n}), dt);
  matmul_into(a2.to(dt), b2.to(dt), out, batch);
  return out.ndim() == static_cast<int64_t>(out_shape.size()) ? out : out.view(out_shape);
}

Tensor tensordot(const Tensor& a, const Tensor& b, int64_t axes) {
  RAVEL_CHECK(axes >= 0 && axes <= a.ndim() && axes <= b.ndim(), "tensordot: axes=", axes,
              " is out of range for shapes ", a.shape(), " and ", b.shape());
  Shape aa, ab;
  for (int64_t i = 0; i < axes; ++i) {
    aa.push_back(a.ndim() - axes + i);
    ab.push_back(i);
  }
  return contract(a, b, aa, ab, "tensordot");
}

Tensor dot(const Tensor& a, const Tensor& b) {
  if (a.ndim() == 0 || b.ndim() == 0) return contract(a, b, {}, {}, "dot");  // a * b
  RAVEL_CHECK(a.size(-1) == b.size(b.ndim() == 1 ? 0 : -2), "dot: shapes ", a.shape(), " and ",
              b.shape(), " not aligned: ", a.size(-1),
              " (last axis of a) != ", b.size(b.ndim() == 1 ? 0 : -2));
  if (a.ndim() <= 2 && b.ndim() <= 2) return matmul(a, b);
  return contract(a, b, {a.ndim() - 1}, {b.ndim() == 1 ? 0 : b.ndim() - 2}, "dot");
}

Tensor vdot(const Tensor& a, const Tensor& b) {
  RAVEL_CHECK(a.numel() == b.numel(), "vdot: vectors have different sizes (shapes ", a.shape(),
              " and ", b.shape(), ")");
  return matmul(a.reshape({-1}), b.reshape({-1}));
}

Tensor inner(const Tensor& a, const Tensor& b) {
  if (a.ndim() == 0 || b.ndim() == 0) return contract(a, b, {}, {}, "inner");
  RAVEL_CHECK(a.size(-1) == b.size(-1), "inner: shapes ", a.shape(), " and ", b.shape(),
              " not aligned: last axes differ (", a.size(-1), " != ", b.size(-1), ")");
  return contract(a, b, {-1}, {-1}, "inner");
}

Tensor outer(const Tensor& a, const Tensor& b) {
  return contract(a.reshape({-1}), b.reshape({-1}), {}, {}, "outer");
}

Tensor trace(const Tensor& a, int64_t offset) {
  RAVEL_CHECK(a.ndim() >= 2, "trace: expected a tensor of at least 2 dimensions, got shape ",
              a.shape());
  DType dt = is_floating(a.dtype()) ? a.dtype() : DType::Int64;  // NumPy's sum rule
  return sum_last(a.diagonal(offset, 0, 1), 1, dt);
}

// ---------------------------------------------------------------- einsum
namespace {
constexpr int kEllipsisLabel = 1000;  // ellipsis axes get labels 1000 + (axes from the right)

struct EinsumOperand {
  Tensor t;
  std::vector<int> labels;  // one per axis
};

// Parses one term ("ij", "...j", "i...k") for a tensor of `ndim` axes.
std::vector<int> parse_term(const std::string& term, int64_t ndim, bool is_output,
                            int64_t ellipsis_ndim, const std::string& subscripts) {
  std::vector<int> labels;
  size_t pos = term.find("...");
  int64_t letters = 0;
  for (size_t i = 0; i < term.size(); ++i) {
    if (pos != std::string::npos && i >= pos && i < pos + 3) continue;
    char c = term[i];
    RAVEL_CHECK(std::isalpha(static_cast<unsigned char>(c)), "einsum: invalid subscript '", c,
                "' in \"", subscripts, "\"");
    ++letters;
  }
  RAVEL_CHECK(pos == std::string::npos || term.find("...", pos + 3) == std::string::npos,
              "einsum: more than one ellipsis in \"", term, "\"");
  int64_t ell = 0;
  if (pos != std::string::npos) {
    ell = is_output ? ellipsis_ndim : ndim - letters;
    RAVEL_CHECK(ell >= 0, "einsum: operand has ", ndim, " dimensions but subscripts \"", term,
                "\" name ", letters);
  } else if (!is_output) {
    RAVEL_CHECK(letters == ndim, "einsum: operand has ", ndim, " dimensions but subscripts \"",
                term, "\" name ", letters, " (in \"", subscripts, "\")");
  }
  for (size_t i = 0; i < term.size(); ++i) {
    if (pos != std::string::npos && i == pos) {
      for (int64_t q = ell - 1; q >= 0; --q) labels.push_back(kEllipsisLabel + static_cast<int>(q));
      i += 2;
      continue;
    }
    labels.push_back(static_cast<unsigned char>(term[i]));
  }
  return labels;
}

// Sums out the axes of op whose labels satisfy drop(label).
template <typename Pred>
void sum_out(EinsumOperand& op, Pred drop) {
  Shape perm;
  std::vector<int> kept;
  int64_t r = 0;
  for (size_t d = 0; d < op.labels.size(); ++d)
    if (!drop(op.labels[d])) {
      perm.push_back(static_cast<int64_t>(d));
      kept.push_back(op.labels[d]);
    }
  for (size_t d = 0; d < op.labels.size(); ++d)
    if (drop(op.labels[d])) {
      perm.push_back(static_cast<int64_t>(d));
      ++r;
    }
  if (r == 0) return;
  op.t = sum_last(op.t.permute(perm), r, op.t.dtype());
  op.labels = kept;
}

bool has(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// a and b -> one operand over batch + left + right labels via a batched matmul; labels in both
// and not in `keep` are contracted.
EinsumOperand einsum_pair(EinsumOperand a, EinsumOperand b, const std::vector<int>& keep) {
  auto needed = [&](const EinsumOperand& other) {
    return [&](int l) { return !has(other.labels, l) && !has(keep, l); };
  };
  sum_out(a, needed(b));
  sum_out(b, needed(a));
  std::vector<int> batch, left, contr, right;
  for (int l : a.labels) {
    if (!has(b.labels, l))
      left.push_back(l);
    else if (has(keep, l))
      batch.push_back(l);
    else
      contr.push_back(l);
  }
  for (int l : b.labels)
    if (!has(a.labels, l)) right.push_back(l);
  auto axis_of = [](const EinsumOperand& op, int l) {
    return static_cast<int64_t>(std::find(op.labels.begin(), op.labels.end(), l) -
                                op.labels.begin());
  };
  Shape pa, pb, bshape, lshape, rshape;
  int64_t mm = 1, kk = 1, nn = 1;
  for (int l : batch) {
    pa.push_back(axis_of(a, l));
    pb.push_back(axis_of(b, l));
    bshape.push_back(a.t.size(axis_of(a, l)));
  }
  for (int l : left) {
    pa.push_back(axis_of(a, l));
    lshape.push_back(a.t.size(axis_of(a, l)));
    mm *= lshape.back();
  }
  for (int l : contr) {
    pa.push_back(axis_of(a, l));
    pb.push_back(axis_of(b, l));
    kk *= a.t.size(axis_of(a, l));
  }
  for (int l : right) {
    pb.push_back(axis_of(b, l));
    rshape.push_back(b.t.size(axis_of(b, l)));
    nn *= rshape.back();
  }
  Tensor a3 = a.t.permute(pa).reshape(concat(bshape, {mm, kk}));
  Tensor b3 = b.t.permute(pb).reshape(concat(bshape, {kk, nn}));
  EinsumOperand out;
  out.t = matmul(a3, b3).reshape(concat(concat(bshape, lshape), rshape));
  out.labels = batch;
  out.labels.insert(out.labels.end(), left.begin(), left.end());
  out.labels.insert(out.labels.end(), right.begin(), right.end());
  return out;
}
}  // namespace

Tensor einsum(const std::string& subscripts_in, const std::vector<Tensor>& operands) {
  std::string subs;
  for (char c : subscripts_in)
    if (c != ' ') subs.push_back(c);
  RAVEL_CHECK(!operands.empty(), "einsum: at least one operand is required");
  size_t arrow = subs.find("->");
  std::string lhs = subs.substr(0, arrow);
  std::vector<std::string> terms;
  for (size_t s = 0;;) {
    size_t e = lhs.find(',', s);
    terms.push_back(lhs.substr(s, e == std::string::npos ? std::string::npos : e - s));
    if (e == std::string::npos) break;
    s = e + 1;
  }
  RAVEL_CHECK(terms.size() == operands.size(), "einsum: \"", subscripts_in, "\" names ",
              terms.size(), " operands but ", operands.size(), " were given");
  DType dt = operands[0].dtype();
  for (const Tensor& t : operands) dt = promote_types(dt, t.dtype());

  std::vector<EinsumOperand> ops(operands.size());
  int64_t ell_ndim = 0;
  std::map<int, int64_t> size_of;
  std::map<int, int> count;
  for (size_t i = 0; i < operands.size(); ++i) {
    ops[i].t = operands[i].to(dt);
    ops[i].labels = parse_term(terms[i], operands[i].ndim(), false, 0, subscripts_in);
    for (size_t d = 0; d < ops[i].labels.size(); ++d) {
      int l = ops[i].labels[d];
      int64_t s = operands[i].size(static_cast<int64_t>(d));
      if (l >= kEllipsisLabel) ell_ndim = std::max<int64_t>(ell_ndim, l - kEllipsisLabel + 1);
      auto it = size_of.find(l);
      if (it == size_of.end() || it->second == 1) {
        size_of[l] = s;
      } else {
        RAVEL_CHECK(s == it->second || s == 1, "einsum: size of label '",
                    l < kEllipsisLabel ? static_cast<char>(l) : '.', "' differs between operands (",
                    it->second, " vs ", s, ") in \"", subscripts_in, "\"");
      }
      ++count[l];
    }
  }
  std::vector<int> out_labels;
  if (arrow != std::string::npos) {
    out_labels = parse_term(subs.substr(arrow + 2), 0, true, ell_ndim, subscripts_in);
    for (size_t i = 0; i < out_labels.size(); ++i) {
      RAVEL_CHECK(size_of.count(out_labels[i]), "einsum: output label '",
                  static_cast<char>(out_labels[i]), "' does not appear in the inputs of \"",
                  subscripts_in, "\"");
      RAVEL_CHECK(std::count(out_labels.begin(), out_labels.end(), out_labels[i]) == 1,
                  "einsum: output label '", static_cast<char>(out_labels[i]),
                  "' appears more than once in \"", subscripts_in, "\"");
    }
  } else {  // implicit: ellipsis axes, then labels used once, alphabetically
    for (int64_t q = ell_ndim - 1; q >= 0; --q)
      out_labels.push_back(kEllipsisLabel + static_cast<int>(q));
    for (auto [l, c] : count)
      if (l < kEllipsisLabel && c == 1) out_labels.push_back(l);
  }

  // Per operand: broadcast size-1 axes, take diagonals of repeated labels, sum labels used
  // nowhere else.
  for (size_t i = 0; i < ops.size(); ++i) {
    EinsumOperand& op = ops[i];
    Shape full;
    for (int l : op.labels) full.push_back(size_of[l]);
    if (full != op.t.shape()) op.t = op.t.expand(full);
    for (bool again = true; again;) {
      again = false;
      for (size_t d1 = 0; d1 < op.labels.size() && !again; ++d1)
        for (size_t d2 = d1 + 1; d2 < op.labels.size() && !again; ++d2)
          if (op.labels[d1] == op.labels[d2]) {
            int l = op.labels[d1];
            op.t = op.t.diagonal(0, static_cast<int64_t>(d1), static_cast<int64_t>(d2));
            op.labels.erase(op.labels.begin() + d2);
            op.labels.erase(op.labels.begin() + d1);
            op.labels.push_back(l);
            again = true;
          }
    }
    sum_out(op, [&](int l) {
      if (has(out_labels, l)) return false;
      for (size_t j = 0; j < ops.size(); ++j)
        if (j != i && has(ops[j].labels, l)) return false;
      return true;
    });
  }
  EinsumOperand acc = ops[0];
  for (size_t i = 1; i < ops.size(); ++i) {
    std::vector<int> keep = out_labels;
    for (size_t j = i + 1; j < ops.size(); ++j)
      keep.insert(keep.end(), ops[j].labels.begin(), ops[j].labels.end());
    acc = einsum_pair(acc, ops[i], keep);
  }
  sum_out(acc, [&](int l) { return !has(out_labels, l); });
  Shape perm;
  for (int l : out_labels)
    perm.push_back(static_cast<int64_t>(std::find(acc.labels.begin(), acc.labels.end(), l) -
                                        acc.labels.begin()));
  Tensor out = acc.t.permute(perm);
  for (const Tensor& t : operands)
    if (out.shares_storage(t)) return out.clone();  // a result, never a view of an input
  return out.contiguous();
}

// ---------------------------------------------------------------- LAPACK
namespace linalg {
namespace {

// LAPACK works on float32 and float64; integers and bool go to float64 as in NumPy.
DType lapack_dtype(const Tensor& a, const char* op) {
  RAVEL_CHECK(a.dtype() != DType::Float16 && a.dtype() != DType::BFloat16, op, ": array type ",
              dtype_name(a.dtype()), " is unsupported in linalg (use float32 or float64)");
  return a.dtype() == DType::Float32 ? DType::Float32 : DType::Float64;
}

void check_matrix(const Tensor& a, const char* op, bool square) {
  RAVEL_CHECK(a.ndim() >= 2, op,
              ": expected a matrix (or a batch of them) of at least 2 "
              "dimensions, got shape ",
              a.shape());
  RAVEL_CHECK(!square || a.size(-1) == a.size(-2), op,
              ": last 2 dimensions of the array must "
              "be square, got shape ",
              a.shape());
  RAVEL_CHECK(a.size(-1) <= INT_MAX && a.size(-2) <= INT_MAX, op,
              ": matrix too large for "
              "LAPACK, shape ",
              a.shape());
}

template <typename F>
decltype(auto) visit_real(DType dt, F&& f) {
  if (dt == DType::Float32) return f.template operator()<float>();
  return f.template operator()<double>();
}

void check_info(lapack_int info, const char* op, const char* what) {
  RAVEL_CHECK(info <= 0, op, ": ", what);
  RAVEL_CHECK(info == 0, op, ": LAPACK rejected argument ", -info,
              " (does the input contain NaN or inf?)");
}

// LAPACKE's float/double pairs under one name each.
lapack_int getrf(int n, float* a, lapack_int* ip) {
  return LAPACKE_sgetrf(LAPACK_ROW_MAJOR, n, n, a, n, ip);
}
lapack_int getrf(int n, double* a, lapack_int* ip) {
  return LAPACKE_dgetrf(LAPACK_ROW_MAJOR, n, n, a, n, ip);
}
lapack_int getri(int n, float* a, const lapack_int* ip) {
  return LAPACKE_sgetri(LAPACK_ROW_MAJOR, n, a, n, ip);
}
lapack_int getri(int n, double* a, const lapack_int* ip) {
  return LAPACKE_dgetri(LAPACK_ROW_MAJOR, n, a, n, ip);
}
lapack_int gesv(int n, int k, float* a, lapack_int* ip, float* b) {
  return LAPACKE_sgesv(LAPACK_ROW_MAJOR, n, k, a, n, ip, b, k);
}
lapack_int gesv(int n, int k, double* a, lapack_int* ip, double* b) {
  return LAPACKE_dgesv(LAPACK_ROW_MAJOR, n, k, a, n, ip, b, k);
}
lapack_int potrf(int n, float* a) { return LAPACKE_spotrf(LAPACK_ROW_MAJOR, 'L', n, a, n); }
lapack_int potrf(int n, double* a) { return LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', n, a, n); }
lapack_int geqrf(int m, int n, float* a, float* tau) {
  return LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, m, n, a, n, tau);
}
lapack_int geqrf(int m, int n, double* a, double* tau) {
  return LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, m, n, a, n, tau);
}
lapack_int orgqr(int m, int k, int lda, float* a, const float* tau) {
  return LAPACKE_sorgqr(LAPACK_ROW_MAJOR, m, k, k, a, lda, tau);
}
lapack_int orgqr(int m, int k, int lda, double* a, const double* tau) {
  return LAPACKE_dorgqr(LAPACK_ROW_MAJOR, m, k, k, a, lda, tau);
}
lapack_int gesdd(char job, int m, int n, float* a, float* s, float* u, int ldu, float* vt,
                 int ldvt) {
  return LAPACKE_sgesdd(LAPACK_ROW_MAJOR, job, m, n, a, n, s, u, ldu, vt, ldvt);
}
lapack_int gesdd(char job, int m, int n, double* a, double* s, double* u, int ldu, double* vt,
                 int ldvt) {
  return LAPACKE_dgesdd(LAPACK_ROW_MAJOR, job, m, n, a, n, s, u, ldu, vt, ldvt);
}
lapack_int syevd(int n, float* a, float* w) {
  return LAPACKE_ssyevd(LAPACK_ROW_MAJOR, 'V', 'L', n, a, n, w);
}
lapack_int syevd(int n, double* a, double* w) {
  return LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'L', n, a, n, w);
}
lapack_int gelsd(int m, int n, int k, float* a, float* b, int ldb, float* s, double rcond,
                 lapack_int* rank) {
  return LAPACKE_sgelsd(LAPACK_ROW_MAJOR, m, n, k, a, n, b, ldb, s, static_cast<float>(rcond),
                        rank);
}
lapack_int gelsd(int m, int n, int k, double* a, double* b, int ldb, double* s, double rcond,
                 lapack_int* rank) {
  return LAPACKE_dgelsd(LAPACK_ROW_MAJOR, m, n, k, a, n, b, ldb, s, rcond, rank);
}

// A contiguous working copy of a in dtype dt (LAPACK overwrites its input).
Tensor work_copy(const Tensor& a, DType dt) { return a.to(dt, /*copy=*/true); }

int64_t nbatch(const Tensor& a) { return shape_numel(leading(a.shape(), 2)); }

// (sign, log|det|) of each matrix of a square batch, from its LU factorisation.
template <typename T>
void lu_logdet(const Tensor& a, T* sign, T* logabs) {
  const int64_t n = a.size(-1), nb = nbatch(a);
  Tensor w = work_copy(a, dtype_of<T>);
  T* p = w.data_ptr<T>();
  std::vector<lapack_int> ip(std::max<int64_t>(n, 1));
  for (int64_t b = 0; b < nb; ++b) {
    T* m = p + b * n * n;
    T s = 1, l = 0;
    if (n > 0) {
      lapack_int info = getrf(static_cast<int>(n), m, ip.data());
      RAVEL_CHECK(info >= 0, "det: LAPACK rejected argument ", -info,
                  " (does the input contain NaN or inf?)");
    }
    for (int64_t i = 0; i < n; ++i) {
      T d = m[i * n + i];
      if (ip[i] != i + 1) s = -s;
      if (d < 0) s = -s;
      if (d == 0) s = 0;
      l += std::log(std::abs(d));
    }
    if (s == 0) l = -std::numeric_limits<T>::infinity();
    sign[b] = s;
    logabs[b] = l;
  }
}

// ---------------------------------------------------------------- backward helpers
// Each decomposition computes its value without recording (NoGradGuard: the working copies are
// internal) and records one node whose backward is written with ravel ops (PyTorch's formulas,
// real case), so most are differentiable again.

// Runs the op's forward under NoGradGuard.
template <typename F>
auto untracked(F&& f) {
  NoGradGuard ng;
  return f();
}

Tensor mat_eye(int64_t n, DType dt) { return eye(n, std::nullopt, 0, dt); }
Tensor as_matrix_batch(const Tensor& t) {
  return t.unsqueeze(-1).unsqueeze(-1);
}  // [...] -> [..., 1, 1]
Tensor skew(const Tensor& x) { return x - mT(x); }

// d det(A) / dA: det * A^-T, or for singular matrices the cofactor matrix from the SVD
// A = U diag(s) Vh: det(U) det(Vh) U diag(prod_{j != i} s_j) Vh.
Tensor det_grad(const Tensor& a, const Tensor& d) {
  if (all(d).item<bool>()) return as_matrix_batch(d) * mT(inv(a));
  SVDResult r = svd(a);
  const int64_t n = a.size(-1);
  Tensor s_rows = r.S.unsqueeze(-2).expand(concat(r.S.shape(), {n}));
  Tensor others = prod(where(mat_eye(n, DType::Bool), ones_like(s_rows), s_rows), -1);
  return as_matrix_batch(det(r.U) * det(r.Vh)) * matmul(r.U * others.unsqueeze(-2), r.Vh);
}

// QR backward with R square (m >= n): gA = (gQ + Q copyltu(M)) R^-T, M = gR R^T - Q^T gQ,
// copyltu(M) = triu(M) + triu(M, 1)^T.
Tensor qr_backward_tall(const Tensor& gq, const Tensor& gr, const Tensor& q, const Tensor& r) {
  const int64_t n = r.size(-1);
  Tensor mm = matmul(gr, mT(r)) - matmul(mT(q), gq);
  Tensor up = triu(ones({n, n}, mm.dtype()));
  Tensor sym = mm * up + mT(mm * (up - mat_eye(n, mm.dtype())));
  return matmul(matmul(q, sym) + gq, mT(inv(r)));
}

}  // namespace

Tensor inv(const Tensor& a) {
  if (autograd::needs_grad(a)) {  // d(A^-1) = -A^-1 dA A^-1
    Tensor out = untracked([&] { return inv(a); });
    autograd::record("inv", {a}, out, {out}, [](const Tensor& g, const std::vector<Tensor>& s) {
      Tensor t = mT(s[0]);
      return std::vector<Tensor>{-matmul(matmul(t, g), t)};
    });
    return out;
  }
  check_matrix(a, "inv", true);
  DType dt = lapack_dtype(a, "inv");
  Tensor w = work_copy(a, dt);
  const int64_t n = a.size(-1), nb = nbatch(a);
  if (n == 0) return w;
  visit_real(dt, [&]<typename T>() {
    std::vector<lapack_int> ip(n);
    for (int64_t b = 0; b < nb; ++b) {
      T* m = w.data_ptr<T>() + b * n * n;
      check_info(getrf(static_cast<int>(n), m, ip.data()), "inv", "Singular matrix");
      check_info(getri(static_cast<int>(n), m, ip.data()), "inv", "Singular matrix");
    }
  });
  return w;
}

// b is a vector [..., n] when 1-D, else a batch of matrices [..., n, k] (NumPy 2's rule).
Tensor solve(const Tensor& a, const Tensor& b) {
  if (autograd::needs_grad(a, b)) {  // grad b = A^-T g, grad A = -(grad b) x^T
    Tensor x = untracked([&] { return solve(a, b); });
    const bool vec = b.ndim() == 1, need_a = autograd::requires_grad(a);
    autograd::record(
        "solve", {a, b}, x, {a, x}, [vec, need_a](const Tensor& g, const std::vector<Tensor>& s) {
          Tensor gb = solve(mT(s[0]), vec ? g.unsqueeze(-1) : g);
          Tensor ga = need_a ? -matmul(gb, mT(vec ? s[1].unsqueeze(-1) : s[1])) : Tensor();
          return std::vector<Tensor>{ga, vec ? gb.squeeze(-1) : gb};
        });
    return x;
  }
  check_matrix(a, "solve", true);
  RAVEL_CHECK(b.ndim() >= 1, "solve: b must be at least 1-dimensional, got shape ", b.shape());
  DType dt = promote_types(lapack_dtype(a, "solve"), lapack_dtype(b, "solve"));
  const bool vec = b.ndim() == 1;
  Tensor bm = vec ? b.unsqueeze(1) : b;
  const int64_t n = a.size(-1), k = bm.size(-1);
  RAVEL_CHECK(bm.size(-2) == n, "solve: a with shape ", a.shape(), " and b with shape ", b.shape(),
              " do not match (b needs ", n, " rows)");
  Shape batch = broadcast_shapes(leading(a.shape(), 2), leading(bm.shape(), 2), "solve");
  Tensor aw = work_copy(a.expand(concat(batch, {n, n})), dt);
  Tensor x = work_copy(bm.expand(concat(batch, {n, k})), dt);
  const int64_t nb = shape_numel(batch);
  if (n > 0 && k > 0) {
    visit_real(dt, [&]<typename T>() {
      std::vector<lapack_int> ip(n);
      for (int64_t i = 0; i < nb; ++i)
        check_info(gesv(static_cast<int>(n), static_cast<int>(k), aw.data_ptr<T>() + i * n * n,
                        ip.data(), x.data_ptr<T>() + i * n * k),
                   "solve", "Singular matrix");
    });
  }
  return vec ? x.squeeze(-1) : x;
}

Tensor det(const Tensor& a) {
  if (autograd::needs_grad(a)) {
    Tensor d = untracked([&] { return det(a); });
    autograd::record("det", {a}, d, {a, d}, [](const Tensor& g, const std::vector<Tensor>& s) {
      return std::vector<Tensor>{as_matrix_batch(g) * det_grad(s[0], s[1])};
    });
    return d;
  }
  check_matrix(a, "det", true);
  DType dt = lapack_dtype(a, "det");
  Shape batch = leading(a.shape(), 2);
  Tensor out = empty(batch, dt);
  visit_real(dt, [&]<typename T>() {
    const int64_t n = a.size(-1);
    Tensor w = work_copy(a, dt);  // det as the product of the pivots of LU
    std::vector<lapack_int> ip(std::max<int64_t>(n, 1));
    for (int64_t b = 0; b < out.numel(); ++b) {
      T* m = w.data_ptr<T>() + b * n * n;
      T d = 1;
      if (n > 0)
        RAVEL_CHECK(getrf(static_cast<int>(n), m, ip.data()) >= 0,
                    "det: LAPACK rejected the "
                    "input (does it contain NaN or inf?)");
      for (int64_t i = 0; i < n; ++i) d *= (ip[i] != i + 1 ? -m[i * n + i] : m[i * n + i]);
      out.data_ptr<T>()[b] = d;
    }
  });
  return out;
}

std::pair<Tensor, Tensor> slogdet(const Tensor& a) {
  if (autograd::needs_grad(a)) {  // only log|det| has a gradient: A^-T
    auto r = untracked([&] { return slogdet(a); });
    autograd::record_multi("slogdet", {a}, {r.first, r.second}, {a},
                           [](const std::vector<Tensor>& g, const std::vector<Tensor>& s) {
                             return std::vector<Tensor>{as_matrix_batch(g[1]) * mT(inv(s[0]))};
                           });
    return r;
  }
  check_matrix(a, "slogdet", true);
  DType dt = lapack_dtype(a, "slogdet");
  Shape batch = leading(a.shape(), 2);
  Tensor sign = empty(batch, dt), logabs = empty(batch, dt);
  visit_real(dt, [&]<typename T>() { lu_logdet<T>(a, sign.data_ptr<T>(), logabs.data_ptr<T>()); });
  return {sign, logabs};
}

Tensor cholesky(const Tensor& a) {
  if (autograd::needs_grad(a)) {
    // gA = sym(L^-T phi(L^T gL) L^-1), phi = lower triangle with the diagonal halved; symmetric
    // (as PyTorch), since only symmetric changes of A keep it a valid input.
    Tensor l = untracked([&] { return cholesky(a); });
    autograd::record("cholesky", {a}, l, {l}, [](const Tensor& g, const std::vector<Tensor>& s) {
      const Tensor& L = s[0];
      const int64_t n = L.size(-1);
      Tensor phi_mask = tril(ones({n, n}, g.dtype())) - mat_eye(n, g.dtype()) * 0.5;
      Tensor l_inv = inv(L);
      Tensor ga = matmul(matmul(mT(l_inv), matmul(mT(L), g) * phi_mask), l_inv);
      return std::vector<Tensor>{(ga + mT(ga)) * 0.5};
    });
    return l;
  }
  check_matrix(a, "cholesky", true);
  DType dt = lapack_dtype(a, "cholesky");
  Tensor w = work_copy(a, dt);
  const int64_t n = a.size(-1), nb = nbatch(a);
  visit_real(dt, [&]<typename T>() {
    for (int64_t b = 0; b < nb && n > 0; ++b) {
      T* m = w.data_ptr<T>() + b * n * n;
      check_info(potrf(static_cast<int>(n), m), "cholesky", "Matrix is not positive definite");
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = i + 1; j < n; ++j) m[i * n + j] = 0;  // potrf leaves the upper part
    }
  });
  return w;
}

std::pair<Tensor, Tensor> qr(const Tensor& a) {
  if (autograd::needs_grad(a)) {
    auto qr_ = untracked([&] { return qr(a); });
    const int64_t m = a.size(-2), n = a.size(-1);
    autograd::record_multi("qr", {a}, {qr_.first, qr_.second}, {qr_.first, qr_.second},
                           [m, n](const std::vector<Tensor>& g, const std::vector<Tensor>& s) {
                             const Tensor &q = s[0], &r = s[1], &gq = g[0], &gr = g[1];
                             if (m >= n) return std::vector<Tensor>{qr_backward_tall(gq, gr, q, r)};
                             // Wide: A = [X | Y], R = [U | V] with X = Q U square, Y = Q V.
                             Tensor v = r.slice(-1, m, n), gv = gr.slice(-1, m, n);
                             Tensor gx = qr_backward_tall(gq + matmul(matmul(q, v), mT(gv)),
                                                          gr.slice(-1, 0, m), q, r.slice(-1, 0, m));
                             return std::vector<Tensor>{concatenate({gx, matmul(q, gv)}, -1)};
                           });
    return qr_;
  }
  check_matrix(a, "qr", false);
  DType dt = lapack_dtype(a, "qr");
  const int64_t m = a.size(-2), n = a.size(-1), k = std::min(m, n), nb = nbatch(a);
  Shape batch = leading(a.shape(), 2);
  Tensor w = work_copy(a, dt);
  Tensor q = zeros(concat(batch, {m, k}), dt), r = zeros(concat(batch, {k, n}), dt);
  if (k == 0) return {q, r};
  visit_real(dt, [&]<typename T>() {
    std::vector<T> tau(k);
    for (int64_t b = 0; b < nb; ++b) {
      T* x = w.data_ptr<T>() + b * m * n;
      check_info(geqrf(static_cast<int>(m), static_cast<int>(n), x, tau.data()), "qr", "failed");
      T* rp = r.data_ptr<T>() + b * k * n;
      for (int64_t i = 0; i < k; ++i)
        for (int64_t j = i; j < n; ++j) rp[i * n + j] = x[i * n + j];
      check_info(
          orgqr(static_cast<int>(m), static_cast<int>(k), static_cast<int>(n), x, tau.data()), "qr",
          "failed");
      T* qp = q.data_ptr<T>() + b * m * k;
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < k; ++j) qp[i * k + j] = x[i * n + j];
    }
  });
  return {q, r};
}

namespace {
// Singular values (and vectors when job is 'A' or 'S') of each matrix of a.
SVDResult svd_impl(const Tensor& a, char job, const char* op) {
  check_matrix(a, op, false);
  DType dt = lapack_dtype(a, op);
  const int64_t m = a.size(-2), n = a.size(-1), k = std::min(m, n), nb = nbatch(a);
  Shape batch = leading(a.shape(), 2);
  const int64_t ucols = job == 'A' ? m : k, vrows = job == 'A' ? n : k;
  SVDResult res;
  res.S = empty(concat(batch, {k}), dt);
  if (job != 'N') {
    res.U = empty(concat(batch, {m, ucols}), dt);
    res.Vh = empty(concat(batch, {vrows, n}), dt);
  }
  if (k == 0) {  // NumPy: identity factors around an empty spectrum
    if (job != 'N') {
      res.U.copy_(eye(m, ucols, 0, dt));
      res.Vh.copy_(eye(vrows, n, 0, dt));
    }
    return res;
  }
  Tensor w = work_copy(a, dt);
  visit_real(dt, [&]<typename T>() {
    std::vector<T> du(1), dv(1);  // LAPACK wants valid pointers even when not referenced
    for (int64_t b = 0; b < nb; ++b) {
      T* u = job == 'N' ? du.data() : res.U.data_ptr<T>() + b * m * ucols;
      T* vt = job == 'N' ? dv.data() : res.Vh.data_ptr<T>() + b * vrows * n;
      check_info(gesdd(job, static_cast<int>(m), static_cast<int>(n), w.data_ptr<T>() + b * m * n,
                       res.S.data_ptr<T>() + b * k, u, static_cast<int>(job == 'N' ? 1 : ucols), vt,
                       static_cast<int>(n)),
                 op, "SVD did not converge");
    }
  });
  return res;
}
}  // namespace

SVDResult svd(const Tensor& a, bool full_matrices) {
  if (!autograd::needs_grad(a)) return svd_impl(a, full_matrices ? 'A' : 'S', "svd");
  SVDResult res = untracked([&] { return svd_impl(a, full_matrices ? 'A' : 'S', "svd"); });
  const int64_t m = a.size(-2), n = a.size(-1), k = std::min(m, n);
  // PyTorch's svd_backward (real case); with full_matrices only the first k singular vectors
  // carry a gradient (the rest are not unique).
  autograd::record_multi(
      "svd", {a}, {res.U, res.S, res.Vh}, {res.U, res.S, res.Vh},
      [m, n, k, full_matrices](const std::vector<Tensor>& g, const std::vector<Tensor>& s) {
        Tensor u = s[0], sv = s[1], vh = s[2], gu = g[0], gs = g[1], gvh = g[2];
        if (full_matrices) {
          u = u.slice(-1, 0, k);
          vh = vh.slice(-2, 0, k);
          gu = gu.slice(-1, 0, k);
          gvh = gvh.slice(-2, 0, k);
        }
        // Skipping zero gradients of U and Vh avoids 0/0 for repeated singular values.
        const bool use_u = any(gu).item<bool>(), use_v = any(gvh).item<bool>();
        if (!use_u && !use_v)
          return std::vector<Tensor>{m >= n ? matmul(u, gs.unsqueeze(-1) * vh)
                                            : matmul(u * gs.unsqueeze(-2), vh)};
        Tensor s2 = sv * sv;
        Tensor e = s2.unsqueeze(-2) - s2.unsqueeze(-1) + mat_eye(k, sv.dtype());  // s_j^2 - s_i^2
        Tensor uhgu = use_u ? skew(matmul(mT(u), gu)) : Tensor();
        Tensor vhgv = use_v ? skew(matmul(vh, mT(gvh))) : Tensor();
        Tensor inner = use_u && use_v
                           ? (uhgu * sv.unsqueeze(-2) + sv.unsqueeze(-1) * vhgv) / e
                           : (use_u ? uhgu * (sv.unsqueeze(-2) / e) : sv.unsqueeze(-1) * vhgv / e);
        inner = inner + gs.unsqueeze(-2) * mat_eye(k, gs.dtype());
        Tensor ga;
        if (m > n && use_u) {  // [U inner + (I - U U^T) gU S^-1] Vh
          Tensor gu_s = gu / sv.unsqueeze(-2);
          ga = matmul(matmul(u, inner) + gu_s - matmul(u, matmul(mT(u), gu_s)), vh);
        } else if (m < n && use_v) {  // U [inner Vh + S^-1 gVh (I - V Vh)]
          Tensor s_gvh = gvh / sv.unsqueeze(-1);
          ga = matmul(u, matmul(inner, vh) + s_gvh - matmul(matmul(s_gvh, mT(vh)), vh));
        } else {
          ga = m >= n ? matmul(u, matmul(inner, vh)) : matmul(matmul(u, inner), vh);
        }
        return std::vector<Tensor>{ga};
      });
  return res;
}

std::pair<Tensor, Tensor> eigh(const Tensor& a) {
  if (autograd::needs_grad(a)) {
    // gA = V (diag(gw) + skew(V^T gV) / 2 / E) V^T with E_ij = w_j - w_i (1 on the diagonal).
    auto wv = untracked([&] { return eigh(a); });
    autograd::record_multi(
        "eigh", {a}, {wv.first, wv.second}, {wv.first, wv.second},
        [](const std::vector<Tensor>& g, const std::vector<Tensor>& s) {
          const Tensor &w = s[0], &v = s[1], &gw = g[0], &gv = g[1];
          Tensor id = mat_eye(w.size(-1), w.dtype());
          Tensor inner = gw.unsqueeze(-2) * id;
          if (any(gv).item<bool>()) {  // skipped when zero: no 0/0 for repeated eigenvalues
            Tensor e = w.unsqueeze(-2) - w.unsqueeze(-1) + id;
            inner = inner + skew(matmul(mT(v), gv)) * 0.5 / e;
          }
          return std::vector<Tensor>{matmul(matmul(v, inner), mT(v))};
        });
    return wv;
  }
  check_matrix(a, "eigh", true);
  DType dt = lapack_dtype(a, "eigh");
  const int64_t n = a.size(-1), nb = nbatch(a);
  Tensor v = work_copy(a, dt);
  Tensor w = empty(concat(leading(a.shape(), 2), {n}), dt);
  visit_real(dt, [&]<typename T>() {
    for (int64_t b = 0; b < nb && n > 0; ++b)
      check_info(syevd(static_cast<int>(n), v.data_ptr<T>() + b * n * n, w.data_ptr<T>() + b * n),
                 "eigh", "Eigenvalues did not converge");
  });
  return {w, v};
}

LstsqResult lstsq(const Tensor& a, const Tensor& b, std::optional<double> rcond) {
  RAVEL_CHECK(a.ndim() == 2 && (b.ndim() == 1 || b.ndim() == 2) && b.size(0) == a.size(0),
              "lstsq: incompatible dimensions: a has shape ", a.shape(), ", b has shape ",
              b.shape(), " (expected a [m, n] and b [m] or [m, k])");
  DType dt = promote_types(lapack_dtype(a, "lstsq"), lapack_dtype(b, "lstsq"));
  const int64_t m = a.size(0), n = a.size(1), k = b.ndim() == 1 ? 1 : b.size(1);
  const int64_t mn = std::max(m, n);
  RAVEL_CHECK(mn <= INT_MAX && k <= INT_MAX, "lstsq: matrices too large for LAPACK");
  NoGradGuard no_grad;  // lstsq has no backward: its results never require grad
  LstsqResult res;
  res.rank = 0;
  res.singular_values = empty({std::min(m, n)}, dt);
  Tensor x = zeros({mn, k}, dt);  // gelsd reads b from and writes x to this buffer
  x.slice(0, 0, m).copy_(b.ndim() == 1 ? b.unsqueeze(1) : b);
  double rc = rcond.value_or((dt == DType::Float32 ? std::numeric_limits<float>::epsilon()
                                                   : std::numeric_limits<double>::epsilon()) *
                             static_cast<double>(mn));
  if (m > 0 && n > 0 && k > 0) {
    Tensor w = work_copy(a, dt);
    visit_real(dt, [&]<typename T>() {
      lapack_int rank = 0;
      check_info(
          gelsd(static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), w.data_ptr<T>(),
                x.data_ptr<T>(), static_cast<int>(k), res.singular_values.data_ptr<T>(), rc, &rank),
          "lstsq", "SVD did not converge in Linear Least Squares");
      res.rank = rank;
    });
  }
  res.solution = x.slice(0, 0, n).clone();
  if (b.ndim() == 1) res.solution = res.solution.reshape({n});
  // Residuals: squared norms of the parts of b outside the column space, only when a has full
  // column rank and m > n (NumPy returns an empty array otherwise).
  res.residuals = empty({res.rank == n && m > n ? k : 0}, dt);
  if (res.rank == n && m > n) {
    visit_real(dt, [&]<typename T>() {
      const T* xp = x.data_ptr<T>();
      T* rp = res.residuals.data_ptr<T>();
      for (int64_t j = 0; j < k; ++j) {
        T acc = 0;
        for (int64_t i = n; i < m; ++i) acc += xp[i * k + j] * xp[i * k + j];
        rp[j] = acc;
      }
    });
  }
  return res;
}

Tensor matrix_rank(const Tensor& a) {
  if (a.ndim() < 2) {  // NumPy: 1 unless every element is zero
    Tensor d = a.to(DType::Float64).contiguous();
    const double* p = d.data_ptr<double>();
    bool nonzero = std::any_of(p, p + d.numel(), [](double v) { return v != 0; });
    return scalar_tensor(static_cast<int64_t>(nonzero), DType::Int64);
  }
  SVDResult s = svd_impl(a, 'N', "matrix_rank");
  const int64_t m = a.size(-2), n = a.size(-1), k = std::min(m, n);
  Tensor out = zeros(leading(a.shape(), 2), DType::Int64);
  visit_real(s.S.dtype(), [&]<typename T>() {
    const T* sv = s.S.data_ptr<T>();
    const T eps = std::numeric_limits<T>::epsilon();
    for (int64_t b = 0; b < out.numel(); ++b) {
      const T* row = sv + b * k;
      T tol = k ? *std::max_element(row, row + k) * static_cast<T>(std::max(m, n)) * eps : T(0);
      out.data_ptr<int64_t>()[b] = std::count_if(row, row + k, [&](T v) { return v > tol; });
    }
  });
  return out;
}

// a+ = V diag(1/s) U^T, dropping singular values below 1e-15 * max(s) (NumPy's rcond).
Tensor pinv(const Tensor& a) {
  check_matrix(a, "pinv", false);
  SVDResult s = svd_impl(a, 'S', "pinv");
  const int64_t k = s.S.size(-1), nb = nbatch(a), n = a.size(-1);
  visit_real(s.S.dtype(), [&]<typename T>() {
    for (int64_t b = 0; b < nb; ++b) {
      const T* sv = s.S.data_ptr<T>() + b * k;
      T* vt = s.Vh.data_ptr<T>() + b * k * n;
      T cutoff = k ? static_cast<T>(1e-15) * *std::max_element(sv, sv + k) : T(0);
      for (int64_t r = 0; r < k; ++r) {
        T scale = sv[r] > cutoff ? T(1) / sv[r] : T(0);
        for (int64_t j = 0; j < n; ++j) vt[r * n + j] *= scale;
      }
    }
  });
  return matmul(s.Vh.transpose(-1, -2), s.U.transpose(-1, -2));
}

}  // namespace linalg
}  // namespace ravel
