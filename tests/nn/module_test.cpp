// nn::Module mechanics: names, order and counts against the same model built in PyTorch,
// repr() against torch's print, state_dict round trips and load errors, hooks, train/eval,
// to(dtype), apply, registration errors, and a full forward/backward of a small CNN against
// torch.
#include "ravel/nn/module.h"

#include <gtest/gtest.h>

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
#include "support/numpy_oracle.h"

using namespace ravel;
using ravel::testing::expect_error;
using ravel::testing::matches;
using ravel::testing::TorchOracle;

namespace {

// A user-defined module (and PyTorch's ReLU, as torch prints it).
struct ReLU : nn::Module {
  Tensor forward(const Tensor& x) override { return maximum(x, Scalar(0.0f)); }
  std::string type_name() const override { return "ReLU"; }
};

// The same network in both libraries.
struct Net : nn::Module {
  std::shared_ptr<nn::Sequential> features, classifier;
  explicit Net(double p = 0.5) {
    features = register_module(
        "features", std::make_shared<nn::Sequential>(
                        std::make_shared<nn::Conv2d>(3, 4, 3, nn::Conv2dOptions{.padding = 1}),
                        std::make_shared<nn::BatchNorm2d>(4), std::make_shared<ReLU>(),
                        std::make_shared<nn::MaxPool2d>(2)));
    classifier = register_module(
        "classifier", std::make_shared<nn::Sequential>(std::make_shared<nn::Flatten>(),
                                                       std::make_shared<nn::Linear>(4 * 2 * 2, 5),
                                                       std::make_shared<nn::Dropout>(p),
                                                       std::make_shared<nn::Linear>(5, 2)));
  }
  Tensor forward(const Tensor& x) override { return (*classifier)((*features)(x)); }
  std::string type_name() const override { return "Net"; }
};

const char* kTorchNet = R"(
class Net(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4),
                                      nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16, 5), nn.Dropout(p),
                                        nn.Linear(5, 2))
    def forward(self, x):
        return self.classifier(self.features(x))
def text(s):
    return np.frombuffer(s.encode(), dtype=np.uint8)
)";

std::string text(const Tensor& bytes) {
  auto v = bytes.to_vector<uint8_t>();
  return std::string(v.begin(), v.end());
}

template <typename Named>
std::string join_names(const Named& named) {
  std::string s;
  bool first = true;
  for (const auto& [name, t] : named) {
    s += (first ? "" : ",") + name;
    first = false;
  }
  return s;
}

Shape shape_list(const nn::StateDict& sd) {
  Shape s;
  for (const auto& [name, t] : sd) {
    s.push_back(t.ndim());
    for (int64_t d : t.shape()) s.push_back(d);
  }
  return s;
}

}  // namespace

// The torch side of every comparison in this file runs in one python process.
class ModuleTorch : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite() {
    delete torch_;
    torch_ = nullptr;
    net_.reset();
    layers_.clear();
  }
  static std::vector<Tensor> results(int h) {
    EXPECT_EQ(torch_->error(h), "");
    return torch_->error(h).empty() ? torch_->results(h) : std::vector<Tensor>{};
  }
  static inline TorchOracle* torch_ = nullptr;
  static inline int names_ = -1, train_eval_ = -1, layers_repr_ = -1, floats_ = -1;
  static inline std::shared_ptr<Net> net_;  // for TrainThenEval, initialised before the oracle
  static inline Tensor x_, x2_;
  static inline std::vector<std::shared_ptr<nn::Module>> layers_;
  static inline const std::vector<double> float_values_ = {
      1e-5, 0.1, 2.0, 0.0001, 1e-4 / 3, 123456.789, 1e16, 1e300, -0.0625, 1.5e-7, 0.5, 1.0 / 3.0};
};

void ModuleTorch::SetUpTestSuite() {
  torch_ = new TorchOracle;
  names_ = torch_->add_script(std::string(kTorchNet) + R"(
m = Net()
sd = m.state_dict()
shapes = []
for v in sd.values():
    shapes += [v.dim()] + list(v.shape)
out = [text(','.join(sd.keys())), np.array(shapes, dtype=np.int64),
       text(','.join(n for n, _ in m.named_parameters())),
       text(','.join(n for n, _ in m.named_buffers())),
       text(','.join(n for n, _ in m.named_modules())),
       text(','.join(n for n, _ in m.named_children())),
       np.int64(sum(p.numel() for p in m.parameters())), text(repr(m)),
       np.array([str(v.dtype) == 'torch.int64' for v in sd.values()])])",
                              {});

  // Train step then eval forward of the whole network, from ravel's initial state.
  manual_seed(3);
  net_ = std::make_shared<Net>(0.0);
  Generator gen(8);
  x_ = randn({2, 3, 4, 4}, gen);
  x2_ = randn({3, 3, 4, 4}, gen);
  std::vector<Tensor> inputs{x_, x2_};
  std::string keys, vals;
  const std::string letters = "abcdefghijklmnop";
  for (const auto& [k, t] : net_->state_dict()) {
    keys += "'" + k + "', ";
    vals += std::string(1, letters[inputs.size()]) + ", ";
    inputs.push_back(t.clone());
  }
  ASSERT_LE(inputs.size(), letters.size());
  train_eval_ =
      torch_->add_script(std::string(kTorchNet) + "keys = [" + keys + "]\nvals = [" + vals + R"(]
m = Net(0.0)
m.load_state_dict({k: torch.tensor(v) for k, v in zip(keys, vals)})
x = torch.tensor(a, requires_grad=True)
y = m(x)
(y * y).sum().backward()
m.eval()
y2 = m(torch.tensor(b))
out = [y, x.grad] + [p.grad for p in m.parameters()] + list(m.buffers()) + [y2])",
                         inputs);

  layers_ = {
      std::make_shared<nn::Conv2d>(3, 4, 3,
                                   nn::Conv2dOptions{.padding = "same", .padding_mode = "reflect"}),
      std::make_shared<nn::Conv1d>(
          2, 4, 3, nn::Conv1dOptions{.stride = 2, .dilation = 2, .groups = 2, .bias = false}),
      std::make_shared<nn::ConvTranspose2d>(
          4, 2, 3, nn::ConvTranspose2dOptions{.stride = 2, .padding = 1, .output_padding = 1}),
      std::make_shared<nn::AvgPool1d>(3),
      std::make_shared<nn::AvgPool2d>(3, nn::AvgPoolOptions{.stride = 2}),
      std::make_shared<nn::MaxPool2d>(3, nn::MaxPoolOptions{.stride = 2, .padding = 1}),
      std::make_shared<nn::AdaptiveAvgPool2d>(nn::functional::Ints{2, 3}),
      std::make_shared<nn::BatchNorm1d>(3, nn::BatchNormOptions{.momentum = std::nullopt}),
      std::make_shared<nn::InstanceNorm2d>(3),
      std::make_shared<nn::LayerNorm>(std::vector<int64_t>{3, 5}),
      std::make_shared<nn::GroupNorm>(2, 4, nn::GroupNormOptions{.eps = 1e-3}),
      std::make_shared<nn::Unflatten>(1, std::vector<int64_t>{2, 3}),
      std::make_shared<nn::Bilinear>(2, 3, 4, false),
      std::make_shared<nn::Dropout2d>(0.25),
      std::make_shared<nn::Embedding>(10, 3, nn::EmbeddingOptions{.padding_idx = -2}),
      std::make_shared<nn::Upsample>(
          nn::UpsampleOptions{.scale_factor = {2.0, 1.5}, .mode = "bilinear"}),
      std::make_shared<nn::PixelShuffle>(3),
  };
  layers_repr_ = torch_->add_script(R"(
ms = [nn.Conv2d(3, 4, 3, padding='same', padding_mode='reflect'),
      nn.Conv1d(2, 4, 3, stride=2, dilation=2, groups=2, bias=False),
      nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1),
      nn.AvgPool1d(3), nn.AvgPool2d(3, 2), nn.MaxPool2d(3, 2, 1), nn.AdaptiveAvgPool2d((2, 3)),
      nn.BatchNorm1d(3, momentum=None), nn.InstanceNorm2d(3), nn.LayerNorm([3, 5]),
      nn.GroupNorm(2, 4, eps=1e-3), nn.Unflatten(1, (2, 3)), nn.Bilinear(2, 3, 4, bias=False),
      nn.Dropout2d(0.25), nn.Embedding(10, 3, padding_idx=-2),
      nn.Upsample(scale_factor=(2.0, 1.5), mode='bilinear'), nn.PixelShuffle(3)]
out = np.frombuffer('\n'.join(repr(m) for m in ms).encode(), dtype=np.uint8))",
                                    {});
  floats_ =
      torch_->add("np.frombuffer(' '.join(repr(float(v)) for v in a).encode(), dtype=np.uint8)",
                  {from_vector(float_values_)});
  torch_->run();
}

TEST_F(ModuleTorch, NamesOrderCountsAndReprMatchTorch) {
  auto net = std::make_shared<Net>();
  auto r = results(names_);
  ASSERT_EQ(r.size(), 9u);
  nn::StateDict sd = net->state_dict();
  EXPECT_EQ(join_names(sd), text(r[0]));
  Shape shapes = shape_list(sd);
  EXPECT_TRUE(matches(from_vector(std::vector<int64_t>(shapes.begin(), shapes.end())), r[1]));
  EXPECT_EQ(join_names(net->named_parameters()), text(r[2]));
  EXPECT_EQ(join_names(net->named_buffers()), text(r[3]));
  EXPECT_EQ(join_names(net->named_modules()), text(r[4]));
  EXPECT_EQ(join_names(net->named_children()), text(r[5]));
  EXPECT_EQ(net->num_parameters(), r[6].item<int64_t>());
  EXPECT_EQ(net->repr(), text(r[7]));
  std::vector<bool> is_int;
  for (const auto& [name, t] : sd) is_int.push_back(t.dtype() == DType::Int64);
  EXPECT_TRUE(matches(from_vector(is_int), r[8]));
}

// Forward and backward of the whole network, in training (BatchNorm batch statistics, running
// statistics updated) and then in eval (running statistics, dropout off), against torch.
TEST_F(ModuleTorch, TrainThenEvalMatchesTorch) {
  auto r = results(train_eval_);
  Tensor xl = x_.clone().requires_grad_();
  Tensor y = (*net_)(xl);
  (y * y).sum().backward();
  net_->eval();
  Tensor y2 = (*net_)(x2_);
  auto params = net_->named_parameters();
  auto buffers = net_->named_buffers();
  ASSERT_EQ(r.size(), 3 + params.size() + buffers.size());
  EXPECT_TRUE(matches(y, r[0], 1e-4, 1e-5));
  EXPECT_TRUE(matches(xl.grad(), r[1], 1e-4, 1e-5));
  size_t k = 2;
  for (const auto& [name, p] : params) EXPECT_TRUE(matches(p.grad(), r[k++], 1e-4, 1e-5)) << name;
  for (const auto& [name, b] : buffers) EXPECT_TRUE(matches(b, r[k++], 1e-4, 1e-5)) << name;
  EXPECT_TRUE(matches(y2, r[k], 1e-4, 1e-5));
}

TEST_F(ModuleTorch, LayersPrintAsTorch) {
  auto r = results(layers_repr_);
  ASSERT_EQ(r.size(), 1u);
  std::string s;
  for (const auto& m : layers_) s += (s.empty() ? "" : "\n") + m->repr();
  EXPECT_EQ(s, text(r[0]));
}

TEST_F(ModuleTorch, PythonFloatSpelling) {
  auto r = results(floats_);
  ASSERT_EQ(r.size(), 1u);
  std::string ours;
  for (double v : float_values_) ours += (ours.empty() ? "" : " ") + nn::repr_float(v);
  EXPECT_EQ(ours, text(r[0]));
  EXPECT_EQ(nn::repr_tuple({3}), "(3,)");
  EXPECT_EQ(nn::repr_tuple({3, 1}), "(3, 1)");
}

TEST(ModuleState, RoundTripSharesDataAndKeepsHandles) {
  auto a = std::make_shared<Net>(), b = std::make_shared<Net>();
  auto fc = b->classifier->at<nn::Linear>(1);
  Tensor handle = fc->weight;
  EXPECT_FALSE(array_equal(a->classifier->at<nn::Linear>(1)->weight, handle));
  nn::LoadResult res = b->load_state_dict(a->state_dict());
  EXPECT_TRUE(res.missing_keys.empty());
  EXPECT_TRUE(res.unexpected_keys.empty());
  auto sa = a->state_dict(), sb = b->state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].first, sb[i].first);
    EXPECT_TRUE(array_equal(sa[i].second, sb[i].second)) << sa[i].first;
    EXPECT_FALSE(sa[i].second.requires_grad()) << "state_dict entries are detached";
  }
  // the parameter kept its handle and its requires_grad
  EXPECT_TRUE(fc->weight.is_same(handle));
  EXPECT_TRUE(b->classifier->at<nn::Linear>(1)->parameter("weight").is_same(handle));
  EXPECT_TRUE(handle.requires_grad());
  // entries share data with the module
  Tensor w = sb[0].second;
  w.fill_(0.25);
  EXPECT_EQ(b->features->at<nn::Conv2d>(0)->weight.sum().item<float>(), 0.25f * w.numel());
}

TEST(ModuleState, StrictAndNonStrictErrors) {
  auto net = std::make_shared<Net>();
  nn::StateDict sd = net->state_dict();
  nn::StateDict missing(sd.begin() + 1, sd.end());
  expect_error([&] { net->load_state_dict(missing); },
               {"load_state_dict", "Net", "missing", "\"features.0.weight\""});
  nn::StateDict extra = sd;
  extra.emplace_back("head.weight", zeros({2}));
  extra.emplace_back("features.9.bias", zeros({2}));
  expect_error([&] { net->load_state_dict(extra); },
               {"unexpected", "\"head.weight\", \"features.9.bias\""});
  nn::LoadResult res = net->load_state_dict(missing, false);
  EXPECT_EQ(res.missing_keys, std::vector<std::string>{"features.0.weight"});
  res = net->load_state_dict(extra, false);
  EXPECT_EQ(res.unexpected_keys, (std::vector<std::string>{"head.weight", "features.9.bias"}));
  // a shape mismatch is an error even when not strict; nothing is copied
  nn::StateDict bad = sd;
  Tensor before = net->classifier->at<nn::Linear>(3)->weight.clone();
  for (auto& [k, t] : bad) {
    if (k == "classifier.3.weight") t = zeros({3, 5});
    if (k == "classifier.1.weight") t = zeros_like(t);
  }
  expect_error([&] { net->load_state_dict(bad, false); },
               {"size mismatch", "classifier.3.weight", "[3, 5]", "[2, 5]"});
  EXPECT_FALSE(array_equal(net->classifier->at<nn::Linear>(1)->weight, zeros({5, 16})));
  EXPECT_TRUE(array_equal(net->classifier->at<nn::Linear>(3)->weight, before));
  // values of another dtype are cast into the parameter's dtype
  nn::Linear fc(2, 2);
  fc.load_state_dict({{"weight", eye(2, std::nullopt, 0, DType::Float64)}, {"bias", ones({2})}});
  EXPECT_EQ(fc.weight.dtype(), DType::Float32);
  EXPECT_TRUE(array_equal(fc.weight, eye(2)));
}

TEST(ModuleHooks, PreHooksHooksAndRemoval) {
  auto seq = std::make_shared<nn::Sequential>(std::make_shared<nn::Identity>(),
                                              std::make_shared<nn::Identity>());
  std::vector<std::string> calls;
  int pre = seq->register_forward_pre_hook([&](nn::Module& m, const Tensor& x) {
    calls.push_back("pre " + m.type_name());
    return x * 2.0f;
  });
  int post = seq->register_forward_hook([&](nn::Module&, const Tensor& in, const Tensor& out) {
    calls.push_back("post");
    EXPECT_TRUE(array_equal(in, full({2}, 6.0f)));
    return out + 1.0f;
  });
  // hooks of children run too: Sequential calls them through operator()
  (*seq)[1]->register_forward_hook([&](nn::Module&, const Tensor&, const Tensor&) {
    calls.push_back("child");
    return Tensor();  // keep the output
  });
  Tensor y = (*seq)(full({2}, 3.0f));
  EXPECT_TRUE(array_equal(y, full({2}, 7.0f)));
  EXPECT_EQ(calls, (std::vector<std::string>{"pre Sequential", "child", "post"}));
  seq->remove_hook(pre);
  seq->remove_hook(post);
  EXPECT_TRUE(array_equal((*seq)(full({2}, 3.0f)), full({2}, 3.0f)));
  // forward() itself skips hooks
  seq->register_forward_hook([](nn::Module&, const Tensor&, const Tensor& o) { return o * 0.0f; });
  EXPECT_TRUE(array_equal(seq->forward(full({2}, 3.0f)), full({2}, 3.0f)));
}

TEST(ModuleMode, TrainEvalIsRecursive) {
  auto net = std::make_shared<Net>();
  for (auto& [name, m] : net->named_modules()) EXPECT_TRUE(m->is_training()) << name;
  net->eval();
  for (auto& [name, m] : net->named_modules()) EXPECT_FALSE(m->is_training()) << name;
  // eval: dropout is the identity and batch norm uses (and keeps) its running statistics
  Tensor x = randn({2, 3, 4, 4});
  auto bn = net->features->at<nn::BatchNorm2d>(1);
  Tensor y1 = (*net)(x), y2 = (*net)(x);
  EXPECT_TRUE(array_equal(y1, y2));
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 0);
  EXPECT_TRUE(array_equal(bn->running_mean, zeros({4})));
  net->train();
  (*net)(x);
  EXPECT_EQ(bn->num_batches_tracked.dtype(), DType::Int64);
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 1);
  EXPECT_FALSE(array_equal(bn->running_mean, zeros({4})));
}

TEST(ModuleConvert, ToFloat64InPlace) {
  auto net = std::make_shared<Net>();
  auto fc = net->classifier->at<nn::Linear>(1);
  Tensor handle = fc->weight;
  Tensor before = handle.clone();
  net->to(DType::Float64);
  EXPECT_TRUE(fc->weight.is_same(handle));
  EXPECT_EQ(handle.dtype(), DType::Float64);
  EXPECT_TRUE(handle.requires_grad());
  EXPECT_TRUE(array_equal(handle, before.to(DType::Float64)));
  for (auto& [name, p] : net->named_parameters()) EXPECT_EQ(p.dtype(), DType::Float64) << name;
  auto bn = net->features->at<nn::BatchNorm2d>(1);
  EXPECT_EQ(bn->running_var.dtype(), DType::Float64);
  EXPECT_EQ(bn->num_batches_tracked.dtype(), DType::Int64);
  Tensor x = randn({2, 3, 4, 4}, default_generator(), DType::Float64);
  Tensor y = (*net)(x);
  EXPECT_EQ(y.dtype(), DType::Float64);
  y.sum().backward();
  EXPECT_EQ(handle.grad().dtype(), DType::Float64);
  net->zero_grad();
  for (auto& p : net->parameters()) EXPECT_FALSE(p.grad().defined());
  expect_error([&] { net->to(DType::Int32); }, {"Net", "floating", "int32"});
}

TEST(ModuleTraversal, ApplyCountsSharingAndLookup) {
  auto net = std::make_shared<Net>();
  std::vector<std::string> order;
  net->apply([&](nn::Module& m) { order.push_back(m.type_name()); });
  EXPECT_EQ(order, (std::vector<std::string>{"Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d",
                                             "Sequential", "Flatten", "Linear", "Dropout", "Linear",
                                             "Sequential", "Net"}));
  const int64_t total = net->num_parameters();
  EXPECT_EQ(total, (4 * 3 * 9 + 4) + (4 + 4) + (5 * 16 + 5) + (2 * 5 + 2));
  auto conv = net->features->at<nn::Conv2d>(0);
  conv->weight.requires_grad_(false);
  EXPECT_EQ(net->num_parameters(true), total - 4 * 3 * 9);
  EXPECT_EQ(net->parameters(false).size(), 0u);
  EXPECT_EQ(conv->parameters(false).size(), 2u);
  EXPECT_TRUE(conv->parameter("bias").is_same(conv->bias));
  EXPECT_FALSE(conv->parameter("nope").defined());
  EXPECT_TRUE(net->features->at<nn::BatchNorm2d>(1)->buffer("running_mean").defined());
  EXPECT_EQ(net->child("features"), net->features);
  EXPECT_EQ(net->child("nope"), nullptr);
  // a module registered twice: parameters listed once, state_dict keeps both names (as torch)
  auto shared = std::make_shared<nn::Linear>(2, 2);
  nn::Sequential tied(shared, shared);
  EXPECT_EQ(tied.named_parameters().size(), 2u);
  EXPECT_EQ(tied.named_modules().size(), 2u);
  EXPECT_EQ(tied.state_dict().size(), 4u);
  // containers
  nn::ModuleList list(std::make_shared<nn::Identity>(), std::make_shared<ReLU>());
  EXPECT_EQ(list.size(), 2u);
  EXPECT_EQ(list[-1]->type_name(), "ReLU");
  expect_error([&] { list[2]; }, {"ModuleList", "out of range"});
  expect_error([&] { list.at<nn::Linear>(0); }, {"ModuleList", "Identity"});
  expect_error([&] { list(ones({1})); }, {"ModuleList", "forward", "not implemented"});
  nn::ModuleDict dict({{"a", std::make_shared<nn::Identity>()}});
  dict.insert("b", std::make_shared<ReLU>());
  EXPECT_EQ(dict.keys(), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(dict.contains("b"));
  expect_error([&] { dict["c"]; }, {"ModuleDict", "\"c\""});
  nn::Sequential named(
      {{"fc", std::make_shared<nn::Linear>(3, 2)}, {"act", std::make_shared<ReLU>()}});
  EXPECT_EQ(join_names(named.named_parameters()), "fc.weight,fc.bias");
  EXPECT_EQ(named(ones({4, 3})).shape(), (Shape{4, 2}));
}

TEST(ModuleErrors, RegistrationAndForward) {
  nn::Module m;
  m.register_parameter("w", zeros({2}));
  expect_error([&] { m.register_buffer("w", zeros({2})); }, {"\"w\"", "already"});
  expect_error([&] { m.register_parameter("a.b", zeros({2})); }, {"a.b", "\".\""});
  expect_error([&] { m.register_parameter("", zeros({2})); }, {"empty"});
  expect_error([&] { m.register_module("c", std::shared_ptr<nn::Module>()); }, {"\"c\"", "null"});
  expect_error([&] { m.register_parameter("i", zeros({2}, DType::Int64)); }, {"\"i\"", "int64"});
  expect_error([&] { m(ones({1})); }, {"Module: forward(Tensor) is not implemented"});
  // a parameter is a leaf that requires grad; integer buffers are fine
  EXPECT_TRUE(m.parameter("w").requires_grad());
  EXPECT_TRUE(m.parameter("w").is_leaf());
  m.register_buffer("count", zeros({}, DType::Int64));
  EXPECT_EQ(m.state_dict().size(), 2u);
}
