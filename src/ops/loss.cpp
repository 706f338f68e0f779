// Loss functions. cross_entropy and nll_loss with class indices are one node each: a serial
// pass over the samples (checks every target, sums the loss) and a one-pass backward kernel;
// under create_graph their backward is written with ravel ops instead. The other losses are
// built from differentiable ops, following PyTorch's formulas term by term.
#include "ravel/nn/functional/loss.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backend/cpu/vec_math.h"
#include "core/dispatch.h"
#include "core/parallel.h"
#include "ravel/autograd.h"
#include "ravel/nn/functional/activation.h"
#include "ravel/ops.h"

namespace ravel::nn::functional {

namespace {

enum class Reduction { None, Mean, Sum, BatchMean };

Reduction parse_reduction(const std::string& r, const char* op, bool batchmean = false) {
  if (r == "mean") return Reduction::Mean;
  if (r == "sum") return Reduction::Sum;
  if (r == "none") return Reduction::None;
  if (batchmean && r == "batchmean") return Reduction::BatchMean;
  detail::throw_error(op, ": reduction '", r, "' is not valid (expected 'mean', 'sum'",
                      batchmean ? ", 'batchmean'" : "", " or 'none')");
}

Tensor reduce(const Tensor& loss, Reduction r) {
  switch (r) {
    case Reduction::Mean:
      return mean(loss);
    case Reduction::Sum:
      return sum(loss);
    case Reduction::BatchMean:
      return sum(loss) / static_cast<double>(loss.ndim() == 0 ? 1 : loss.size(0));
    default:
      return loss;
  }
}

// Integer targets of the elementwise losses compute in the input's dtype (NumPy's promotion
// would make int64 with float32 a float64).
Tensor like_input(const Tensor& t, const Tensor& input) {
  return is_floating(t.dtype()) ? t : t.to(input.dtype());
}

void check_float_input(const char* op, const Tensor& input) {
  RAVEL_CHECK(is_floating(input.dtype()), op, ": input must be a float tensor, got ",
              dtype_name(input.dtype()), " ", input.shape());
}

template <typename C>
RAVEL_VEC_INLINE C vexp(C x) {
  if constexpr (std::is_same_v<C, float>)
    return vec::exp(x);
  else
    return std::exp(x);
}

// ---------------------------------------------------------------- class-index targets
// Input [N, C, d1, ...] viewed as [outer = N, C, inner = d1 * ...]; target [N, d1, ...].
struct ClassTarget {
  Tensor t;  // int64, contiguous, the sample shape
  int64_t outer = 1, classes = 1, inner = 1;
  std::vector<double> w;  // per-class weight; empty: all ones
  int64_t ignore_index = -100;
};

ClassTarget class_target(const char* op, const Tensor& input, const Tensor& target,
                         const Tensor& weight, int64_t ignore_index) {
  RAVEL_CHECK(is_integral(target.dtype()), op,
              ": target must hold class indices (an integer dtype), got ",
              dtype_name(target.dtype()), " ", target.shape());
  Shape expect = input.shape();
  expect.erase(1);
  RAVEL_CHECK(target.shape() == expect, op, ": target of shape ", target.shape(),
              " does not match input of shape ", input.shape(), "; expected target shape ", expect,
              " (the input's shape without the class dim 1)");
  ClassTarget ct;
  ct.t = target.to(DType::Int64).contiguous();
  ct.outer = input.size(0);
  ct.classes = input.size(1);
  for (int64_t d = 2; d < input.ndim(); ++d) ct.inner *= input.size(d);
  ct.ignore_index = ignore_index;
  if (weight.defined()) {
    RAVEL_CHECK(weight.ndim() == 1 && weight.size(0) == ct.classes, op, ": weight of shape ",
                weight.shape(), " expected [", ct.classes, "] (one per class)");
    ct.w = weight.detach().to_vector<double>();
  }
  return ct;
}

// Per-sample losses -(1 - eps) w_t lp[t] - (eps / C) sum_c w_c lp[c] (0 where ignored); returns
// (total loss, summed weight of the counted targets). Checks every target.
template <typename T>
std::pair<double, double> class_loss_forward(const char* op, const ClassTarget& ct, const T* lp,
                                             T* per, double eps) {
  const int64_t C = ct.classes, inner = ct.inner;
  const int64_t* tp = ct.t.data_ptr<int64_t>();
  double total = 0, denom = 0;
  for (int64_t o = 0; o < ct.outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t idx = o * inner + i, t = tp[idx];
      if (t == ct.ignore_index) {
        per[idx] = T(0);
        continue;
      }
      RAVEL_CHECK(t >= 0 && t < C, op, ": target ", t, " is out of bounds for ", C,
                  " classes (expected 0 to ", C - 1, ", or ignore_index ", ct.ignore_index, ")");
      const T* row = lp + o * C * inner + i;
      const double wt = ct.w.empty() ? 1.0 : ct.w[t];
      double loss = -wt * static_cast<double>(row[t * inner]);
      if (eps > 0) {
        double sm = 0;
        for (int64_t c = 0; c < C; ++c)
          sm -= (ct.w.empty() ? 1.0 : ct.w[c]) * static_cast<double>(row[c * inner]);
        loss = (1 - eps) * loss + eps / static_cast<double>(C) * sm;
      }
      per[idx] = static_cast<T>(loss);
      total += loss;
      denom += wt;
    }
  }
  return {total, denom};
}

// d loss / d z for one sample with upstream scale s: s * (softmax(z) * A - a), where
// a_c = (1 - eps) w_t [c == t] + (eps / C) w_c and A = sum_c a_c (cross_entropy, with
// lp = log_softmax(z)); or d / d lp = -s * a (nll_loss). gs holds s per sample (0 where ignored).
template <typename T>
void class_loss_backward(const ClassTarget& ct, const T* lp, const T* gs, T* gx, double eps,
                         bool ce) {
  const int64_t C = ct.classes, inner = ct.inner;
  const int64_t* tp = ct.t.data_ptr<int64_t>();
  std::vector<T> ew(static_cast<size_t>(C));  // (eps / C) w_c
  double wsum = 0;
  for (int64_t c = 0; c < C; ++c) {
    const double wc = ct.w.empty() ? 1.0 : ct.w[c];
    ew[c] = static_cast<T>(eps / static_cast<double>(C) * wc);
    wsum += wc;
  }
  auto weight_of = [&](int64_t t) { return ct.w.empty() ? 1.0 : ct.w[t]; };
  parallel_for(ct.outer, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, C * inner)),
               [&](int64_t b, int64_t e) {
                 std::vector<T> big_a(static_cast<size_t>(inner));
                 for (int64_t o = b; o < e; ++o) {
                   if (inner == 1) {  // one contiguous row per sample
                     const T s = gs[o];
                     T* gr = gx + o * C;
                     if (s == T(0)) {
                       std::fill(gr, gr + C, T(0));
                       continue;
                     }
                     const T* lr = ce ? lp + o * C : nullptr;
                     const T big = static_cast<T>((1 - eps) * weight_of(tp[o]) +
                                                  eps / static_cast<double>(C) * wsum);
                     if (ce)
                       for (int64_t c = 0; c < C; ++c) gr[c] = s * (vexp(lr[c]) * big - ew[c]);
                     else
                       for (int64_t c = 0; c < C; ++c) gr[c] = -s * ew[c];
                     gr[tp[o]] -= s * static_cast<T>((1 - eps) * weight_of(tp[o]));
                     continue;
                   }
                   const T* lpb = ce ? lp + o * C * inner : nullptr;
                   const T* gsb = gs + o * inner;
                   const int64_t* tb = tp + o * inner;
                   T* gb = gx + o * C * inner;
                   for (int64_t i = 0; i < inner; ++i) {
                     const bool valid = gsb[i] != T(0);
                     big_a[i] = valid ? static_cast<T>((1 - eps) * weight_of(tb[i]) +
                                                       eps / static_cast<double>(C) * wsum)
                                      : T(0);
                   }
                   for (int64_t c = 0; c < C; ++c) {
                     T* gr = gb + c * inner;
                     const T ewc = ew[c];
                     if (ce) {
                       const T* lr = lpb + c * inner;
                       for (int64_t i = 0; i < inner; ++i)
                         gr[i] = gsb[i] * (vexp(lr[i]) * big_a[i] - ewc);
                     } else
                       for (int64_t i = 0; i < inner; ++i) gr[i] = -gsb[i] * ewc;
                   }
                   for (int64_t i = 0; i < inner; ++i) {
                     if (gsb[i] == T(0)) continue;
                     gb[tb[i] * inner + i] -= gsb[i] * static_cast<T>((1 - eps) * weight_of(tb[i]));
                   }
                 }
               });
}

// The dense target distribution a (see class_loss_backward) as a tensor of the input's shape:
// the create_graph form of the backward.
Tensor target_distribution(const ClassTarget& ct, const Tensor& t, const Shape& input_shape,
                           DType dtype, double eps) {
  Tensor valid = t != ct.ignore_index;
  Tensor ts = where(valid, t, zeros_like(t));
  Shape cshape(input_shape.size(), 1);
  cshape[1] = ct.classes;
  Tensor onehot = (arange(ct.classes).reshape(cshape) == ts.unsqueeze(1)).to(dtype);
  Tensor a = onehot * (1.0 - eps) + eps / static_cast<double>(ct.classes);
  if (!ct.w.empty()) a = a * from_vector(ct.w).to(dtype).reshape(cshape);
  return a * valid.unsqueeze(1).to(dtype);
}

// cross_entropy (ce) or nll_loss on input [N, C, d1, ...] with class-index targets.
Tensor class_index_loss(const char* op, const Tensor& input, const Tensor& target,
                        const Tensor& weight, int64_t ignore_index, double eps, Reduction red,
                        bool ce) {
  ClassTarget ct = class_target(op, input, target, weight, ignore_index);
  const DType cdt = input.dtype() == DType::Float64 ? DType::Float64 : DType::Float32;
  Tensor lp;  // log-probabilities in the compute dtype, contiguous (cross_entropy saves them)
  {
    NoGradGuard no_grad;
    lp = ce ? log_softmax(input.to(cdt), 1) : input.to(cdt).contiguous();
  }
  Tensor per = empty(ct.t.shape(), cdt);
  std::pair<double, double> td;
  visit_dtype(cdt, [&]<typename T>() {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>)
      td = class_loss_forward<T>(op, ct, lp.data_ptr<T>(), per.data_ptr<T>(), eps);
  });
  const double denom = td.second;
  Tensor loss = red == Reduction::None  ? per
                : red == Reduction::Sum ? scalar_tensor(td.first, cdt)
                                        : scalar_tensor(td.first / denom, cdt);
  loss = loss.to(input.dtype());
  if (!autograd::needs_grad(input)) return loss;
  Shape in_shape = input.shape();
  Tensor t = ct.t;
  ct.t = Tensor();  // saved instead: the backward may capture no Tensor
  autograd::record(
      op, {input}, loss, ce ? std::vector<Tensor>{input, lp, t} : std::vector<Tensor>{input, t},
      [ct, in_shape, eps, red, denom, ce, cdt](const Tensor& g, const std::vector<Tensor>& s) {
        ClassTarget c = ct;
        c.t = s.back();
        if (is_grad_enabled()) {  // create_graph: the same formula with differentiable ops
          Tensor a = target_distribution(c, c.t, in_shape, g.dtype(), eps);
          Tensor gsb = red == Reduction::None   ? g.unsqueeze(1)
                       : red == Reduction::Mean ? g / denom
                                                : g;
          if (ce) return std::vector<Tensor>{(softmax(s[0], 1) * sum(a, 1, true) - a) * gsb};
          return std::vector<Tensor>{-a * gsb};
        }
        // Per-sample upstream scale, 0 where ignored so those rows get no gradient (where, not
        // a product: a mean over no targets has g / 0 = inf, and 0 * inf is NaN).
        Tensor gc = g.to(cdt);
        if (red == Reduction::Mean) gc = gc / denom;
        Tensor gs = where(c.t != c.ignore_index, gc, zeros_like(gc)).contiguous();
        Tensor gx = empty(in_shape, cdt);
        visit_dtype(cdt, [&]<typename T>() {
          if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>)
            class_loss_backward<T>(c, ce ? s[1].data_ptr<T>() : nullptr, gs.data_ptr<T>(),
                                   gx.data_ptr<T>(), eps, ce);
        });
        return std::vector<Tensor>{gx};
      });
  return loss;
}

// Unbatched input [C] with a 0-d target: computed as a batch of one.
template <typename Fn>
Tensor maybe_unbatched(const Tensor& input, const Tensor& target, Reduction red, const Fn& fn) {
  if (input.ndim() != 1) return fn(input, target);
  Tensor r = fn(input.reshape({1, input.size(0)}), target.reshape({1}));
  return red == Reduction::None ? r.reshape({}) : r;
}

void check_class_input(const char* op, const Tensor& input, const Tensor& target) {
  check_float_input(op, input);
  RAVEL_CHECK(input.ndim() >= 1, op, ": input must have a class dim, got a 0-d tensor");
  RAVEL_CHECK(input.ndim() != 1 || target.ndim() == 0 || !is_integral(target.dtype()), op,
              ": an unbatched input of shape ", input.shape(),
              " takes a 0-d class-index target, got shape ", target.shape());
}

}  // namespace

// ---------------------------------------------------------------- classification
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& o) {
  const char* op = "cross_entropy";
  Reduction red = parse_reduction(o.reduction, op);
  check_class_input(op, input, target);
  const double eps = o.label_smoothing;
  RAVEL_CHECK(eps >= 0.0 && eps <= 1.0, op, ": label_smoothing must be in [0, 1], got ", eps);
  RAVEL_CHECK(target.dtype() != DType::Bool, op,
              ": target must hold class indices (an integer dtype) or class probabilities (a "
              "float dtype, input's shape ",
              input.shape(), "), got bool ", target.shape());
  if (is_integral(target.dtype())) {
    return maybe_unbatched(input, target, red, [&](const Tensor& x, const Tensor& t) {
      return class_index_loss(op, x, t, o.weight, o.ignore_index, eps, red, true);
    });
  }
  // Class probabilities.
  RAVEL_CHECK(target.shape() == input.shape(), op, ": class-probability target of shape ",
              target.shape(), " must have the input's shape ", input.shape(),
              " (class indices need an integer dtype)");
  const int64_t class_dim = input.ndim() == 1 ? 0 : 1;
  const int64_t C = input.size(class_dim);
  Tensor t = eps > 0 ? target * (1.0 - eps) + eps / static_cast<double>(C) : target;
  Tensor prod = log_softmax(input, class_dim) * t;
  if (o.weight.defined()) {
    RAVEL_CHECK(o.weight.ndim() == 1 && o.weight.size(0) == C, op, ": weight of shape ",
                o.weight.shape(), " expected [", C, "] (one per class)");
    Shape ws(static_cast<size_t>(input.ndim()), 1);
    ws[class_dim] = C;
    prod = prod * o.weight.reshape(ws);
  }
  switch (red) {
    case Reduction::None:
      return -sum(prod, class_dim);
    case Reduction::Sum:
      return -sum(prod);
    default:
      return -sum(prod) / static_cast<double>(input.numel() / std::max<int64_t>(C, 1));
  }
}

Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossOptions& o) {
  const char* op = "nll_loss";
  Reduction red = parse_reduction(o.reduction, op);
  check_class_input(op, input, target);
  return maybe_unbatched(input, target, red, [&](const Tensor& x, const Tensor& t) {
    return class_index_loss(op, x, t, o.weight, o.ignore_index, 0.0, red, false);
  });
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight,
                            const std::string& reduction) {
  const char* op = "binary_cross_entropy";
  Reduction red = parse_reduction(reduction, op);
  check_float_input(op, input);
  RAVEL_CHECK(target.shape() == input.shape(), op, ": target of shape ", target.shape(),
              " must have the input's shape ", input.shape());
  {
    NoGradGuard no_grad;
    RAVEL_CHECK(all((input >= 0) & (input <= 1)).item<bool>(), op,
                ": all elements of input should be between 0 and 1");
  }
  Tensor t = like_input(target, input);
  // Logs clamped to >= -100 so that a probability of exactly 0 or 1 gives a finite loss.
  Tensor loss = -(t * clip(log(input), -100, std::nullopt) +
                  (1.0 - t) * clip(log1p(-input), -100, std::nullopt));
  if (weight.defined()) loss = loss * weight;
  return reduce(loss, red);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BCEWithLogitsOptions& o) {
  const char* op = "binary_cross_entropy_with_logits";
  Reduction red = parse_reduction(o.reduction, op);
  check_float_input(op, input);
  RAVEL_CHECK(target.shape() == input.shape(), op, ": target of shape ", target.shape(),
              " must have the input's shape ", input.shape());
  Tensor t = like_input(target, input);
  // (1 - t) x - lw log(sigmoid(x)), lw = 1 + (pos_weight - 1) t: PyTorch's form, stable for
  // large |x| (logsigmoid never takes the log of a rounded-to-zero sigmoid).
  Tensor lw = o.pos_weight.defined() ? (o.pos_weight - 1.0) * t + 1.0 : Tensor();
  Tensor ls = logsigmoid(input);
  Tensor loss = (1.0 - t) * input - (lw.defined() ? lw * ls : ls);
  if (o.weight.defined()) loss = loss * o.weight;
  return reduce(loss, red);
}

// ---------------------------------------------------------------- regression
Tensor mse_loss(const Tensor& input, const Tensor& target, const std::string& reduction) {
  Reduction red = parse_reduction(reduction, "mse_loss");
  Tensor d = input - like_input(target, input);
  return reduce(d * d, red);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction) {
  Reduction red = parse_reduction(reduction, "l1_loss");
  return reduce(abs(input - like_input(target, input)), red);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction,
                      double beta) {
  Reduction red = parse_reduction(reduction, "smooth_l1_loss");
  RAVEL_CHECK(beta >= 0, "smooth_l1_loss: beta must not be negative, got ", beta);
  if (beta == 0.0) return l1_loss(input, target, reduction);
  Tensor d = input - like_input(target, input);
  Tensor ad = abs(d);
  return reduce(where(ad < beta, d * d * (0.5 / beta), ad - 0.5 * beta), red);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, const std::string& reduction,
                  double delta) {
  Reduction red = parse_reduction(reduction, "huber_loss");
  RAVEL_CHECK(delta > 0, "huber_loss: delta must be positive, got ", delta);
  Tensor d = input - like_input(target, input);
  Tensor ad = abs(d);
  return reduce(where(ad < delta, d * d * 0.5, (ad - 0.5 * delta) * delta), red);
}

// ---------------------------------------------------------------- distributions and ranking
Tensor kl_div(const Tensor& input, const Tensor& target, const std::string& reduction,
              bool log_target) {
  Reduction red = parse_reduction(reduction, "kl_div", true);
  Tensor t = like_input(target, input);
  Tensor loss;
  if (log_target) {
    loss = exp(t) * (t - input);
  } else {
    // xlogy(t, t) - t * x, with 0 log 0 = 0; the log sees 1 where t == 0 so no NaN or inf
    // reaches the gradient through the branch where() drops.
    Tensor zero = t == 0;
    Tensor tlogt = where(zero, zeros_like(t), t * log(where(zero, ones_like(t), t)));
    loss = tlogt - t * input;
  }
  return reduce(loss, red);
}

Tensor margin_ranking_loss(const Tensor& input1, const Tensor& input2, const Tensor& target,
                           double margin, const std::string& reduction) {
  const char* op = "margin_ranking_loss";
  Reduction red = parse_reduction(reduction, op);
  RAVEL_CHECK(input1.ndim() == input2.ndim() && input1.ndim() == target.ndim(), op,
              ": all inputs should have the same number of dimensions, got shapes ", input1.shape(),
              ", ", input2.shape(), " and ", target.shape());
  Tensor t = like_input(target, input1);
  return reduce(clip(-t * (input1 - input2) + margin, 0, std::nullopt), red);
}

Tensor cosine_embedding_loss(const Tensor& input1, const Tensor& input2, const Tensor& target,
                             double margin, const std::string& reduction) {
  const char* op = "cosine_embedding_loss";
  Reduction red = parse_reduction(reduction, op);
  const int64_t td = target.ndim();
  RAVEL_CHECK(td == 0 || td == 1, op, ": a 0-d or 1-d target is expected, got shape ",
              target.shape());
  RAVEL_CHECK(input1.ndim() == td + 1 && input2.ndim() == td + 1, op, ": a ", td,
              "-d target expects ", td + 1, "-d inputs, got shapes ", input1.shape(), " and ",
              input2.shape());
  constexpr double kEps = 1e-12;  // PyTorch's, keeps zero vectors from dividing by zero
  Tensor prod = sum(input1 * input2, td);
  Tensor mag1 = sum(input1 * input1, td) + kEps;
  Tensor mag2 = sum(input2 * input2, td) + kEps;
  Tensor cos = prod / sqrt(mag1 * mag2);
  Tensor zero = zeros_like(cos);
  Tensor pos = where(target == 1, 1.0 - cos, zero);
  Tensor neg = where(target == -1, clip(cos - margin, 0, std::nullopt), zero);
  return reduce(pos + neg, red);
}

}  // namespace ravel::nn::functional
