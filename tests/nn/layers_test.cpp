// Every layer against PyTorch: ravel's initialised state_dict is loaded into the torch module,
// both run the same input, and the outputs, input gradients, parameter gradients and buffers
// (running statistics after a training step) must agree. Also the functional layers' own
// checks: gradcheck in float64, dropout statistics, errors.
#include "ravel/nn/functional/layers.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ravel/nn/container.h"
#include "ravel/nn/conv.h"
#include "ravel/nn/dropout.h"
#include "ravel/nn/embedding.h"
#include "ravel/nn/linear.h"
#include "ravel/nn/norm.h"
#include "ravel/nn/pool.h"
#include "ravel/nn/upsample.h"
#include "ravel/ops.h"
#include "ravel/random.h"
#include "support/expect_error.h"
#include "support/gradcheck.h"
#include "support/numpy_oracle.h"

using namespace ravel;
using ravel::testing::expect_error;
using ravel::testing::gradcheck;
using ravel::testing::gradgradcheck;
using ravel::testing::matches;
using ravel::testing::TorchOracle;
namespace F = ravel::nn::functional;

namespace {

using ModulePtr = std::shared_ptr<nn::Module>;
using Forward = std::function<Tensor(nn::Module&, const std::vector<Tensor>&)>;

// One layer compared with its torch twin.
struct LayerCase {
  std::string name;
  ModulePtr ours;
  std::string torch_ctor;      // Python expression building the torch module
  std::vector<Tensor> inputs;  // forward's inputs (float ones get gradients)
  bool training = true;
  Forward forward = nullptr;  // default: (*m)(inputs[0])
  double rtol = 1e-4, atol = 1e-5;
};

struct Pending {
  LayerCase c;
  int handle = -1;
  std::string error;  // ours threw
  Tensor y;
  std::vector<Tensor> input_grads;
  std::vector<std::pair<std::string, Tensor>> params, buffers;
};

// Adds the torch side of `c` and runs ours. Inputs of the script: the forward inputs, the
// output weights w (loss = sum(y * w)), then the state_dict entries in order.
Pending add_case(TorchOracle& torch, LayerCase c) {
  Generator gen(17);
  nn::StateDict sd = c.ours->state_dict();
  for (auto& [k, t] : sd) t = t.clone();  // before our forward updates the buffers
  std::vector<Tensor> script_inputs;
  for (const Tensor& x : c.inputs) script_inputs.push_back(x);
  const std::string letters = "abcdefghijklmnop";
  c.ours->train(c.training);
  std::vector<Tensor> xs;
  for (const Tensor& x : c.inputs)
    xs.push_back(is_floating(x.dtype()) ? x.clone().requires_grad_() : x);
  Tensor y, w;
  try {
    y = c.forward ? c.forward(*c.ours, xs) : (*c.ours)(xs[0]);
    w = randn(y.shape(), gen);
    (y * w).sum().backward();
  } catch (const std::exception& e) {  // reported by check_case; the other cases still run
    Pending p;
    p.c = c;
    p.error = e.what();
    return p;
  }

  script_inputs.push_back(w);
  std::string keys, values;
  for (const auto& [k, t] : sd) {
    keys += "'" + k + "', ";
    values += std::string(1, letters[script_inputs.size()]) + ", ";
    script_inputs.push_back(t);
  }
  EXPECT_LE(script_inputs.size(), letters.size()) << c.name << ": too many oracle inputs";
  std::string xs_py;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    bool fl = is_floating(c.inputs[i].dtype());
    xs_py += std::string("torch.tensor(") + letters[i] + (fl ? ", requires_grad=True), " : "), ");
  }
  std::string script = "m = " + c.torch_ctor + "\n" +                                     //
                       "keys = [" + keys + "]\n" +                                        //
                       "m.load_state_dict({k: torch.tensor(v) for k, v in zip(keys, [" +  //
                       values + "])})\n" +                                                //
                       "m.train(" + (c.training ? "True" : "False") + ")\n" +             //
                       "xs = [" + xs_py + "]\n" +                                         //
                       "y = m(*xs)\n" +                                                   //
                       "(y * torch.tensor(" + letters[c.inputs.size()] + ")).sum().backward()\n" +
                       "gs = [x.grad for x in xs if x.requires_grad]\n"
                       "ps = [p.grad if p.grad is not None else torch.zeros_like(p) "
                       "for p in m.parameters()]\n"
                       "out = [y] + gs + ps + list(m.buffers())";
  int h = torch.add_script(script, script_inputs);
  Pending p{c, h, "", y, {}, c.ours->named_parameters(), c.ours->named_buffers()};
  for (const Tensor& x : xs)
    if (x.requires_grad()) p.input_grads.push_back(x.grad());
  return p;
}

void check_case(const TorchOracle& torch, const Pending& p) {
  SCOPED_TRACE(p.c.name);
  ASSERT_EQ(p.error, "") << "ravel threw";
  ASSERT_EQ(torch.error(p.handle), "");
  const auto& r = torch.results(p.handle);
  ASSERT_EQ(r.size(), 1 + p.input_grads.size() + p.params.size() + p.buffers.size());
  const double rt = p.c.rtol, at = p.c.atol;
  EXPECT_TRUE(matches(p.y, r[0], rt, at)) << "output";
  size_t k = 1;
  for (const Tensor& g : p.input_grads) EXPECT_TRUE(matches(g, r[k++], rt, at)) << "input grad";
  for (const auto& [name, t] : p.params) {
    Tensor g = t.grad().defined() ? t.grad() : zeros_like(t);
    EXPECT_TRUE(matches(g, r[k++], rt, at)) << "grad of " << name;
  }
  for (const auto& [name, t] : p.buffers) EXPECT_TRUE(matches(t, r[k++], rt, at)) << name;
}

Tensor rnd(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  return randn(s, gen);
}

template <typename M, typename... Args>
ModulePtr make(Args&&... args) {
  return std::make_shared<M>(std::forward<Args>(args)...);
}

// Random running statistics, so eval mode is tested with values that matter.
ModulePtr with_random_stats(ModulePtr m) {
  Generator gen(5);
  NoGradGuard ng;
  Tensor rm = m->buffer("running_mean"), rv = m->buffer("running_var");
  rm.copy_(randn(rm.shape(), gen));
  rv.copy_(rand(rv.shape(), gen) + 0.5);
  if (Tensor w = m->parameter("weight"); w.defined()) w.copy_(randn(w.shape(), gen));
  if (Tensor b = m->parameter("bias"); b.defined()) b.copy_(randn(b.shape(), gen));
  return m;
}

}  // namespace

std::vector<LayerCase> linear_cases() {
  manual_seed(1);
  return {
      {"linear", make<nn::Linear>(5, 3), "nn.Linear(5, 3)", {rnd({4, 5}, 1)}},
      {"linear no bias 3-D",
       make<nn::Linear>(5, 3, false),
       "nn.Linear(5, 3, bias=False)",
       {rnd({2, 3, 5}, 2)}},
      {"linear 1-D input", make<nn::Linear>(4, 2), "nn.Linear(4, 2)", {rnd({4}, 3)}},
      {"bilinear",
       make<nn::Bilinear>(4, 3, 2),
       "nn.Bilinear(4, 3, 2)",
       {rnd({5, 4}, 4), rnd({5, 3}, 5)},
       true,
       [](nn::Module& m, const std::vector<Tensor>& x) {
         return static_cast<nn::Bilinear&>(m).forward(x[0], x[1]);
       }},
      {"bilinear no bias 3-D",
       make<nn::Bilinear>(3, 2, 4, false),
       "nn.Bilinear(3, 2, 4, bias=False)",
       {rnd({2, 3, 3}, 6), rnd({2, 3, 2}, 7)},
       true,
       [](nn::Module& m, const std::vector<Tensor>& x) {
         return static_cast<nn::Bilinear&>(m).forward(x[0], x[1]);
       }},
      {"identity", make<nn::Identity>(), "nn.Identity()", {rnd({2, 3}, 8)}},
      {"flatten", make<nn::Flatten>(), "nn.Flatten()", {rnd({2, 3, 2, 2}, 9)}},
      {"flatten 0..1", make<nn::Flatten>(0, 1), "nn.Flatten(0, 1)", {rnd({2, 3, 4}, 10)}},
      {"unflatten",
       make<nn::Unflatten>(1, std::vector<int64_t>{2, 3}),
       "nn.Unflatten(1, (2, 3))",
       {rnd({4, 6}, 11)}},
      {"unflatten -1",
       make<nn::Unflatten>(-1, std::vector<int64_t>{2, -1}),
       "nn.Unflatten(-1, (2, -1))",
       {rnd({3, 8}, 12)}},
  };
}

std::vector<LayerCase> conv_cases() {
  manual_seed(2);
  return {
      {"conv1d",
       make<nn::Conv1d>(3, 4, 3, nn::Conv1dOptions{.stride = 2, .padding = 1}),
       "nn.Conv1d(3, 4, 3, stride=2, padding=1)",
       {rnd({2, 3, 9}, 1)}},
      {"conv2d", make<nn::Conv2d>(3, 4, 3), "nn.Conv2d(3, 4, 3)", {rnd({2, 3, 6, 5}, 2)}},
      {"conv2d same groups no bias",
       make<nn::Conv2d>(4, 6, 3, nn::Conv2dOptions{.padding = "same", .groups = 2, .bias = false}),
       "nn.Conv2d(4, 6, 3, padding='same', groups=2, bias=False)",
       {rnd({2, 4, 5, 5}, 3)}},
      {"conv2d dilation stride",
       make<nn::Conv2d>(2, 3, F::Ints{3, 2},
                        nn::Conv2dOptions{.stride = {2, 1}, .padding = {2, 1}, .dilation = 2}),
       "nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(2, 1), dilation=2)",
       {rnd({1, 2, 8, 7}, 4)}},
      {"conv2d reflect",
       make<nn::Conv2d>(2, 3, 3, nn::Conv2dOptions{.padding = 1, .padding_mode = "reflect"}),
       "nn.Conv2d(2, 3, 3, padding=1, padding_mode='reflect')",
       {rnd({2, 2, 5, 6}, 5)}},
      {"conv2d replicate",
       make<nn::Conv2d>(2, 3, 3, nn::Conv2dOptions{.padding = {2, 1}, .padding_mode = "replicate"}),
       "nn.Conv2d(2, 3, 3, padding=(2, 1), padding_mode='replicate')",
       {rnd({2, 2, 5, 6}, 6)}},
      {"conv2d circular",
       make<nn::Conv2d>(2, 3, 3, nn::Conv2dOptions{.padding = 1, .padding_mode = "circular"}),
       "nn.Conv2d(2, 3, 3, padding=1, padding_mode='circular')",
       {rnd({2, 2, 5, 6}, 7)}},
      {"conv2d same even kernel reflect",
       make<nn::Conv2d>(2, 2, 4, nn::Conv2dOptions{.padding = "same", .padding_mode = "reflect"}),
       "nn.Conv2d(2, 2, 4, padding='same', padding_mode='reflect')",
       {rnd({1, 2, 6, 6}, 8)}},
      {"conv3d",
       make<nn::Conv3d>(2, 3, 2, nn::Conv3dOptions{.padding = 1}),
       "nn.Conv3d(2, 3, 2, padding=1)",
       {rnd({1, 2, 3, 4, 3}, 9)}},
      {"conv_transpose2d",
       make<nn::ConvTranspose2d>(
           4, 2, 3, nn::ConvTranspose2dOptions{.stride = 2, .padding = 1, .output_padding = 1}),
       "nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)",
       {rnd({2, 4, 3, 4}, 10)}},
      {"conv_transpose2d groups",
       make<nn::ConvTranspose2d>(4, 6, 2, nn::ConvTranspose2dOptions{.stride = 2, .groups = 2}),
       "nn.ConvTranspose2d(4, 6, 2, stride=2, groups=2)",
       {rnd({1, 4, 3, 3}, 11)}},
      {"conv_transpose3d",
       make<nn::ConvTranspose3d>(2, 2, 2, nn::ConvTranspose3dOptions{.stride = 2, .padding = 1}),
       "nn.ConvTranspose3d(2, 2, 2, stride=2, padding=1)",
       {rnd({1, 2, 2, 3, 2}, 13)}},
      {"conv1d circular",
       make<nn::Conv1d>(2, 3, 3, nn::Conv1dOptions{.padding = 2, .padding_mode = "circular"}),
       "nn.Conv1d(2, 3, 3, padding=2, padding_mode='circular')",
       {rnd({2, 2, 5}, 14)}},
      {"conv_transpose1d",
       make<nn::ConvTranspose1d>(3, 2, 3, nn::ConvTranspose1dOptions{.stride = 2}),
       "nn.ConvTranspose1d(3, 2, 3, stride=2)",
       {rnd({2, 3, 5}, 12)}},
  };
}

std::vector<LayerCase> pool_cases() {
  return {
      {"maxpool1d", make<nn::MaxPool1d>(2), "nn.MaxPool1d(2)", {rnd({2, 3, 9}, 1)}},
      {"maxpool2d",
       make<nn::MaxPool2d>(3, nn::MaxPoolOptions{.stride = 2, .padding = 1}),
       "nn.MaxPool2d(3, 2, 1)",
       {rnd({2, 3, 7, 6}, 2)}},
      {"maxpool2d ceil dilation",
       make<nn::MaxPool2d>(2, nn::MaxPoolOptions{.dilation = 2, .ceil_mode = true}),
       "nn.MaxPool2d(2, dilation=2, ceil_mode=True)",
       {rnd({1, 2, 7, 7}, 3)}},
      {"avgpool1d",
       make<nn::AvgPool1d>(3, nn::AvgPoolOptions{.stride = 2}),
       "nn.AvgPool1d(3, 2)",
       {rnd({2, 3, 8}, 4)}},
      {"avgpool2d no pad count",
       make<nn::AvgPool2d>(
           3, nn::AvgPoolOptions{.stride = 2, .padding = 1, .count_include_pad = false}),
       "nn.AvgPool2d(3, 2, 1, count_include_pad=False)",
       {rnd({2, 2, 7, 6}, 5)}},
      {"avgpool2d divisor",
       make<nn::AvgPool2d>(2, nn::AvgPoolOptions{.divisor_override = 3}),
       "nn.AvgPool2d(2, divisor_override=3)",
       {rnd({1, 2, 4, 6}, 6)}},
      {"adaptive avg",
       make<nn::AdaptiveAvgPool2d>(F::Ints{2, 3}),
       "nn.AdaptiveAvgPool2d((2, 3))",
       {rnd({2, 3, 5, 7}, 7)}},
      {"adaptive max",
       make<nn::AdaptiveMaxPool2d>(2),
       "nn.AdaptiveMaxPool2d(2)",
       {rnd({2, 3, 5, 6}, 8)}},
  };
}

std::vector<LayerCase> norm_cases() {
  return {
      {"bn1d 2-D train", make<nn::BatchNorm1d>(4), "nn.BatchNorm1d(4)", {rnd({6, 4}, 1)}},
      {"bn1d 3-D train", make<nn::BatchNorm1d>(4), "nn.BatchNorm1d(4)", {rnd({3, 4, 5}, 2)}},
      {"bn2d train",
       with_random_stats(make<nn::BatchNorm2d>(3)),
       "nn.BatchNorm2d(3)",
       {rnd({2, 3, 4, 5}, 3)}},
      {"bn2d eval",
       with_random_stats(make<nn::BatchNorm2d>(3)),
       "nn.BatchNorm2d(3)",
       {rnd({2, 3, 4, 5}, 4)},
       false},
      {"bn2d cumulative momentum",
       make<nn::BatchNorm2d>(3, nn::BatchNormOptions{.momentum = std::nullopt}),
       "nn.BatchNorm2d(3, momentum=None)",
       {rnd({2, 3, 3, 3}, 5)}},
      {"bn2d momentum no affine",
       make<nn::BatchNorm2d>(3, nn::BatchNormOptions{.momentum = 0.3, .affine = false}),
       "nn.BatchNorm2d(3, momentum=0.3, affine=False)",
       {rnd({2, 3, 3, 3}, 6)}},
      {"bn2d no running stats eval",
       make<nn::BatchNorm2d>(3, nn::BatchNormOptions{.track_running_stats = false}),
       "nn.BatchNorm2d(3, track_running_stats=False)",
       {rnd({2, 3, 3, 3}, 7)},
       false},
      {"instancenorm2d",
       make<nn::InstanceNorm2d>(3),
       "nn.InstanceNorm2d(3)",
       {rnd({2, 3, 4, 4}, 8)}},
      {"instancenorm2d affine tracked train",
       make<nn::InstanceNorm2d>(
           3, nn::InstanceNormOptions{.affine = true, .track_running_stats = true}),
       "nn.InstanceNorm2d(3, affine=True, track_running_stats=True)",
       {rnd({2, 3, 4, 4}, 9)}},
      {"instancenorm2d tracked eval",
       with_random_stats(make<nn::InstanceNorm2d>(
           3, nn::InstanceNormOptions{.affine = true, .track_running_stats = true})),
       "nn.InstanceNorm2d(3, affine=True, track_running_stats=True)",
       {rnd({2, 3, 4, 4}, 10)},
       false},
      {"instancenorm2d unbatched",
       make<nn::InstanceNorm2d>(3),
       "nn.InstanceNorm2d(3)",
       {rnd({3, 4, 5}, 11)}},
      {"bn3d train", make<nn::BatchNorm3d>(2), "nn.BatchNorm3d(2)", {rnd({2, 2, 2, 3, 2}, 17)}},
      {"instancenorm1d affine",
       make<nn::InstanceNorm1d>(3, nn::InstanceNormOptions{.affine = true}),
       "nn.InstanceNorm1d(3, affine=True)",
       {rnd({2, 3, 6}, 18)}},
      {"layernorm", make<nn::LayerNorm>(5), "nn.LayerNorm(5)", {rnd({2, 3, 5}, 12)}},
      {"layernorm 2 dims",
       make<nn::LayerNorm>(std::vector<int64_t>{3, 5}),
       "nn.LayerNorm([3, 5])",
       {rnd({2, 3, 5}, 13)}},
      {"layernorm no affine",
       make<nn::LayerNorm>(5, nn::LayerNormOptions{.elementwise_affine = false}),
       "nn.LayerNorm(5, elementwise_affine=False)",
       {rnd({4, 5}, 14)}},
      {"groupnorm", make<nn::GroupNorm>(2, 4), "nn.GroupNorm(2, 4)", {rnd({2, 4, 3, 3}, 15)}},
      {"groupnorm no affine",
       make<nn::GroupNorm>(3, 6, nn::GroupNormOptions{.affine = false}),
       "nn.GroupNorm(3, 6, affine=False)",
       {rnd({2, 6, 5}, 16)}},
  };
}

std::vector<LayerCase> misc_cases() {
  Tensor ids = tensor({{1, 0, 3, 3}, {9, 0, 2, 1}});
  return {
      {"embedding", make<nn::Embedding>(10, 3), "nn.Embedding(10, 3)", {ids}},
      {"embedding padding",
       make<nn::Embedding>(10, 3, nn::EmbeddingOptions{.padding_idx = 0}),
       "nn.Embedding(10, 3, padding_idx=0)",
       {ids}},
      {"embedding int32 ids",
       make<nn::Embedding>(10, 2),
       "nn.Embedding(10, 2)",
       {ids.to(DType::Int32)}},
      {"dropout eval", make<nn::Dropout>(0.5), "nn.Dropout(0.5)", {rnd({3, 4}, 1)}, false},
      {"dropout2d eval",
       make<nn::Dropout2d>(0.5),
       "nn.Dropout2d(0.5)",
       {rnd({2, 3, 2, 2}, 2)},
       false},
      {"upsample nearest x2",
       make<nn::Upsample>(2.0),
       "nn.Upsample(scale_factor=2)",
       {rnd({1, 2, 3, 4}, 3)}},
      {"upsample nearest size",
       make<nn::Upsample>(nn::UpsampleOptions{.size = {5, 7}}),
       "nn.Upsample(size=(5, 7))",
       {rnd({2, 1, 3, 4}, 4)}},
      {"upsample nearest 1.5",
       make<nn::Upsample>(1.5),
       "nn.Upsample(scale_factor=1.5)",
       {rnd({1, 2, 5, 3}, 5)}},
      {"upsample nearest down",
       make<nn::Upsample>(nn::UpsampleOptions{.size = {3, 2}}),
       "nn.Upsample(size=(3, 2))",
       {rnd({1, 1, 7, 5}, 6)}},
      {"upsample nearest-exact",
       make<nn::Upsample>(nn::UpsampleOptions{.size = {5, 3}, .mode = "nearest-exact"}),
       "nn.Upsample(size=(5, 3), mode='nearest-exact')",
       {rnd({1, 2, 3, 7}, 7)}},
      {"upsample bilinear",
       make<nn::Upsample>(2.0, "bilinear"),
       "nn.Upsample(scale_factor=2, mode='bilinear')",
       {rnd({2, 2, 3, 4}, 8)}},
      {"upsample bilinear align",
       make<nn::Upsample>(
           nn::UpsampleOptions{.scale_factor = {2.0}, .mode = "bilinear", .align_corners = true}),
       "nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)",
       {rnd({1, 2, 3, 4}, 9)}},
      {"upsample bilinear size down",
       make<nn::Upsample>(nn::UpsampleOptions{.size = {2, 5}, .mode = "bilinear"}),
       "nn.Upsample(size=(2, 5), mode='bilinear')",
       {rnd({1, 2, 5, 3}, 10)}},
      {"upsample bilinear 1.7 align",
       make<nn::Upsample>(nn::UpsampleOptions{
           .scale_factor = {1.7, 2.5}, .mode = "bilinear", .align_corners = true}),
       "nn.Upsample(scale_factor=(1.7, 2.5), mode='bilinear', align_corners=True)",
       {rnd({1, 1, 4, 3}, 11)}},
      {"upsample linear",
       make<nn::Upsample>(nn::UpsampleOptions{.size = {7}, .mode = "linear"}),
       "nn.Upsample(size=7, mode='linear')",
       {rnd({2, 3, 4}, 12)}},
      {"upsample trilinear",
       make<nn::Upsample>(2.0, "trilinear"),
       "nn.Upsample(scale_factor=2, mode='trilinear')",
       {rnd({1, 1, 2, 3, 2}, 13)}},
      {"upsample nearest 3-D",
       make<nn::Upsample>(3.0),
       "nn.Upsample(scale_factor=3)",
       {rnd({1, 2, 4}, 14)}},
      {"pixel shuffle", make<nn::PixelShuffle>(2), "nn.PixelShuffle(2)", {rnd({2, 8, 2, 3}, 15)}},
      {"pixel unshuffle",
       make<nn::PixelUnshuffle>(2),
       "nn.PixelUnshuffle(2)",
       {rnd({1, 2, 4, 6}, 16)}},
  };
}

// All layer cases share one python process (torch's import is the slow part).
class LayerParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    torch_ = new TorchOracle;
    auto add = [](const char* family, std::vector<LayerCase> cases) {
      for (auto& c : cases) pending_[family].push_back(add_case(*torch_, std::move(c)));
    };
    add("linear", linear_cases());
    add("conv", conv_cases());
    add("pool", pool_cases());
    add("norm", norm_cases());
    add("misc", misc_cases());
    torch_->run();
  }
  static void TearDownTestSuite() {
    pending_.clear();
    delete torch_;
    torch_ = nullptr;
  }
  static void check(const char* family) {
    for (const auto& p : pending_[family]) check_case(*torch_, p);
  }
  static inline TorchOracle* torch_ = nullptr;
  static inline std::map<std::string, std::vector<Pending>> pending_;
};

TEST_F(LayerParity, LinearBilinearShapes) { check("linear"); }
TEST_F(LayerParity, Convolutions) { check("conv"); }
TEST_F(LayerParity, Pooling) { check("pool"); }
TEST_F(LayerParity, Normalization) { check("norm"); }
TEST_F(LayerParity, EmbeddingDropoutUpsample) { check("misc"); }

// ---------------------------------------------------------------- functional layers directly
TEST(LayerGradcheck, FunctionalLayersFloat64) {
  Generator gen(3);
  auto r = [&](const Shape& s) { return randn(s, gen, DType::Float64); };
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return F::linear(x[0], x[1], x[2]); },
                        {r({2, 3, 4}), r({5, 4}), r({5})}));
  EXPECT_TRUE(
      gradgradcheck([](const std::vector<Tensor>& x) { return F::linear(x[0], x[1], x[2]); },
                    {r({3, 4}), r({2, 4}), r({2})}));
  EXPECT_TRUE(
      gradcheck([](const std::vector<Tensor>& x) { return F::bilinear(x[0], x[1], x[2], x[3]); },
                {r({3, 2}), r({3, 4}), r({2, 2, 4}), r({2})}));
  Tensor ids = tensor({{0, 2, 2}, {1, 3, 0}});
  EXPECT_TRUE(gradcheck([ids](const std::vector<Tensor>& x) { return F::embedding(ids, x[0]); },
                        {r({4, 3})}));
  EXPECT_TRUE(gradgradcheck(
      [ids](const std::vector<Tensor>& x) { return F::embedding(ids, x[0]) * x[0].sum(); },
      {r({4, 3})}));
  for (const char* mode : {"nearest", "bilinear"})
    EXPECT_TRUE(gradcheck(
        [mode](const std::vector<Tensor>& x) {
          return F::interpolate(x[0], {.size = {5, 3}, .mode = mode});
        },
        {r({1, 2, 3, 4})}))
        << mode;
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return F::pixel_shuffle(x[0], 2); },
                        {r({1, 4, 2, 3})}));
}

// Whole modules in float64 (the reference kernels), input gradients by finite differences.
TEST(LayerGradcheck, ModulesFloat64) {
  manual_seed(6);
  std::vector<std::pair<ModulePtr, Shape>> cases = {
      {make<nn::Conv2d>(2, 3, 3, nn::Conv2dOptions{.padding = 1, .padding_mode = "reflect"}),
       {1, 2, 4, 4}},
      {make<nn::Conv1d>(2, 2, 3, nn::Conv1dOptions{.padding = 1, .padding_mode = "circular"}),
       {2, 2, 5}},
      {make<nn::ConvTranspose2d>(2, 2, 2, nn::ConvTranspose2dOptions{.stride = 2}), {1, 2, 2, 3}},
      {make<nn::BatchNorm2d>(2), {3, 2, 2, 2}},
      {make<nn::GroupNorm>(2, 4), {2, 4, 3}},
      {make<nn::LayerNorm>(4), {3, 4}},
      {make<nn::AvgPool2d>(2, nn::AvgPoolOptions{.stride = 1, .padding = 1}), {1, 1, 3, 3}},
      {make<nn::Upsample>(
           nn::UpsampleOptions{.scale_factor = {1.5}, .mode = "bilinear", .align_corners = true}),
       {1, 1, 3, 2}},
      {make<nn::Upsample>(nn::UpsampleOptions{.size = {7}, .mode = "linear"}), {1, 2, 3}},
  };
  Generator gen(2);
  for (auto& [m, shape] : cases) {
    m->to(DType::Float64);
    ModulePtr mod = m;
    EXPECT_TRUE(gradcheck([mod](const std::vector<Tensor>& x) { return (*mod)(x[0]); },
                          {randn(shape, gen, DType::Float64)}))
        << m->repr();
  }
}

TEST(LayerDropout, StatisticsMaskAndGradient) {
  Generator gen(11);
  Tensor x = ones({200, 100}).requires_grad_();
  Tensor y = F::dropout(x, 0.3, true, gen);
  double zero_frac = (y == 0).to(DType::Float64).mean().item<double>();
  EXPECT_NEAR(zero_frac, 0.3, 0.015);
  // kept elements are scaled by 1 / (1 - p); the gradient is the same mask
  Tensor kept = y.detach() != 0;
  EXPECT_TRUE(allclose(masked_select(y.detach(), kept), full({1}, 1.0f / 0.7f), 1e-6, 1e-6));
  y.sum().backward();
  EXPECT_TRUE(array_equal(x.grad(), y.detach()));
  // eval and p = 0 give x itself; p = 1 gives zeros
  EXPECT_TRUE(F::dropout(x, 0.3, false).is_same(x));
  EXPECT_TRUE(array_equal(F::dropout(x.detach(), 1.0, true), zeros({200, 100})));
  // dropout2d zeroes whole channels
  Tensor c = F::dropout2d(ones({8, 50, 3, 3}), 0.5, true, gen);
  Tensor per_channel = amax(c, {2, 3});
  EXPECT_TRUE(array_equal(amin(c, {2, 3}), per_channel));
  double dropped = (per_channel == 0).to(DType::Float64).mean().item<double>();
  EXPECT_NEAR(dropped, 0.5, 0.1);
  // the module follows train/eval
  manual_seed(4);
  nn::Dropout drop(0.5);
  Tensor a = ones({1000});
  EXPECT_FALSE(array_equal(drop(a), a));
  drop.eval();
  EXPECT_TRUE(drop(a).is_same(a));
}

TEST(LayerErrors, ClearMessages) {
  nn::Linear fc(4, 3);
  expect_error([&] { fc(ones({2, 5})); }, {"linear", "[2, 5]", "[3, 4]"});
  expect_error([&] { fc(ones({2, 4}, DType::Float64)); }, {"linear", "float64", "float32"});
  nn::Embedding emb(5, 2);
  expect_error([&] { emb(tensor({0, 5})); }, {"embedding", "out of range", "5"});
  expect_error([&] { emb(tensor({-1, 2})); }, {"embedding", "out of range"});
  expect_error([&] { emb(ones({2})); }, {"embedding", "integer"});
  expect_error([] { F::dropout(ones({2}), 1.5); }, {"dropout", "between 0 and 1"});
  expect_error(
      [] {
        F::interpolate(ones({1, 1, 2, 2}), {.size = {3, 3}, .mode = "cubic"});
      },
      {"interpolate", "cubic"});
  expect_error(
      [] {
        F::interpolate(ones({1, 1, 2, 2}), {.size = {3, 3}, .mode = "linear"});
      },
      {"interpolate", "linear", "3-D"});
  expect_error(
      [] {
        F::interpolate(ones({1, 1, 2}), {.size = {3}, .scale_factor = {2.0}});
      },
      {"interpolate", "exactly one"});
  expect_error([] { F::pixel_shuffle(ones({1, 3, 2, 2}), 2); }, {"pixel_shuffle", "divisible"});
  expect_error([] { nn::Conv2d(3, 4, 3, {.groups = 2}); }, {"Conv2d", "divisible by groups"});
  expect_error([] { nn::Conv2d(2, 4, 3, {.padding_mode = "mirror"}); }, {"Conv2d", "mirror"});
  nn::BatchNorm2d bn(3);
  expect_error([&] { bn(ones({2, 3, 4})); }, {"BatchNorm2d", "4-D", "[2, 3, 4]"});
  expect_error([&] { bn(ones({2, 4, 2, 2})); }, {"BatchNorm2d", "3 channels", "[2, 4, 2, 2]"});
  expect_error([] { nn::GroupNorm(3, 4); }, {"GroupNorm", "divisible"});
}
