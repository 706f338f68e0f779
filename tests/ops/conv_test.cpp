// Convolutions against PyTorch (outputs and input/weight/bias gradients, float32) on both CPU
// paths, oneDNN and the portable kernels; gradcheck in float64; errors.
#include "ravel/nn/functional/conv.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "backend/cpu/reference/select.h"
#include "ravel/autograd.h"
#include "ravel/random.h"
#include "support/expect_error.h"
#include "support/gradcheck.h"
#include "support/numpy_oracle.h"

using namespace ravel;
namespace F = ravel::nn::functional;
using ravel::testing::expect_error;
using ravel::testing::gradcheck;
using ravel::testing::matches;
using ravel::testing::TorchOracle;

namespace {

struct ConvCase {
  ConvCase(int nsp_, bool transposed_, int64_t n_, int64_t c_in_, int64_t c_out_,
           std::vector<int64_t> in_, std::vector<int64_t> k_, std::vector<int64_t> stride_ = {1},
           std::vector<int64_t> padding_ = {0}, std::vector<int64_t> dilation_ = {1},
           std::vector<int64_t> output_padding_ = {0}, std::string pad_mode_ = "",
           int64_t groups_ = 1, bool bias_ = true)
      : nsp(nsp_),
        transposed(transposed_),
        n(n_),
        c_in(c_in_),
        c_out(c_out_),
        in(in_),
        k(k_),
        stride(stride_),
        padding(padding_),
        dilation(dilation_),
        output_padding(output_padding_),
        pad_mode(pad_mode_),
        groups(groups_),
        bias(bias_) {}
  int nsp;
  bool transposed;
  int64_t n, c_in, c_out;
  std::vector<int64_t> in, k;  // spatial sizes
  std::vector<int64_t> stride, padding, dilation, output_padding;
  std::string pad_mode;  // "same", "valid" or "" (sizes)
  int64_t groups;
  bool bias;
  bool batched = true;
};

std::string py_tuple(const std::vector<int64_t>& v, int nsp) {
  std::ostringstream os;
  os << "(";
  for (int i = 0; i < nsp; ++i) os << (v.size() == 1 ? v[0] : v[static_cast<size_t>(i)]) << ", ";
  os << ")";
  return os.str();
}

std::string describe(const ConvCase& c) {
  std::ostringstream os;
  os << (c.transposed ? "conv_transpose" : "conv") << c.nsp << "d in=" << py_tuple(c.in, c.nsp)
     << " k=" << py_tuple(c.k, c.nsp) << " c=" << c.c_in << "->" << c.c_out
     << " stride=" << py_tuple(c.stride, c.nsp)
     << " pad=" << (c.pad_mode.empty() ? py_tuple(c.padding, c.nsp) : c.pad_mode)
     << " dil=" << py_tuple(c.dilation, c.nsp) << " groups=" << c.groups << " bias=" << c.bias;
  return os.str();
}

Shape input_shape(const ConvCase& c) {
  Shape s;
  if (c.batched) s.push_back(c.n);
  s.push_back(c.c_in);
  for (int64_t v : c.in) s.push_back(v);
  return s;
}
Shape weight_shape(const ConvCase& c) {
  Shape s = c.transposed ? Shape{c.c_in, c.c_out / c.groups} : Shape{c.c_out, c.c_in / c.groups};
  for (int64_t v : c.k) s.push_back(v);
  return s;
}

Tensor run_conv(const ConvCase& c, const Tensor& x, const Tensor& w, const Tensor& b) {
  if (c.transposed) {
    auto fn = c.nsp == 1   ? F::conv_transpose1d
              : c.nsp == 2 ? F::conv_transpose2d
                           : F::conv_transpose3d;
    return fn(x, w, b, c.stride, c.padding, c.output_padding, c.groups, c.dilation);
  }
  auto fn = c.nsp == 1 ? F::conv1d : c.nsp == 2 ? F::conv2d : F::conv3d;
  F::Padding pad = c.pad_mode.empty() ? F::Padding(F::Ints(c.padding)) : F::Padding(c.pad_mode);
  return fn(x, w, b, c.stride, pad, c.dilation, c.groups);
}

std::string torch_script(const ConvCase& c) {
  std::ostringstream s;
  s << "x = torch.tensor(a, requires_grad=True)\n"
    << "w = torch.tensor(b, requires_grad=True)\n"
    << "bias = torch.tensor(c, requires_grad=True) if " << (c.bias ? "True" : "False")
    << " else None\n";
  if (c.transposed)
    s << "y = F.conv_transpose" << c.nsp << "d(x, w, bias, stride=" << py_tuple(c.stride, c.nsp)
      << ", padding=" << py_tuple(c.padding, c.nsp)
      << ", output_padding=" << py_tuple(c.output_padding, c.nsp) << ", groups=" << c.groups
      << ", dilation=" << py_tuple(c.dilation, c.nsp) << ")\n";
  else
    s << "y = F.conv" << c.nsp << "d(x, w, bias, stride=" << py_tuple(c.stride, c.nsp)
      << ", padding=" << (c.pad_mode.empty() ? py_tuple(c.padding, c.nsp) : "'" + c.pad_mode + "'")
      << ", dilation=" << py_tuple(c.dilation, c.nsp) << ", groups=" << c.groups << ")\n";
  s << "y.backward(torch.tensor(d))\n"
    << "out = (y, x.grad, w.grad) + ((bias.grad,) if bias is not None else ())";
  return s.str();
}

const std::vector<ConvCase>& parity_cases() {
  static const std::vector<ConvCase> cases = [] {
    std::vector<ConvCase> v;
    // conv2d: padding, stride, dilation, groups, depthwise, same/valid, odd sizes
    v.push_back({2, false, 2, 3, 4, {7, 6}, {3, 3}, {1}, {1}});
    v.push_back({2, false, 2, 3, 5, {9, 7}, {3, 2}, {2}, {0}, {1}, {0}, "", 1, false});
    v.push_back({2, false, 1, 2, 3, {10, 8}, {3, 3}, {2, 1}, {1, 0}, {2}});
    v.push_back({2, false, 2, 4, 6, {6, 6}, {3, 3}, {1}, {1}, {1}, {0}, "", 2});
    v.push_back({2, false, 2, 4, 4, {8, 7}, {3, 3}, {2}, {1}, {1}, {0}, "", 4});  // depthwise
    v.push_back({2, false, 1, 3, 6, {7, 7}, {5, 5}, {1}, {2}, {1}, {0}, "", 3, false});  // x2
    v.push_back({2, false, 2, 3, 4, {7, 6}, {3, 3}, {1}, {0}, {2}, {0}, "same"});
    v.push_back({2, false, 2, 2, 3, {6, 5}, {4, 2}, {1}, {0}, {1}, {0}, "same"});  // asymmetric
    v.push_back({2, false, 2, 3, 4, {7, 6}, {3, 2}, {1}, {0}, {1}, {0}, "valid"});
    v.push_back({2, false, 3, 8, 4, {5, 5}, {1, 1}, {2}, {0}});      // 1x1, strided
    v.push_back({2, false, 2, 3, 2, {8, 9}, {2, 2}, {3}, {0}});      // stride > k
    v.push_back({2, false, 1, 16, 16, {12, 12}, {3, 3}, {1}, {1}});  // blocked sizes
    ConvCase unbatched{2, false, 1, 3, 4, {6, 5}, {3, 3}, {1}, {1}};
    unbatched.batched = false;
    v.push_back(unbatched);
    // conv1d, conv3d
    v.push_back({1, false, 2, 3, 4, {11}, {3}, {2}, {1}});
    v.push_back({1, false, 2, 4, 6, {9}, {4}, {1}, {0}, {2}, {0}, "same", 2});
    v.push_back({3, false, 2, 2, 3, {5, 6, 4}, {3, 3, 2}, {1}, {1, 1, 0}});
    v.push_back({3, false, 1, 4, 4, {6, 5, 5}, {3, 3, 3}, {2}, {1}, {1}, {0}, "", 2, false});
    // transposed
    v.push_back({2, true, 2, 4, 3, {5, 4}, {3, 3}, {2}, {1}, {1}, {1}});
    v.push_back({2, true, 2, 4, 6, {4, 5}, {3, 2}, {1}, {1, 0}, {2}, {0}, "", 2});
    v.push_back({2, true, 1, 3, 2, {4, 4}, {4, 4}, {2}, {1}, {1}, {0}, "", 1, false});
    v.push_back({2, true, 2, 3, 3, {3, 4}, {2, 2}, {3}, {0}, {1}, {2}});  // output_padding > pad
    v.push_back({2, true, 2, 4, 4, {5, 5}, {3, 3}, {2}, {1}, {1}, {1}, "", 4});  // depthwise
    v.push_back({1, true, 2, 3, 4, {7}, {3}, {2}, {1}});
    v.push_back({3, true, 1, 2, 3, {3, 4, 3}, {2, 3, 2}, {2, 1, 2}, {0, 1, 0}});
    return v;
  }();
  return cases;
}

// Runs every case on the current path and compares with the oracle's results.
void check_parity(TorchOracle& torch, const std::vector<int>& handles,
                  const std::vector<std::vector<Tensor>>& inputs, const char* path) {
  const auto& cases = parity_cases();
  for (size_t i = 0; i < cases.size(); ++i) {
    const ConvCase& c = cases[i];
    SCOPED_TRACE(std::string(path) + ": " + describe(c));
    Tensor x = inputs[i][0].clone().requires_grad_();
    Tensor w = inputs[i][1].clone().requires_grad_();
    Tensor b = c.bias ? inputs[i][2].clone().requires_grad_() : Tensor();
    Tensor y = run_conv(c, x, w, b);
    std::vector<Tensor> wrt = {x, w};
    if (c.bias) wrt.push_back(b);
    std::vector<Tensor> grads = grad({y}, wrt, {inputs[i][3]});
    const auto& ref = torch.results(handles[i]);
    ASSERT_EQ(ref.size(), 1 + wrt.size()) << torch.error(handles[i]);
    EXPECT_TRUE(matches(y, ref[0], 1e-4, 1e-4));
    for (size_t j = 0; j < grads.size(); ++j)
      EXPECT_TRUE(matches(grads[j], ref[j + 1], 1e-4, 1e-4));
  }
}

}  // namespace

TEST(ConvParity, MatchesTorchOnBothPaths) {
  Generator gen(7);
  TorchOracle torch;
  std::vector<int> handles;
  std::vector<std::vector<Tensor>> inputs;
  for (const ConvCase& c : parity_cases()) {
    Tensor x = randn(input_shape(c), gen), w = randn(weight_shape(c), gen),
           b = randn({c.c_out}, gen);
    Tensor y;
    {
      NoGradGuard ng;
      y = run_conv(c, x, w, c.bias ? b : Tensor());
    }
    Tensor gy = randn(y.shape(), gen);
    inputs.push_back({x, w, b, gy});
    handles.push_back(torch.add_script(torch_script(c), {x, w, b, gy}));
  }
  torch.run();
  if (detail::onednn_available()) {
    detail::OnednnGuard on(true);
    check_parity(torch, handles, inputs, "oneDNN");
  }
  detail::OnednnGuard off(false);
  check_parity(torch, handles, inputs, "reference");
}

TEST(ConvParity, HalfPrecisionComputesInFloat32) {
  Generator gen(3);
  Tensor x = randn({2, 3, 6, 6}, gen), w = randn({4, 3, 3, 3}, gen), b = randn({4}, gen);
  Tensor ref = F::conv2d(x, w, b, 1, 1);
  for (DType dt : {DType::Float16, DType::BFloat16}) {
    Tensor y = F::conv2d(x.to(dt), w.to(dt), b.to(dt), 1, 1);
    EXPECT_EQ(y.dtype(), dt);
    EXPECT_TRUE(matches(y.to(DType::Float32), ref, 5e-2, 2e-1));
  }
}

TEST(ConvParity, ViewsAndEmptyBatches) {
  Generator gen(5);
  Tensor x = randn({2, 3, 7, 6}, gen), w = randn({4, 3, 3, 3}, gen);
  Tensor xt = x.transpose(2, 3);  // a non-contiguous view
  EXPECT_TRUE(matches(F::conv2d(xt, w, {}, 1, 1), F::conv2d(xt.clone(), w, {}, 1, 1)));
  EXPECT_EQ(F::conv2d(zeros({0, 3, 5, 5}), w, {}, 1, 1).shape(), (Shape{0, 4, 5, 5}));
  EXPECT_EQ(F::conv_transpose2d(zeros({0, 3, 5, 5}), randn({3, 2, 2, 2}, gen), {}, 2).shape(),
            (Shape{0, 2, 10, 10}));
}

TEST(ConvGradcheck, Float64OnSmallShapes) {
  Generator gen(11);
  auto r = [&](const Shape& s) { return randn(s, gen, DType::Float64); };
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& t) {
        return F::conv2d(t[0], t[1], t[2], {2, 1}, 1, {1, 2});
      },
      {r({2, 2, 5, 6}), r({3, 2, 3, 2}), r({3})}));
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& t) { return F::conv2d(t[0], t[1], t[2], 1, "same", 1, 2); },
      {r({1, 4, 4, 5}), r({2, 2, 2, 3}), r({2})}));
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& t) { return F::conv1d(t[0], t[1], Tensor(), 2, 1, 1, 3); },
      {r({2, 3, 7}), r({3, 1, 3})}));
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& t) {
        return F::conv3d(t[0], t[1], t[2], 1, {1, 0, 1});
      },
      {r({1, 2, 3, 4, 3}), r({2, 2, 2, 2, 2}), r({2})}));
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& t) {
        return F::conv_transpose2d(t[0], t[1], t[2], 2, 1, 1, 1, 1);
      },
      {r({2, 2, 3, 3}), r({2, 3, 3, 3}), r({3})}));
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& t) {
        return F::conv_transpose1d(t[0], t[1], t[2], 2, 0, 0, 2, 2);
      },
      {r({1, 4, 4}), r({4, 1, 2}), r({2})}));
}

TEST(ConvErrors, ClearMessages) {
  Tensor x = zeros({2, 4, 8, 8}), w = zeros({6, 2, 3, 3});
  expect_error([&] { F::conv2d(zeros({4, 8}), w); }, {"conv2d", "3-D", "4-D", "[4, 8]"});
  expect_error([&] { F::conv2d(x, zeros({6, 2, 3})); }, {"conv2d", "4-D weight", "[6, 2, 3]"});
  expect_error([&] { F::conv2d(x, w); }, {"conv2d", "4 channels", "expects 2"});
  expect_error(
      [&] {
        F::conv2d(x, zeros({6, 1, 3, 3}), {}, 1, 0, 1, 4);
      },
      {"conv2d", "not divisible by groups=4"});
  expect_error([&] { F::conv2d(x, w, zeros({5}), 1, 0, 1, 2); }, {"conv2d", "bias", "[6]"});
  expect_error([&] { F::conv2d(x, w, {}, 2, "same", 1, 2); }, {"conv2d", "'same'", "strided"});
  expect_error([&] { F::conv2d(x, w, {}, 1, "full", 1, 2); }, {"conv2d", "'full'"});
  expect_error([&] { F::conv2d(x, w, {}, {1, 1, 1}, 0, 1, 2); }, {"conv2d", "stride", "2 ints"});
  expect_error(
      [&] {
        F::conv2d(zeros({1, 4, 2, 2}), w, {}, 1, 0, 1, 2);
      },
      {"conv2d", "larger than the padded input"});
  expect_error(
      [&] {
        F::conv2d(x, zeros({6, 2, 3, 3}, DType::Float64), {}, 1, 0, 1, 2);
      },
      {"conv2d", "same dtype"});
  expect_error(
      [&] {
        F::conv_transpose2d(x, zeros({3, 2, 3, 3}));
      },
      {"conv_transpose2d", "4 channels", "expects 3"});
  expect_error(
      [&] {
        F::conv_transpose2d(x, zeros({4, 2, 3, 3}), {}, 2, 0, 2);
      },
      {"conv_transpose2d", "output_padding"});
}
