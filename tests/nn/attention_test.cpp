// MultiheadAttention against PyTorch: ravel's initialised parameters are loaded into
// torch.nn.MultiheadAttention by name (strict), both run the same inputs and masks, and the
// output, the attention weights, the input gradients and every parameter's gradient are
// compared. Plus gradcheck in float64 (through the weights and a float mask), dropout and errors.
#include "ravel/nn/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "ravel/ravel.h"
#include "support/expect_error.h"
#include "support/gradcheck.h"
#include "support/module_parity.h"
#include "support/numpy_oracle.h"

namespace ravel {
namespace {

using testing::flat_grads;
using testing::flat_params;
using testing::gradcheck;
using testing::kTorchModuleHelpers;
using testing::matches;
using testing::py_bool;
using testing::py_names;
using testing::TorchOracle;

constexpr double kRtol = 1e-4, kAtol = 1e-5;
constexpr int64_t kE = 8, kH = 2, kN = 2, kL = 3, kS = 4;

enum class Mask { None, KeyPadding, FloatAttn, BoolAttn, Float3dAndPadding, Bool3d };

struct MhaCase {
  Mask mask = Mask::None;
  bool batch_first = false;
  int64_t kdim = 0, vdim = 0;  // 0: embed_dim
  bool average = true;
  bool bias = true, add_bias_kv = false, add_zero_attn = false;
  bool batched = true;
};

std::string describe(const MhaCase& c) {
  return "mask=" + std::to_string(static_cast<int>(c.mask)) +
         " batch_first=" + py_bool(c.batch_first) + " kdim=" + std::to_string(c.kdim) +
         " vdim=" + std::to_string(c.vdim) + " average=" + py_bool(c.average) +
         " bias=" + py_bool(c.bias) + " bias_kv=" + py_bool(c.add_bias_kv) +
         " zero_attn=" + py_bool(c.add_zero_attn) + " batched=" + py_bool(c.batched);
}

struct MhaRun {
  MhaCase c;
  int handle = -1;
  Tensor out, weights, gq, gk, gv, gparams;
};

// A bool mask with no fully masked row: column 0 always allowed.
Tensor bool_mask(const Shape& shape, Generator& gen) {
  Tensor m = rand(shape, gen) > 0.6;
  m.index_put_({ellipsis, 0}, false);
  return m;
}

MhaRun run_case(const MhaCase& c, TorchOracle& torch, Generator& gen) {
  nn::MultiheadAttention m(kE, kH,
                           {.bias = c.bias,
                            .add_bias_kv = c.add_bias_kv,
                            .add_zero_attn = c.add_zero_attn,
                            .kdim = c.kdim,
                            .vdim = c.vdim,
                            .batch_first = c.batch_first});
  const int64_t kd = c.kdim ? c.kdim : kE, vd = c.vdim ? c.vdim : kE;
  auto shape = [&](int64_t len, int64_t dim) {
    return !c.batched ? Shape{len, dim} : c.batch_first ? Shape{kN, len, dim} : Shape{len, kN, dim};
  };
  Tensor q = randn(shape(kL, kE), gen).requires_grad_();
  Tensor k = randn(shape(kS, kd), gen).requires_grad_();
  Tensor v = randn(shape(kS, vd), gen).requires_grad_();
  Tensor kpm, am;
  const Shape kpm_shape = c.batched ? Shape{kN, kS} : Shape{kS};
  const int64_t nh = c.batched ? kN * kH : kH;
  switch (c.mask) {
    case Mask::None:
      break;
    case Mask::KeyPadding:
      kpm = bool_mask(kpm_shape, gen);
      break;
    case Mask::FloatAttn:
      am = randn({kL, kS}, gen);
      break;
    case Mask::BoolAttn:
      am = bool_mask({kL, kS}, gen);
      break;
    case Mask::Float3dAndPadding:
      am = randn({nh, kL, kS}, gen);
      kpm = bool_mask(kpm_shape, gen);
      break;
    case Mask::Bool3d:
      am = bool_mask({nh, kL, kS}, gen);
      break;
  }
  nn::AttentionOutput y = m.forward(q, k, v, kpm, true, am, c.average);
  Tensor wo = randn(y.attn_output.shape(), gen), ww = randn(y.attn_weights.shape(), gen);
  ((y.attn_output * wo).sum() + (y.attn_weights * ww).sum()).backward();
  MhaRun r;
  r.c = c;
  r.out = y.attn_output.detach();
  r.weights = y.attn_weights.detach();
  r.gq = q.grad();
  r.gk = k.grad();
  r.gv = v.grad();
  r.gparams = flat_grads(m);

  std::string script =
      std::string(kTorchModuleHelpers) + "names = " + py_names(m) +
      "\nm = nn.MultiheadAttention(8, 2, bias=" + py_bool(c.bias) +
      ", add_bias_kv=" + py_bool(c.add_bias_kv) + ", add_zero_attn=" + py_bool(c.add_zero_attn) +
      ", kdim=" + std::to_string(kd) + ", vdim=" + std::to_string(vd) +
      ", batch_first=" + py_bool(c.batch_first) +
      ")\n"
      "load(m, h, names)\n"
      "q, k, v = leaf(a), leaf(b), leaf(c)\n"
      "o, w = m(q, k, v, key_padding_mask=" +
      (kpm.defined() ? "torch.tensor(d)" : "None") +
      ", need_weights=True, attn_mask=" + (am.defined() ? "torch.tensor(e)" : "None") +
      ", average_attn_weights=" + py_bool(c.average) +
      ")\n"
      "loss = (o * torch.tensor(f)).sum() + (w * torch.tensor(g)).sum()\n"
      "loss.backward()\n"
      "out = (o, w, q.grad, k.grad, v.grad, flat_grad(m, names))";
  Tensor none = zeros({1});
  r.handle =
      torch.add_script(script, {q.detach(), k.detach(), v.detach(), kpm.defined() ? kpm : none,
                                am.defined() ? am : none, wo, ww, flat_params(m)});
  return r;
}

TEST(AttentionTest, MatchesTorch) {
  Generator gen(21);
  TorchOracle torch;
  std::vector<MhaCase> cases;
  for (Mask mask : {Mask::None, Mask::KeyPadding, Mask::FloatAttn, Mask::BoolAttn,
                    Mask::Float3dAndPadding, Mask::Bool3d})
    for (bool bf : {false, true}) cases.push_back({.mask = mask, .batch_first = bf});
  for (bool bf : {false, true}) {
    cases.push_back({.mask = Mask::KeyPadding, .batch_first = bf, .kdim = 5, .vdim = 3});
    cases.push_back({.mask = Mask::FloatAttn, .batch_first = bf, .average = false});
    cases.push_back({.mask = Mask::KeyPadding, .batch_first = bf, .bias = false});
    cases.push_back({.mask = Mask::Float3dAndPadding,
                     .batch_first = bf,
                     .add_bias_kv = true,
                     .add_zero_attn = true});
    cases.push_back({.mask = Mask::BoolAttn, .batch_first = bf, .add_zero_attn = true});
    cases.push_back(
        {.mask = Mask::Float3dAndPadding, .batch_first = bf, .kdim = 6, .batched = false});
    cases.push_back({.mask = Mask::None, .batch_first = bf, .average = false, .batched = false});
  }
  std::vector<MhaRun> runs;
  for (const MhaCase& c : cases) runs.push_back(run_case(c, torch, gen));
  torch.run();
  for (const MhaRun& r : runs) {
    SCOPED_TRACE(describe(r.c));
    ASSERT_EQ(torch.error(r.handle), "");
    const std::vector<Tensor>& ref = torch.results(r.handle);
    EXPECT_TRUE(matches(r.out, ref[0], kRtol, kAtol));
    EXPECT_TRUE(matches(r.weights, ref[1], kRtol, kAtol));
    EXPECT_TRUE(matches(r.gq, ref[2], kRtol, kAtol));
    EXPECT_TRUE(matches(r.gk, ref[3], kRtol, kAtol));
    EXPECT_TRUE(matches(r.gv, ref[4], kRtol, kAtol));
    EXPECT_TRUE(matches(r.gparams, ref[5], kRtol, kAtol));
  }
}

TEST(AttentionTest, ParametersAndInit) {
  manual_seed(1);
  nn::MultiheadAttention m(8, 2);
  std::vector<std::string> names;
  for (const auto& [name, p] : m.named_parameters()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight",
                                             "out_proj.bias"}));
  EXPECT_EQ(m.in_proj_weight.shape(), (Shape{24, 8}));
  // xavier_uniform_ over [3E, E]: bound sqrt(6 / (E + 3E)); biases zero
  const double bound = std::sqrt(6.0 / 32.0);
  EXPECT_LE(amax(abs(m.in_proj_weight)).item<double>(), bound);
  EXPECT_GT(amax(abs(m.in_proj_weight)).item<double>(), 0.8 * bound);
  EXPECT_EQ(count_nonzero(m.in_proj_bias).item<int64_t>(), 0);
  EXPECT_EQ(count_nonzero(m.out_proj->bias).item<int64_t>(), 0);
  nn::MultiheadAttention sep(8, 4, {.bias = false, .add_bias_kv = true, .kdim = 3, .vdim = 5});
  names.clear();
  for (const auto& [name, p] : sep.named_parameters()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"q_proj_weight", "k_proj_weight", "v_proj_weight",
                                             "bias_k", "bias_v", "out_proj.weight"}));
  EXPECT_EQ(sep.k_proj_weight.shape(), (Shape{8, 3}));
  EXPECT_FALSE(sep.in_proj_weight.defined());
  // self-attention through operator()
  Tensor x = randn({3, 2, 8});
  EXPECT_TRUE(matches(m(x), m.forward(x, x, x).attn_output, 0, 0));
  EXPECT_FALSE(m.forward(x, x, x, {}, false).attn_weights.defined());
}

// Dropout on the attention weights: training only; kept weights are scaled by 1 / (1 - p).
TEST(AttentionTest, Dropout) {
  Generator gen(3);
  nn::MultiheadAttention m(8, 2, {.dropout = 0.5});
  Tensor x = randn({4, 2, 8}, gen);
  m.eval();
  Tensor w_eval = m.forward(x, x, x, {}, true, {}, false).attn_weights;
  m.train();
  Tensor w_train = m.forward(x, x, x, {}, true, {}, false).attn_weights;
  Tensor kept = w_train != 0;
  EXPECT_GT(count_nonzero(kept).item<int64_t>(), 0);
  EXPECT_LT(count_nonzero(kept).item<int64_t>(), w_train.numel());
  EXPECT_TRUE(matches(w_train, where(kept, w_eval * 2.0, zeros_like(w_eval)), 1e-6, 1e-6));
}

// float64 finite differences through the inputs, the weights and a float mask.
TEST(AttentionTest, Gradcheck) {
  Generator gen(8);
  const DType f64 = DType::Float64;
  const int64_t E = 4, H = 2, N = 2, L = 2, S = 3;
  Tensor kpm = zeros({N, S}, DType::Bool);
  kpm.index_put_({0, 2}, true);
  for (bool separate : {false, true}) {
    SCOPED_TRACE(separate ? "q/k/v_proj_weight" : "in_proj_weight");
    const int64_t kd = separate ? 3 : E;
    // query, key, value, attn_mask, out_w, out_b, in_proj_bias, then the projection weights
    std::vector<Tensor> in{randn({L, N, E}, gen, f64),    randn({S, N, kd}, gen, f64),
                           randn({S, N, kd}, gen, f64),   randn({L, S}, gen, f64),
                           randn({E, E}, gen, f64) * 0.5, randn({E}, gen, f64),
                           randn({3 * E}, gen, f64)};
    if (separate) {
      in.push_back(randn({E, E}, gen, f64) * 0.5);
      in.push_back(randn({E, kd}, gen, f64) * 0.5);
      in.push_back(randn({E, kd}, gen, f64) * 0.5);
    } else {
      in.push_back(randn({3 * E, E}, gen, f64) * 0.5);
    }
    auto f = [&](const std::vector<Tensor>& v) {
      nn::MultiheadAttentionWeights w{
          .num_heads = H, .in_proj_bias = v[6], .out_proj_weight = v[4], .out_proj_bias = v[5]};
      if (separate) {
        w.q_proj_weight = v[7];
        w.k_proj_weight = v[8];
        w.v_proj_weight = v[9];
      } else {
        w.in_proj_weight = v[7];
      }
      nn::AttentionOutput r =
          nn::multi_head_attention_forward(v[0], v[1], v[2], w, kpm, true, v[3], false);
      return r.attn_output.sum() + (r.attn_weights * r.attn_weights).sum();
    };
    EXPECT_TRUE(gradcheck(f, in));
  }
}

TEST(AttentionTest, Errors) {
  using testing::expect_error;
  expect_error([] { nn::MultiheadAttention(10, 3); }, {"MultiheadAttention", "10", "3"});
  nn::MultiheadAttention m(8, 2);
  Tensor x = randn({3, 2, 8});
  expect_error(
      [&] {
        m.forward(randn({3, 2, 6}), x, x);
      },
      {"MultiheadAttention", "[3, 2, 6]", "embed_dim 8"});
  expect_error(
      [&] {
        m.forward(x, randn({4, 2, 5}), randn({4, 2, 8}));
      },
      {"MultiheadAttention", "key", "kdim 8"});
  expect_error(
      [&] {
        m.forward(x, x, x, zeros({2, 4}, DType::Bool));
      },
      {"key_padding_mask", "[2, 4]", "[2, 3]"});
  expect_error(
      [&] {
        m.forward(x, x, x, {}, true, zeros({3, 4}));
      },
      {"attn_mask", "[3, 4]", "[3, 3]"});
  expect_error(
      [&] {
        m.forward(x, x, x, {}, true, zeros({3, 3}, DType::Int64));
      },
      {"attn_mask", "int64", "bool"});
  expect_error([&] { m.forward(x, randn({3, 8}), x); }, {"MultiheadAttention", "3-D"});
}

}  // namespace
}  // namespace ravel
