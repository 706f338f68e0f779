// Multi-head attention from differentiable ravel ops: three projections, a batched matmul per
// side of the softmax, the output projection. Works in [N, H, L, head_dim] layout throughout.
#include "ravel/nn/attention.h"

#include <cmath>
#include <limits>
#include <vector>

#include "ravel/nn/functional/activation.h"
#include "ravel/nn/functional/layers.h"
#include "ravel/nn/init.h"
#include "ravel/ops.h"

namespace ravel::nn {

namespace F = functional;

namespace {

constexpr const char* kOp = "MultiheadAttention";

// A mask as an additive float tensor: bool true -> -inf (not allowed), float as is.
Tensor additive_mask(const Tensor& m, DType dtype, const char* what) {
  if (m.dtype() == DType::Bool)
    return where(m, -std::numeric_limits<double>::infinity(), 0.0).to(dtype);
  RAVEL_CHECK(is_floating(m.dtype()), kOp, ": ", what, " has dtype ", m.dtype(),
              ", expected bool or a float dtype");
  return m.to(dtype);
}

// One more (zero) column of keys for a mask over [..., S].
Tensor pad_last(const Tensor& m) {
  std::vector<std::pair<int64_t, int64_t>> widths(static_cast<size_t>(m.ndim()), {0, 0});
  widths.back() = {0, 1};
  return pad(m, widths);
}

}  // namespace

AttentionOutput multi_head_attention_forward(const Tensor& query, const Tensor& key,
                                             const Tensor& value,
                                             const MultiheadAttentionWeights& w,
                                             const Tensor& key_padding_mask, bool need_weights,
                                             const Tensor& attn_mask, bool average_attn_weights) {
  RAVEL_CHECK(query.ndim() == 3 || query.ndim() == 2, kOp,
              ": expected a 3-D query (or 2-D, unbatched), got ", query.shape());
  RAVEL_CHECK(key.ndim() == query.ndim() && value.ndim() == query.ndim(), kOp, ": query ",
              query.shape(), ", key ", key.shape(), " and value ", value.shape(),
              " must all be batched (3-D) or all unbatched (2-D)");
  const bool batched = query.ndim() == 3;
  const int64_t b_axis = w.batch_first ? 0 : 1, s_axis = 1 - b_axis;
  Tensor q_in = batched ? query : query.unsqueeze(b_axis);
  Tensor k_in = batched ? key : key.unsqueeze(b_axis);
  Tensor v_in = batched ? value : value.unsqueeze(b_axis);
  const int64_t N = q_in.size(b_axis), L = q_in.size(s_axis), E = q_in.size(2);
  int64_t S = k_in.size(s_axis);
  RAVEL_CHECK(k_in.size(b_axis) == N && v_in.size(b_axis) == N && v_in.size(s_axis) == S, kOp,
              ": key ", key.shape(), " and value ", value.shape(),
              " must have the same batch and sequence sizes (query ", query.shape(), ")");
  RAVEL_CHECK(w.out_proj_weight.defined() && w.out_proj_weight.ndim() == 2, kOp,
              ": out_proj_weight must be given, [embed_dim, embed_dim]");
  const int64_t embed = w.out_proj_weight.size(1);
  RAVEL_CHECK(E == embed, kOp, ": query ", query.shape(), " has ", E,
              " features, expected embed_dim ", embed);
  RAVEL_CHECK(w.out_proj_weight.shape() == (Shape{E, E}), kOp, ": out_proj_weight has shape ",
              w.out_proj_weight.shape(), ", expected [", E, ", ", E, "]");
  const int64_t H = w.num_heads;
  RAVEL_CHECK(H > 0 && E % H == 0, kOp, ": embed_dim ", E, " is not divisible by num_heads ", H);
  const int64_t hd = E / H;

  // Projection weights.
  Tensor wq, wk, wv, bq, bk, bv;
  if (w.in_proj_weight.defined()) {
    RAVEL_CHECK(w.in_proj_weight.shape() == (Shape{3 * E, E}), kOp, ": in_proj_weight has shape ",
                w.in_proj_weight.shape(), ", expected [", 3 * E, ", ", E, "]");
    wq = w.in_proj_weight.slice(0, 0, E);
    wk = w.in_proj_weight.slice(0, E, 2 * E);
    wv = w.in_proj_weight.slice(0, 2 * E, 3 * E);
  } else {
    wq = w.q_proj_weight;
    wk = w.k_proj_weight;
    wv = w.v_proj_weight;
    RAVEL_CHECK(wq.defined() && wk.defined() && wv.defined(), kOp,
                ": give in_proj_weight or all of q_proj_weight, k_proj_weight, v_proj_weight");
    RAVEL_CHECK(wq.shape() == (Shape{E, E}), kOp, ": q_proj_weight has shape ", wq.shape(),
                ", expected [", E, ", ", E, "]");
    RAVEL_CHECK(wk.ndim() == 2 && wk.size(0) == E && wv.ndim() == 2 && wv.size(0) == E, kOp,
                ": k_proj_weight ", wk.shape(), " and v_proj_weight ", wv.shape(), " must have ", E,
                " rows");
  }
  RAVEL_CHECK(k_in.size(2) == wk.size(1), kOp, ": key ", key.shape(), " has ", k_in.size(2),
              " features, expected kdim ", wk.size(1));
  RAVEL_CHECK(v_in.size(2) == wv.size(1), kOp, ": value ", value.shape(), " has ", v_in.size(2),
              " features, expected vdim ", wv.size(1));
  if (w.in_proj_bias.defined()) {
    RAVEL_CHECK(w.in_proj_bias.shape() == Shape{3 * E}, kOp, ": in_proj_bias has shape ",
                w.in_proj_bias.shape(), ", expected [", 3 * E, "]");
    bq = w.in_proj_bias.slice(0, 0, E);
    bk = w.in_proj_bias.slice(0, E, 2 * E);
    bv = w.in_proj_bias.slice(0, 2 * E, 3 * E);
  }
  const DType dt = wq.dtype();
  for (const Tensor* t : {&query, &key, &value})
    RAVEL_CHECK(t->dtype() == dt, kOp, ": inputs have dtypes ", query.dtype(), ", ", key.dtype(),
                ", ", value.dtype(), ", expected ", dt, " (the parameters' dtype)");

  Tensor q = F::linear(q_in, wq, bq), k = F::linear(k_in, wk, bk), v = F::linear(v_in, wv, bv);

  // Masks, merged into one additive float tensor that broadcasts to [N, H, L, S].
  Tensor mask;
  if (attn_mask.defined()) {
    if (attn_mask.ndim() == 2) {
      RAVEL_CHECK(attn_mask.shape() == (Shape{L, S}), kOp, ": attn_mask has shape ",
                  attn_mask.shape(), ", expected [", L, ", ", S, "]");
      mask = additive_mask(attn_mask, dt, "attn_mask");
    } else {
      RAVEL_CHECK(attn_mask.shape() == (Shape{N * H, L, S}), kOp, ": attn_mask has shape ",
                  attn_mask.shape(), ", expected [", L, ", ", S, "] or [", N * H, ", ", L, ", ", S,
                  "] (batch * num_heads, L, S)");
      mask = additive_mask(attn_mask, dt, "attn_mask").reshape({N, H, L, S});
    }
  }
  if (key_padding_mask.defined()) {
    const Shape want = batched ? Shape{N, S} : Shape{S};
    RAVEL_CHECK(key_padding_mask.shape() == want, kOp, ": key_padding_mask has shape ",
                key_padding_mask.shape(), ", expected ", want);
    Tensor kp = additive_mask(key_padding_mask, dt, "key_padding_mask").reshape({N, 1, 1, S});
    mask = mask.defined() ? mask + kp : kp;
  }

  // Learned bias key/value: one more key for every batch element (after the projection).
  if (w.bias_k.defined() || w.bias_v.defined()) {
    RAVEL_CHECK(w.bias_k.defined() && w.bias_v.defined() && w.bias_k.shape() == (Shape{1, 1, E}) &&
                    w.bias_v.shape() == (Shape{1, 1, E}),
                kOp, ": bias_k and bias_v must both be [1, 1, ", E, "]");
    const Shape one = w.batch_first ? Shape{N, 1, E} : Shape{1, N, E};
    k = concatenate({k, w.bias_k.expand(one)}, s_axis);
    v = concatenate({v, w.bias_v.expand(one)}, s_axis);
    S += 1;
    if (mask.defined()) mask = pad_last(mask);
  }

  // [L, N, E] or [N, L, E] -> [N, H, L, hd]
  auto heads = [&](const Tensor& t) {
    const int64_t len = t.size(s_axis);
    return w.batch_first ? t.reshape({N, len, H, hd}).permute({0, 2, 1, 3})
                         : t.reshape({len, N, H, hd}).permute({1, 2, 0, 3});
  };
  q = heads(q);
  k = heads(k);
  v = heads(v);
  if (w.add_zero_attn) {
    k = concatenate({k, zeros({N, H, 1, hd}, dt)}, 2);
    v = concatenate({v, zeros({N, H, 1, hd}, dt)}, 2);
    S += 1;
    if (mask.defined()) mask = pad_last(mask);
  }

  Tensor scores = matmul(q * (1.0 / std::sqrt(static_cast<double>(hd))), k.transpose(2, 3));
  if (mask.defined()) scores = scores + mask;  // [N, H, L, S]
  Tensor attn = F::softmax(scores, -1);
  if (w.training && w.dropout > 0) attn = F::dropout(attn, w.dropout, true);
  Tensor out = matmul(attn, v);  // [N, H, L, hd]
  out = w.batch_first ? out.permute({0, 2, 1, 3}).reshape({N, L, E})
                      : out.permute({2, 0, 1, 3}).reshape({L, N, E});
  out = F::linear(out, w.out_proj_weight, w.out_proj_bias);

  AttentionOutput r{batched ? out : out.squeeze(b_axis), Tensor()};
  if (need_weights) {
    r.attn_weights = average_attn_weights ? mean(attn, 1) : attn;
    if (!batched) r.attn_weights = r.attn_weights.squeeze(0);
  }
  return r;
}

MultiheadAttention::MultiheadAttention(int64_t e, int64_t heads,
                                       const MultiheadAttentionOptions& opts)
    : embed_dim(e),
      num_heads(heads),
      head_dim(heads > 0 ? e / heads : 0),
      kdim(opts.kdim ? opts.kdim : e),
      vdim(opts.vdim ? opts.vdim : e),
      options(opts) {
  const int64_t E = embed_dim;
  RAVEL_CHECK(E > 0 && num_heads > 0 && E % num_heads == 0, kOp, ": embed_dim (", E,
              ") must be positive and divisible by num_heads (", num_heads, ")");
  RAVEL_CHECK(kdim > 0 && vdim > 0, kOp, ": kdim (", kdim, ") and vdim (", vdim,
              ") must be positive");
  RAVEL_CHECK(options.dropout >= 0 && options.dropout <= 1, kOp, ": dropout must be in [0, 1], ",
              "got ", options.dropout);
  if (kdim == E && vdim == E) {
    in_proj_weight = register_parameter("in_proj_weight", empty({3 * E, E}));
  } else {
    q_proj_weight = register_parameter("q_proj_weight", empty({E, E}));
    k_proj_weight = register_parameter("k_proj_weight", empty({E, kdim}));
    v_proj_weight = register_parameter("v_proj_weight", empty({E, vdim}));
  }
  if (options.bias) in_proj_bias = register_parameter("in_proj_bias", empty({3 * E}));
  if (options.add_bias_kv) {
    bias_k = register_parameter("bias_k", empty({1, 1, E}));
    bias_v = register_parameter("bias_v", empty({1, 1, E}));
  }
  out_proj = register_module("out_proj", std::make_shared<Linear>(E, E, options.bias));
  reset_parameters();
}

void MultiheadAttention::reset_parameters() {
  for (const Tensor& t : {in_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight})
    if (t.defined()) init::xavier_uniform_(t);
  if (in_proj_bias.defined()) {
    init::zeros_(in_proj_bias);
    init::zeros_(out_proj->bias);
  }
  if (bias_k.defined()) {
    init::xavier_normal_(bias_k);
    init::xavier_normal_(bias_v);
  }
}

Tensor MultiheadAttention::forward(const Tensor& x) {
  return forward(x, x, x, {}, false).attn_output;
}

AttentionOutput MultiheadAttention::forward(const Tensor& query, const Tensor& key,
                                            const Tensor& value, const Tensor& key_padding_mask,
                                            bool need_weights, const Tensor& attn_mask,
                                            bool average_attn_weights) {
  MultiheadAttentionWeights w{.num_heads = num_heads,
                              .in_proj_weight = in_proj_weight,
                              .q_proj_weight = q_proj_weight,
                              .k_proj_weight = k_proj_weight,
                              .v_proj_weight = v_proj_weight,
                              .in_proj_bias = in_proj_bias,
                              .bias_k = bias_k,
                              .bias_v = bias_v,
                              .add_zero_attn = options.add_zero_attn,
                              .out_proj_weight = out_proj->weight,
                              .out_proj_bias = out_proj->bias,
                              .dropout = options.dropout,
                              .training = training_,
                              .batch_first = options.batch_first};
  return multi_head_attention_forward(query, key, value, w, key_padding_mask, need_weights,
                                      attn_mask, average_attn_weights);
}

}  // namespace ravel::nn
