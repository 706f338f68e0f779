// ravel's math toolkit: free functions over Tensor, with NumPy's semantics (broadcasting, type
// promotion, axis conventions). Each family lives in src/ops/<family>.cpp.
//
//   Tensor x = linspace(-1, 1, 5);
//   Tensor y = where(x > 0, exp(x), zeros_like(x));      // elementwise
//   Tensor m = mean(x.reshape({5, 1}) * x, {0, 1});       // reductions over any axes
//   auto [vals, idx] = topk(x, 2);                         // sorting and search
//   Tensor q = matmul(randn({4, 3, 3}), randn({3, 2}));    // linear algebra, batch broadcast
#pragma once
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "ravel/tensor.h"

namespace ravel {

// Which axes an op reduces over: Axes() = all axes (NumPy axis=None); Axes(1); Axes({0, 2}).
struct Axes {
  bool all = true;
  Shape dims;
  Axes() = default;
  Axes(int64_t a) : all(false), dims{a} {}  // NOLINT
  Axes(int a) : all(false), dims{a} {}      // NOLINT
  Axes(std::initializer_list<int64_t> a) : all(false), dims(a) {}
  Axes(const Shape& a) : all(false), dims(a) {}  // NOLINT
};

// =============================== elementwise (elementwise.cpp) ===============================
// Binary ops broadcast and promote (promote_types). Division of integers gives float
// (true_divide); floor_divide and mod follow Python/NumPy signs; pow of integers stays integer.
// Integer overflow wraps; integer x / 0 and x % 0 give 0; shifts by >= the bit width give 0
// (-1 for a negative value shifted right). Bool: sub and negative throw (as NumPy);
// floor_divide, mod, fmod, pow and shifts compute bool in int8.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
// True division. Integer and bool inputs give float32 (NumPy: float64), like the float-only
// unary functions below; so do atan2, hypot, copysign and logaddexp (NumPy: float16/32/64).
Tensor div(const Tensor& a, const Tensor& b);
Tensor floor_divide(const Tensor& a, const Tensor& b);
Tensor mod(const Tensor& a, const Tensor& b);   // sign of the divisor, as numpy.mod
Tensor fmod(const Tensor& a, const Tensor& b);  // sign of the dividend, as C fmod
Tensor pow(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Scalar& b);      // integer ^ negative integer throws, as NumPy
Tensor maximum(const Tensor& a, const Tensor& b);  // NaN propagates
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor fmax(const Tensor& a, const Tensor& b);  // NaN ignored
Tensor fmin(const Tensor& a, const Tensor& b);
Tensor atan2(const Tensor& a, const Tensor& b);
Tensor hypot(const Tensor& a, const Tensor& b);
Tensor copysign(const Tensor& a, const Tensor& b);
Tensor logaddexp(const Tensor& a, const Tensor& b);
Tensor equal(const Tensor& a, const Tensor& b);
Tensor not_equal(const Tensor& a, const Tensor& b);
Tensor less(const Tensor& a, const Tensor& b);
Tensor less_equal(const Tensor& a, const Tensor& b);
Tensor greater(const Tensor& a, const Tensor& b);
Tensor greater_equal(const Tensor& a, const Tensor& b);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_xor(const Tensor& a, const Tensor& b);
Tensor bitwise_and(const Tensor& a, const Tensor& b);  // integers and bool
Tensor bitwise_or(const Tensor& a, const Tensor& b);
Tensor bitwise_xor(const Tensor& a, const Tensor& b);
Tensor left_shift(const Tensor& a, const Tensor& b);
Tensor right_shift(const Tensor& a, const Tensor& b);
// Scalar forms (weak scalar promotion, see dtype.h; NumPy 2 / NEP 50). An integer scalar out of
// the range of an integer tensor's dtype throws (uint8 + 300), as NumPy 2; comparisons instead
// compare values (int8 < 1000 is all true, int64 < 2.5 compares in float64).
Tensor add(const Tensor& a, const Scalar& b);
Tensor sub(const Tensor& a, const Scalar& b);
Tensor mul(const Tensor& a, const Scalar& b);
Tensor div(const Tensor& a, const Scalar& b);
Tensor maximum(const Tensor& a, const Scalar& b);
Tensor minimum(const Tensor& a, const Scalar& b);

// Unary. Float-only functions (exp, sin, ...) turn integer and bool inputs into float32
// (NumPy gives float64 for int64; ravel's default float is float32) and keep float dtypes.
Tensor neg(const Tensor& a);
Tensor positive(const Tensor& a);
Tensor abs(const Tensor& a);
Tensor sign(const Tensor& a);
Tensor reciprocal(const Tensor& a);  // float-only: integers give float32 (NumPy: integer 1/x)
Tensor square(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor rsqrt(const Tensor& a);  // 1 / sqrt(x) (not in NumPy)
Tensor cbrt(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor exp2(const Tensor& a);
Tensor expm1(const Tensor& a);
Tensor log(const Tensor& a);
Tensor log2(const Tensor& a);
Tensor log10(const Tensor& a);
Tensor log1p(const Tensor& a);
Tensor sin(const Tensor& a);
Tensor cos(const Tensor& a);
Tensor tan(const Tensor& a);
Tensor asin(const Tensor& a);
Tensor acos(const Tensor& a);
Tensor atan(const Tensor& a);
Tensor sinh(const Tensor& a);
Tensor cosh(const Tensor& a);
Tensor tanh(const Tensor& a);
Tensor asinh(const Tensor& a);
Tensor acosh(const Tensor& a);
Tensor atanh(const Tensor& a);
Tensor erf(const Tensor& a);  // as math.erf (not in NumPy)
Tensor erfc(const Tensor& a);
Tensor sigmoid(const Tensor& a);  // 1 / (1 + exp(-x)) (not in NumPy)
// floor, ceil, trunc and round keep integer and bool dtypes (NumPy >= 2.1; NumPy 1.x gives float);
// square of bool gives int8, as NumPy.
Tensor floor(const Tensor& a);  // integers pass through unchanged
Tensor ceil(const Tensor& a);
Tensor round(const Tensor& a, int64_t decimals = 0);  // half to even, as numpy.round
Tensor trunc(const Tensor& a);
Tensor logical_not(const Tensor& a);
Tensor bitwise_not(const Tensor& a);
Tensor isnan(const Tensor& a);
Tensor isinf(const Tensor& a);
Tensor isfinite(const Tensor& a);
Tensor signbit(const Tensor& a);
Tensor deg2rad(const Tensor& a);
Tensor rad2deg(const Tensor& a);

// clip = minimum(maximum(a, lo), hi) (NaN propagates). Integer bounds outside an integer
// tensor's range are clamped to it (the result keeps the tensor's dtype).
Tensor clip(const Tensor& a, std::optional<Scalar> lo, std::optional<Scalar> hi);
Tensor clip(const Tensor& a, const Tensor& lo, const Tensor& hi);
Tensor nan_to_num(const Tensor& a, double nan = 0.0, std::optional<double> posinf = std::nullopt,
                  std::optional<double> neginf = std::nullopt);
Tensor lerp(const Tensor& a, const Tensor& b, const Tensor& weight);  // a + w * (b - a)
Tensor lerp(const Tensor& a, const Tensor& b, const Scalar& weight);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Scalar& a, const Scalar& b);  // dtype from the scalars'
                                                                     // defaults (int64, float32)
// Computed in the promoted float dtype (integers in float64), as NumPy.
Tensor isclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8,
               bool equal_nan = false);
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8,
              bool equal_nan = false);
bool array_equal(const Tensor& a, const Tensor& b);  // same shape and values

// ================================= reductions (reduce.cpp) =================================
// Axes: all (Axes()), one, or several; negative axes count from the end; a repeated axis is an
// error. `dtype` overrides the accumulation/result dtype. sum/prod/cumsum/cumprod of bool and
// integers give int64 (as NumPy; uint8 too, where NumPy gives uint64: ravel has no uint64);
// float16/bfloat16 accumulate in float32 and return their own dtype. mean, var, std, norm and
// logsumexp of integers give float32 (ravel's default float; NumPy: float64). float32 sums are
// pairwise like NumPy's. amax/amin/argmax/argmin propagate NaN (argmax: the first NaN) and, like
// NumPy, raise on an empty reduction; sum of nothing is 0, prod 1, logsumexp -inf. count_nonzero
// with Axes() gives a 0-d int64 tensor (NumPy: a Python int).
Tensor sum(const Tensor& a, const Axes& axes = {}, bool keepdims = false,
           std::optional<DType> dtype = std::nullopt);
Tensor mean(const Tensor& a, const Axes& axes = {}, bool keepdims = false,
            std::optional<DType> dtype = std::nullopt);
Tensor prod(const Tensor& a, const Axes& axes = {}, bool keepdims = false,
            std::optional<DType> dtype = std::nullopt);
Tensor amax(const Tensor& a, const Axes& axes = {}, bool keepdims = false);  // numpy.max
Tensor amin(const Tensor& a, const Axes& axes = {}, bool keepdims = false);
// No axis: index into the flattened tensor. Ties give the first index.
Tensor argmax(const Tensor& a, std::optional<int64_t> axis = std::nullopt, bool keepdims = false);
Tensor argmin(const Tensor& a, std::optional<int64_t> axis = std::nullopt, bool keepdims = false);
// Divides by max(n - ddof, 0), as NumPy (so too few elements give inf or NaN).
Tensor var(const Tensor& a, const Axes& axes = {}, int64_t ddof = 0, bool keepdims = false);
Tensor std(const Tensor& a, const Axes& axes = {}, int64_t ddof = 0, bool keepdims = false);
// numpy.linalg.norm. ord "fro" (the default): sqrt(sum(x^2)) over the given axes, any number of
// them (NumPy allows 'fro' only for 2 axes; ord=None over all axes is this). Numeric ord over
// one axis (or Axes() on a 1-D tensor), a vector norm: inf, -inf (max/min |x|), 0 (count of
// nonzeros), any other p: sum(|x|^p)^(1/p). Over two axes (or Axes() on a 2-D tensor), a matrix
// norm: 1, -1 (max/min column sum of |x|), inf, -inf (max/min row sum). Not supported (they
// need singular values): 'nuc' and matrix ord 2/-2. float16 computes in float32.
Tensor norm(const Tensor& a, const std::string& ord = "fro", const Axes& axes = {},
            bool keepdims = false);
Tensor norm(const Tensor& a, double ord, const Axes& axes = {}, bool keepdims = false);
Tensor all(const Tensor& a, const Axes& axes = {}, bool keepdims = false);
Tensor any(const Tensor& a, const Axes& axes = {}, bool keepdims = false);
// log(sum(exp(x))), shifted by the max for stability (scipy.special.logsumexp).
Tensor logsumexp(const Tensor& a, const Axes& axes = {}, bool keepdims = false);
Tensor count_nonzero(const Tensor& a, const Axes& axes = {}, bool keepdims = false);
// No axis: over the flattened tensor. float16/bfloat16 round every step, as NumPy's accumulate.
Tensor cumsum(const Tensor& a, std::optional<int64_t> axis = std::nullopt,
              std::optional<DType> dtype = std::nullopt);
Tensor cumprod(const Tensor& a, std::optional<int64_t> axis = std::nullopt,
               std::optional<DType> dtype = std::nullopt);

// ============================== sorting and search (sort.cpp) ===============================
// NaN sorts after every number (NumPy's order); descending is the reverse order (NaN first) with
// ties still in their original order. A 0-d tensor sorts to a copy of itself (NumPy raises).
Tensor sort(const Tensor& a, int64_t axis = -1, bool descending = false);     // stable
Tensor argsort(const Tensor& a, int64_t axis = -1, bool descending = false);  // stable, int64
// Largest (or smallest) k along axis, sorted; returns (values, int64 indices). Ties: the lower
// index first; NaN counts as the largest value (as torch.topk).
std::pair<Tensor, Tensor> topk(const Tensor& a, int64_t k, int64_t axis = -1, bool largest = true);
struct UniqueResult {
  Tensor values;   // sorted unique values of the flattened input (all NaNs count as one)
  Tensor indices;  // first occurrence of each (int64), if requested
  Tensor inverse;  // 1-D: index into values for each flattened input element (int64), if requested
  Tensor counts;   // occurrences of each (int64), if requested
};
UniqueResult unique(const Tensor& a, bool return_index = false, bool return_inverse = false,
                    bool return_counts = false);
// `sorted` is 1-D; both are compared in promote_types of the two dtypes.
Tensor searchsorted(const Tensor& sorted, const Tensor& values, bool right = false);  // int64
// x: 1-D non-negative integers or bools. Counts are int64; with weights, float64 (as NumPy).
Tensor bincount(const Tensor& x, std::optional<Tensor> weights = std::nullopt,
                int64_t minlength = 0);
// numpy.histogram with `bins` equal-width bins over [lo, hi] (default: data min/max).
// Returns (int64 counts, edges); edges are float64 for integer input, else the input's dtype
// (bfloat16, absent from NumPy, bins in float32).
std::pair<Tensor, Tensor> histogram(const Tensor& a, int64_t bins = 10,
                                    std::optional<std::pair<double, double>> range = std::nullopt);
Tensor nonzero(const Tensor& a);  // [n, ndim] int64, C order (torch.nonzero / np.argwhere)

// ================================= shape ops (shape.cpp) ===================================
Tensor reshape(const Tensor& a, const Shape& shape);
Tensor transpose(const Tensor& a);
Tensor permute(const Tensor& a, const Shape& axes);
Tensor swapaxes(const Tensor& a, int64_t a1, int64_t a2);
Tensor moveaxis(const Tensor& a, int64_t src, int64_t dst);
Tensor squeeze(const Tensor& a, std::optional<int64_t> axis = std::nullopt);
Tensor unsqueeze(const Tensor& a, int64_t axis);  // numpy.expand_dims
Tensor broadcast_to(const Tensor& a, const Shape& shape);
std::vector<Tensor> broadcast_tensors(const std::vector<Tensor>& ts);
Tensor concatenate(const std::vector<Tensor>& ts, int64_t axis = 0);  // promotes dtypes
Tensor stack(const std::vector<Tensor>& ts, int64_t axis = 0);
// split into `sections` equal parts (error if not divisible), as numpy.split
std::vector<Tensor> split(const Tensor& a, int64_t sections, int64_t axis = 0);
// split at the given indices, as numpy.split(a, [i, j])
std::vector<Tensor> split_at(const Tensor& a, const std::vector<int64_t>& indices,
                             int64_t axis = 0);
// `chunks` nearly equal parts (numpy.array_split)
std::vector<Tensor> chunk(const Tensor& a, int64_t chunks, int64_t axis = 0);
Tensor flip(const Tensor& a, const Axes& axes = {});  // views
Tensor roll(const Tensor& a, int64_t shift, std::optional<int64_t> axis = std::nullopt);
Tensor roll(const Tensor& a, const Shape& shifts, const Shape& axes);
// pad_width: one (before, after) per axis, or a single pair for all axes; mode "constant",
// "reflect" or "edge".
Tensor pad(const Tensor& a, const std::vector<std::pair<int64_t, int64_t>>& pad_width,
           const std::string& mode = "constant", const Scalar& value = 0);
Tensor repeat(const Tensor& a, int64_t repeats, std::optional<int64_t> axis = std::nullopt);
Tensor repeat(const Tensor& a, const Tensor& repeats, std::optional<int64_t> axis = std::nullopt);
Tensor tile(const Tensor& a, const Shape& reps);
// tril/triu need at least 2 dimensions (NumPy turns a 1-D input into a matrix); batched.
Tensor tril(const Tensor& a, int64_t k = 0);
Tensor triu(const Tensor& a, int64_t k = 0);
Tensor diag(const Tensor& a, int64_t k = 0);  // 1-D -> 2-D matrix, 2-D -> its diagonal (copy)
// indexing "xy" (NumPy's default) or "ij"
std::vector<Tensor> meshgrid(const std::vector<Tensor>& ts, const std::string& indexing = "xy");
Tensor ravel(const Tensor& a);  // flattened, a view when possible

// ================================ indexing (index.cpp) =====================================
// Tensor::index / index_put_ implement NumPy's basic and advanced indexing. One difference:
// index_put_ reads a value that overlaps the target in full before writing (as if copied);
// NumPy 1.24 may read it while writing with integer-array indices. Also:
Tensor take(const Tensor& a, const Tensor& indices, std::optional<int64_t> axis = std::nullopt);
Tensor take_along_axis(const Tensor& a, const Tensor& indices, int64_t axis);
// a[mask], 1-D; a and mask broadcast together first (as torch.masked_select)
Tensor masked_select(const Tensor& a, const Tensor& mask);
// torch.gather / torch.scatter_add (out-of-place); unlike torch, negative indices count from the
// end (as numpy.take_along_axis) and scatter_add casts src to a's dtype.
Tensor gather(const Tensor& a, int64_t axis, const Tensor& index);
Tensor scatter_add(const Tensor& a, int64_t axis, const Tensor& index, const Tensor& src);

// =============================== linear algebra (linalg.cpp) ===============================
// Products promote dtypes (promote_types) and accept views: float32/float64 go to OpenBLAS
// (transposed views by the transpose flag, no copy), float16/bfloat16 are computed in float32 and
// rounded once (NumPy computes float16 in float16: last-bit differences), integers and bool use a
// wrapping integer loop as NumPy does.
Tensor matmul(const Tensor& a, const Tensor& b);  // numpy.matmul: 1-D promotion, batch broadcast
Tensor dot(const Tensor& a, const Tensor& b);     // numpy.dot, any number of dimensions
Tensor vdot(const Tensor& a, const Tensor& b);
Tensor outer(const Tensor& a, const Tensor& b);
Tensor inner(const Tensor& a, const Tensor& b);
Tensor tensordot(const Tensor& a, const Tensor& b, int64_t axes = 2);
// Subscripts as NumPy: letters, "...", "->" or implicit output; repeated labels take diagonals,
// size-1 axes broadcast. Always returns a new tensor (NumPy may return a view of the input).
Tensor einsum(const std::string& subscripts, const std::vector<Tensor>& operands);
// Sum of the diagonal over axes 0 and 1; integers and bool give int64 (NumPy gives uint64 for
// uint8, which ravel lacks).
Tensor trace(const Tensor& a, int64_t offset = 0);
// numpy.linalg via LAPACK, batched over leading axes. float32 stays float32, integers and bool
// compute in float64 (as NumPy); float16/bfloat16 raise ravel::Error (as NumPy). NaN or inf
// input raises ravel::Error (LAPACKE rejects it; NumPy would return NaNs for inv/solve/det).
namespace linalg {
Tensor inv(const Tensor& a);  // singular: ravel::Error "inv: Singular matrix"
// b is a vector [..., n] when 1-D, else matrices [..., n, k] (NumPy 2's rule; NumPy 1.x also
// took b of a.ndim - 1 dimensions as a stack of vectors).
Tensor solve(const Tensor& a, const Tensor& b);
Tensor det(const Tensor& a);
std::pair<Tensor, Tensor> slogdet(const Tensor& a);  // (sign, log|det|)
Tensor cholesky(const Tensor& a);                    // lower; reads the lower triangle
std::pair<Tensor, Tensor> qr(const Tensor& a);       // reduced: Q [m,k], R [k,n]; signs may differ
struct SVDResult {
  Tensor U, S, Vh;
};
SVDResult svd(const Tensor& a, bool full_matrices = true);  // vector signs may differ from NumPy
// ascending eigenvalues, eigenvectors in columns; reads the lower triangle (UPLO='L')
std::pair<Tensor, Tensor> eigh(const Tensor& a);
// 2-D a only (as NumPy); rcond defaults to eps * max(m, n) (NumPy 2's default, rcond=None).
// Not differentiable (its results never require grad).
struct LstsqResult {
  Tensor solution, residuals;
  int64_t rank;
  Tensor singular_values;
};
LstsqResult lstsq(const Tensor& a, const Tensor& b, std::optional<double> rcond = std::nullopt);
Tensor matrix_rank(const Tensor& a);  // int64; tolerance S.max * max(m, n) * eps, as NumPy
Tensor pinv(const Tensor& a);         // cuts singular values below 1e-15 * max (NumPy's rcond)
}  // namespace linalg

}  // namespace ravel
