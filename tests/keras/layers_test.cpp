// The built-in Keras layers against PyTorch / NumPy (one python run for all cases): each layer
// runs on a random input, its weights are sent to torch, and torch computes what the layer
// should (TF's "same" padding and Keras' average-pool count written from their definitions).
// Also configs round trips for every layer, errors, and the random augmentation layers.
#include "ravel/keras/layers.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ravel/autograd.h"
#include "ravel/data/transforms.h"
#include "ravel/nn/conv.h"
#include "ravel/nn/module.h"
#include "ravel/nn/norm.h"
#include "ravel/nn/rnn.h"
#include "ravel/ops.h"
#include "ravel/random.h"
#include "support/expect_error.h"
#include "support/numpy_oracle.h"

namespace ravel::keras {
namespace {

using ravel::testing::expect_error;
using ravel::testing::matches;
using ravel::testing::TorchOracle;

// Helpers every torch script sees.
const char* kPrelude = R"(
T = lambda v: torch.from_numpy(np.ascontiguousarray(v))
def tf_pad(n, k, s, d=1):  # TF's "same": ceil(n / s) outputs, the odd pixel after
    out = -(-n // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2
def same(x, k, s, d=(1, 1), value=0.0):
    t, b = tf_pad(x.shape[2], k[0], s[0], d[0])
    l, r = tf_pad(x.shape[3], k[1], s[1], d[1])
    return F.pad(x, (l, r, t, b), value=value)
)";

// Our outputs, compared after one oracle run.
struct Checks {
  TorchOracle torch;
  struct Check {
    std::string what;
    std::vector<Tensor> ours;
    int handle;
    double tol;
  };
  std::vector<Check> checks;
  // script sees inputs as a, b, c, ... and sets `out` (one tensor or a tuple, matching ours).
  void add(const std::string& what, std::vector<Tensor> ours, const std::string& script,
           const std::vector<Tensor>& inputs, double tol = 1e-5) {
    checks.push_back({what, std::move(ours), torch.add_script(kPrelude + script, inputs), tol});
  }
  void run() {
    torch.run();
    for (const auto& c : checks) {
      EXPECT_EQ(torch.error(c.handle), "") << c.what;
      if (!torch.error(c.handle).empty()) continue;
      const auto& r = torch.results(c.handle);
      EXPECT_EQ(r.size(), c.ours.size()) << c.what;
      if (r.size() != c.ours.size()) continue;
      for (size_t i = 0; i < r.size(); ++i)
        EXPECT_TRUE(matches(c.ours[i], r[i], c.tol, c.tol, false)) << c.what << " output " << i;
    }
  }
};

// The layer's state_dict values, in order (weights first, as torch scripts expect them).
std::vector<Tensor> weights(const nn::Module& m) {
  std::vector<Tensor> out;
  for (auto& [k, t] : m.state_dict()) out.push_back(t.clone());
  return out;
}

std::vector<Tensor> cat(std::vector<Tensor> a, const std::vector<Tensor>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(KerasLayers, AgainstTorch) {
  Generator gen(3);
  Checks c;

  // ---- Dense on 2-D and 3-D input
  {
    Tensor x = randn({4, 5}, gen);
    auto d = Dense(3, "relu");
    Tensor y = d(x);
    c.add("Dense 2-D", {y}, "out = F.relu(F.linear(T(a), T(b), T(c)))", cat({x}, weights(*d)));
    Tensor x3 = randn({2, 3, 5}, gen);
    auto d3 = Dense(4, "", {.use_bias = false});
    Tensor y3 = d3(x3);
    c.add("Dense 3-D", {y3}, "out = F.linear(T(a), T(b))", cat({x3}, weights(*d3)));
    EXPECT_EQ(d3->state_dict().size(), 1u);
  }

  // ---- Conv2D: valid / same, strides 1 and 2, even kernels, dilation, groups
  {
    Tensor x = randn({2, 4, 7, 6}, gen);
    struct ConvCase {
      std::string what;
      LayerPtr<layers::Conv2D> layer;
      std::string torch;  // a: input, b: weight, c: bias
      ravel::Shape shape;
    };
    std::vector<ConvCase> cases = {
        {"valid", Conv2D(3, 3), "out = F.conv2d(T(a), T(b), T(c))", {2, 3, 5, 4}},
        {"same s1",
         Conv2D(3, 3, {.padding = "same"}),
         "out = F.conv2d(same(T(a), (3, 3), (1, 1)), T(b), T(c))",
         {2, 3, 7, 6}},
        {"same s2",
         Conv2D(3, 3, {.strides = 2, .padding = "same"}),
         "out = F.conv2d(same(T(a), (3, 3), (2, 2)), T(b), T(c), stride=2)",
         {2, 3, 4, 3}},
        {"valid s2",
         Conv2D(3, {3, 2}, {.strides = 2, .activation = "sigmoid"}),
         "out = torch.sigmoid(F.conv2d(T(a), T(b), T(c), stride=2))",
         {2, 3, 3, 3}},
        {"same even kernel",
         Conv2D(2, {2, 4}, {.strides = {1, 2}, .padding = "same"}),
         "out = F.conv2d(same(T(a), (2, 4), (1, 2)), T(b), T(c), stride=(1, 2))",
         {2, 2, 7, 3}},
        {"same dilated grouped",
         Conv2D(4, 3, {.padding = "same", .use_bias = false, .dilation_rate = 2, .groups = 2}),
         "out = F.conv2d(same(T(a), (3, 3), (1, 1), (2, 2)), T(b), dilation=2, groups=2)",
         {2, 4, 7, 6}},
    };
    for (auto& cc : cases) {
      Tensor y = cc.layer(x);
      EXPECT_EQ(y.shape(), cc.shape) << cc.what;
      c.add("Conv2D " + cc.what, {y}, cc.torch, cat({x}, weights(*cc.layer)));
    }
  }

  // ---- pooling
  {
    Tensor x = randn({2, 3, 7, 6}, gen);
    c.add("MaxPooling2D valid", {MaxPooling2D()(x)}, "out = F.max_pool2d(T(a), 2)", {x});
    c.add("MaxPooling2D same s2", {MaxPooling2D(3, {.strides = 2, .padding = "same"})(x)},
          "out = F.max_pool2d(same(T(a), (3, 3), (2, 2), value=-float('inf')), 3, 2)", {x});
    c.add("AveragePooling2D valid", {AveragePooling2D({2, 3})(x)},
          "out = F.avg_pool2d(T(a), (2, 3))", {x});
    // Keras' "same" average: the mean of the real cells of each window.
    Tensor avg = AveragePooling2D(3, {.strides = 2, .padding = "same"})(x);
    EXPECT_EQ(avg.shape(), (ravel::Shape{2, 3, 4, 3}));
    c.add("AveragePooling2D same s2", {avg}, R"(
H, W = a.shape[2], a.shape[3]
t, _ = tf_pad(H, 3, 2); l, _ = tf_pad(W, 3, 2)
out = np.zeros(a.shape[:2] + (-(-H // 2), -(-W // 2)), dtype=a.dtype)
for i in range(out.shape[2]):
    for j in range(out.shape[3]):
        y0, x0 = i * 2 - t, j * 2 - l
        win = a[:, :, max(y0, 0):min(y0 + 3, H), max(x0, 0):min(x0 + 3, W)]
        out[:, :, i, j] = win.mean(axis=(2, 3))
)",
          {x});
    c.add("GlobalAveragePooling2D", {GlobalAveragePooling2D()(x)}, "out = a.mean(axis=(2, 3))",
          {x});
    c.add("GlobalMaxPooling2D keepdims", {GlobalMaxPooling2D(true)(x)},
          "out = a.max(axis=(2, 3), keepdims=True)", {x});
  }

  // ---- BatchNormalization: train (output and moving statistics) and eval, other axes
  {
    Tensor x = randn({4, 3, 5, 5}, gen) * 2.0 + 1.0;
    auto bn = BatchNormalization();
    bn(x.slice(0, 0, 1));  // build
    {
      NoGradGuard ng;
      for (auto& [k, t] : bn->named_parameters()) t.copy_(randn(t.shape(), gen));
    }
    std::vector<Tensor> before = weights(*bn);
    Tensor y = bn(x);
    Tensor rm = bn->bn->running_mean.clone(), rv = bn->bn->running_var.clone();
    c.add("BatchNormalization train", {y, rm, rv}, R"(
m = nn.BatchNorm2d(3, eps=1e-3, momentum=0.01)
m.weight.data, m.bias.data = T(b), T(c)
m.running_mean.data, m.running_var.data = T(d), T(e)
m.train()
out = (m(T(a)), m.running_mean, m.running_var)
)",
          cat({x}, before), 1e-4);
    bn->eval();
    c.add("BatchNormalization eval", {bn(x)}, R"(
out = F.batch_norm(T(a), T(d), T(e), T(b), T(c), training=False, eps=1e-3)
)",
          cat({x}, weights(*bn)), 1e-4);

    Tensor x2 = randn({6, 4}, gen);
    auto bn2 = BatchNormalization({.momentum = 0.9, .epsilon = 1e-5});
    Tensor y2 = bn2(x2);
    c.add("BatchNormalization 2-D", {y2, bn2->bn->running_mean},
          "m = nn.BatchNorm1d(4, eps=1e-5, momentum=0.1)\nout = (m(T(a)), m.running_mean)", {x2},
          1e-4);
    Tensor x3 = randn({3, 5, 4}, gen);
    auto bn3 = BatchNormalization({.axis = -1, .center = false});
    Tensor y3 = bn3(x3);
    EXPECT_FALSE(bn3->bn->bias.requires_grad());
    EXPECT_TRUE(bn3->bn->weight.requires_grad());
    c.add("BatchNormalization axis -1", {y3},
          "out = F.batch_norm(T(a).permute(0, 2, 1), None, None, training=True, "
          "eps=1e-3).permute(0, 2, 1)",
          {x3}, 1e-4);
  }

  // ---- Embedding, LSTM, GRU (weights copied into torch)
  {
    Tensor ids = randint(0, 10, {2, 3}, gen);
    auto emb = Embedding(10, 4);
    Tensor e = emb(ids);
    c.add("Embedding", {e}, "out = F.embedding(T(a), T(b))", cat({ids}, weights(*emb)));

    Tensor x = randn({2, 5, 3}, gen);
    std::string load = R"(
m.weight_ih_l0.data, m.weight_hh_l0.data = T(b), T(c)
m.bias_ih_l0.data, m.bias_hh_l0.data = T(d), T(e)
)";
    auto lstm = LSTM(4);
    Tensor y = lstm(x);
    EXPECT_EQ(y.shape(), (ravel::Shape{2, 4}));
    c.add("LSTM", {y}, "m = nn.LSTM(3, 4, batch_first=True)" + load + "out = m(T(a))[0][:, -1]",
          cat({x}, weights(*lstm)));
    auto lstm_seq = LSTM(4, {.return_sequences = true, .go_backwards = true});
    Tensor ys = lstm_seq(x);
    EXPECT_EQ(ys.shape(), (ravel::Shape{2, 5, 4}));
    c.add("LSTM backwards sequences", {ys},
          "m = nn.LSTM(3, 4, batch_first=True)" + load + "out = m(T(a).flip(1))[0]",
          cat({x}, weights(*lstm_seq)));
    auto gru = GRU(4, {.return_sequences = true});
    Tensor yg = gru(x);
    c.add("GRU", {yg}, "m = nn.GRU(3, 4, batch_first=True)" + load + "out = m(T(a))[0]",
          cat({x}, weights(*gru)));
    // Keras' LSTM bias init: the forget gate's bias is 1.
    Tensor bias_ih = lstm->rnn->flat_weights()[2];
    EXPECT_TRUE(bias_ih.slice(0, 4, 8).all_close(ones({4})));
    EXPECT_TRUE(bias_ih.slice(0, 0, 4).all_close(zeros({4})));
    EXPECT_TRUE(lstm->rnn->flat_weights()[3].all_close(zeros({16})));
  }

  // ---- merges, activations, rescaling
  {
    Tensor a = randn({2, 3}, gen), b = randn({2, 3}, gen), d = randn({2, 4}, gen);
    c.add("Add", {Add()->call({a, b, a})}, "out = a + b + a", {a, b});
    c.add("Multiply", {Multiply()->call({a, b})}, "out = a * b", {a, b});
    c.add("Average", {Average()->call({a, b})}, "out = (a + b) / 2", {a, b});
    c.add("Concatenate", {Concatenate()->call({a, d, a})},
          "out = np.concatenate([a, b, a], axis=-1)", {a, d});
    Tensor e = randn({2, 3, 2}, gen), f = randn({2, 1, 2}, gen);
    c.add("Concatenate axis 1", {Concatenate(1)->call({e, f})},
          "out = np.concatenate([a, b], axis=1)", {e, f});
    const std::vector<std::pair<std::string, std::string>> acts = {
        {"relu", "F.relu(x)"},
        {"sigmoid", "torch.sigmoid(x)"},
        {"tanh", "torch.tanh(x)"},
        {"softmax", "F.softmax(x, -1)"},
        {"log_softmax", "F.log_softmax(x, -1)"},
        {"gelu", "F.gelu(x)"},
        {"elu", "F.elu(x)"},
        {"selu", "F.selu(x)"},
        {"swish", "F.silu(x)"},
        {"silu", "F.silu(x)"},
        {"leaky_relu", "F.leaky_relu(x, 0.2)"},
        {"softplus", "F.softplus(x)"},
        {"linear", "x"},
        {"", "x"}};
    Tensor x = randn({3, 5}, gen) * 3.0;
    for (const auto& [name, expr] : acts)
      c.add("Activation " + name, {Activation(name)(x)}, "x = T(a)\nout = " + expr, {x});
    c.add("Rescaling", {Rescaling(1.0 / 255, -0.5)(x)}, "out = a * (1 / 255) - 0.5", {x});
    Tensor u8 = randint(0, 256, {2, 3}, gen, DType::UInt8);
    Tensor r8 = Rescaling(0.5)(u8);
    EXPECT_EQ(r8.dtype(), DType::Float32);
    c.add("Rescaling uint8", {r8}, "out = a.astype(np.float32) * 0.5", {u8});
    c.add("Flatten", {Flatten()(e)}, "out = a.reshape(2, -1)", {e});
    c.add("Reshape", {Reshape({3, -1})(e)}, "out = a.reshape(2, 3, -1)", {e});
  }

  // ---- Normalization.adapt against NumPy's mean and population variance
  {
    Tensor data = randn({6, 3, 4, 4}, gen) * 3.0 + 2.0;
    auto norm = Normalization(1);
    norm->adapt(data);
    Tensor x = randn({2, 3, 4, 4}, gen);
    c.add("Normalization axis 1", {norm->mean(), norm->variance(), norm(x)}, R"(
m = a.astype(np.float64).mean(axis=(0, 2, 3)); v = a.astype(np.float64).var(axis=(0, 2, 3))
out = (m, v, (b - m[None, :, None, None]) / np.sqrt(v)[None, :, None, None]))",
          {data, x}, 1e-5);
    Tensor rows = randn({10, 5}, gen) * 0.5 - 1.0;
    auto last = Normalization();
    last->adapt(rows);
    c.add("Normalization axis -1", {last(rows)},
          "out = (a - a.mean(axis=0)) / np.sqrt(a.var(axis=0))", {rows}, 1e-5);
  }

  c.run();
}

// Every built-in layer, with arguments off their defaults: to_config -> layer_from_config gives
// the same config, and a rebuilt layer loaded with the weights computes the same output.
TEST(KerasLayers, ConfigRoundTrip) {
  std::vector<std::shared_ptr<Layer>> all = {
      Dense(3, "tanh", {.use_bias = false}, "d"),
      Conv2D(2, {3, 1},
             {.strides = {2, 1},
              .padding = "same",
              .activation = "relu",
              .use_bias = false,
              .dilation_rate = {1, 2},
              .groups = 1}),
      MaxPooling2D({2, 3}, {.strides = 1, .padding = "same"}),
      AveragePooling2D(3),
      GlobalAveragePooling2D(true),
      GlobalMaxPooling2D(),
      BatchNormalization({.axis = 2, .momentum = 0.9, .epsilon = 1e-4, .center = false}),
      Dropout(0.3),
      Flatten(),
      Reshape({-1, 2}),
      Activation("gelu"),
      Embedding(7, 3),
      LSTM(3, {.return_sequences = true, .go_backwards = true, .use_bias = false}),
      GRU(2, {.return_sequences = true}),
      Add(),
      Multiply(),
      Average(),
      Concatenate(1),
      Rescaling(0.5, 0.25),
      Normalization(1),
      RandomFlip("vertical", 9),
      RandomCrop(3, 2, 4),
      RandomTranslation(0.2, 0.1, {.fill_mode = "nearest", .fill_value = 1.0}, 5),
      RandomRotation(0.1, {.fill_mode = "constant", .interpolation = "nearest", .fill_value = 0.5},
                     6),
  };
  for (const auto& layer : all) {
    nlohmann::json c = layer->to_config();
    auto again = layer_from_config(c);
    EXPECT_EQ(again->to_config(), c) << c.dump();
    EXPECT_EQ(again->type_name(), layer->type_name());
    EXPECT_EQ(again->name(), layer->name());
  }
  // The weights fit the rebuilt layer: the same output.
  Generator gen(8);
  Tensor x = randn({2, 3, 6, 5}, gen);
  auto conv = std::static_pointer_cast<layers::Conv2D>(all[1]);
  Tensor y = conv->forward(x);
  auto again = layer_from_config(conv->to_config());
  again->forward(x);
  again->load_state_dict(conv->state_dict());
  EXPECT_TRUE(again->forward(x).all_close(y));
}

TEST(KerasLayers, RandomAugmentation) {
  Generator gen(4);
  Tensor x = randn({16, 2, 6, 5}, gen);
  namespace TF = data::transforms::functional;
  // Identity in eval mode (RandomCrop: Keras' centre crop, offsets (H - h) // 2).
  for (std::shared_ptr<Layer> l : std::vector<std::shared_ptr<Layer>>{
           RandomFlip(), RandomTranslation(0.3, 0.3), RandomRotation(0.2)}) {
    l->eval();
    EXPECT_TRUE(l->forward(x).all_close(x)) << l->name();
  }
  auto crop = RandomCrop(3, 2, 1);
  crop->eval();
  EXPECT_TRUE(crop(x).all_close(x.slice(2, 1, 4).slice(3, 1, 3)));
  EXPECT_EQ(crop(Input({2, 6, 5})).shape(), (Shape{2, 3, 2}));

  // Deterministic for a seed; per example: each output is the image or its mirror.
  Tensor f1 = RandomFlip("horizontal", 11)(x), f2 = RandomFlip("horizontal", 11)(x);
  EXPECT_TRUE(f1.all_close(f2));
  EXPECT_FALSE(RandomFlip("horizontal", 12)(x).all_close(f1));
  int flipped = 0;
  for (int64_t i = 0; i < 16; ++i) {
    Tensor xi = x.select(0, i), yi = f1.select(0, i);
    bool same = yi.all_close(xi), mirror = yi.all_close(TF::hflip(xi));
    EXPECT_TRUE(same || mirror) << i;
    flipped += mirror;
  }
  EXPECT_GT(flipped, 0);
  EXPECT_LT(flipped, 16);

  // Each random crop is a window of its image.
  crop->train();
  Tensor c = crop(x);
  EXPECT_EQ(c.shape(), (ravel::Shape{16, 2, 3, 2}));
  for (int64_t i = 0; i < 16; ++i) {
    bool found = false;
    for (int64_t t = 0; t <= 3 && !found; ++t)
      for (int64_t l = 0; l <= 3 && !found; ++l)
        found = c.select(0, i).all_close(x.select(0, i).slice(1, t, t + 3).slice(2, l, l + 2));
    EXPECT_TRUE(found) << i;
  }

  // Each translation is a whole-pixel shift within the factor, filled as asked.
  auto shift = RandomTranslation(0.34, 0.2, {.fill_mode = "constant", .fill_value = -9.0}, 3);
  Tensor s = shift(x);
  EXPECT_EQ(s.shape(), x.shape());
  int moved = 0;
  for (int64_t i = 0; i < 16; ++i) {
    bool found = false;
    for (int64_t dy = -2; dy <= 2 && !found; ++dy)
      for (int64_t dx = -1; dx <= 1 && !found; ++dx) {
        found = s.select(0, i).all_close(
            TF::crop(x.select(0, i), -dy, -dx, 6, 5, data::transforms::PadMode::Constant, -9.0));
        moved += found && (dy || dx);
      }
    EXPECT_TRUE(found) << i;
  }
  EXPECT_GT(moved, 0);

  // Rotations: shapes kept, a zero factor is the identity, and a seed repeats.
  Tensor r1 = RandomRotation(0.25, {.fill_mode = "constant"}, 2)(x);
  EXPECT_EQ(r1.shape(), x.shape());
  EXPECT_TRUE(RandomRotation(0.25, {.fill_mode = "constant"}, 2)(x).all_close(r1));
  EXPECT_FALSE(r1.all_close(x));
  EXPECT_TRUE(RandomRotation(0.0)(x).all_close(x, 1e-5, 1e-6));
}

TEST(KerasLayers, Gradients) {
  // "same" padding with stride 2 (an explicit pad) and pools pass gradients to the input and
  // the weights.
  Generator gen(5);
  Tensor x = randn({2, 3, 7, 6}, gen).requires_grad_();
  auto conv = Conv2D(4, 3, {.strides = 2, .padding = "same", .activation = "relu"});
  auto pool = AveragePooling2D(2, {.padding = "same"});
  Tensor y = pool(conv(x));
  EXPECT_EQ(y.shape(), (ravel::Shape{2, 4, 2, 2}));
  y.sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().shape(), x.shape());
  EXPECT_EQ(conv->conv->weight.grad().shape(), conv->conv->weight.shape());
}

TEST(KerasLayers, Errors) {
  Generator gen(6);
  expect_error([] { Reshape({-1, 2, -1}); }, {"Reshape", "[-1, 2, -1]", "at most one"});
  expect_error(
      [&] {
        Reshape({4})(randn({2, 3}, gen));
      },
      {"(Reshape)", "cannot reshape [2, 3]", "[4]"});
  expect_error([&] { Reshape({4, -1})(randn({2, 6}, gen)); }, {"cannot reshape [2, 6]"});
  expect_error([] { Dense(3, "relu6"); }, {"relu6", "\"relu\"", "\"softmax\"", "\"swish\""});
  expect_error([] { Activation("Relu"); }, {"unknown name \"Relu\""});
  expect_error([] { Dense(0); }, {"Dense", "units 0"});
  expect_error(
      [&] {
        Conv2D(2, 3)(randn({2, 3, 5}, gen));
      },
      {"(Conv2D)", "[2, 3, 5]", "expected 4"});
  auto conv = Conv2D(2, 3);
  conv(randn({1, 3, 5, 5}, gen));
  expect_error([&] { conv(randn({1, 2, 5, 5}, gen)); }, {"(Conv2D)", "channels", "expected 3"});
  expect_error([] { Conv2D(2, 3, {.padding = "full"}); }, {"Conv2D", "\"full\"", "\"same\""});
  expect_error([] { Conv2D(3, 3, {.groups = 2}); }, {"groups 2", "filters (3)"});
  expect_error([] { MaxPooling2D(0); }, {"MaxPooling2D", "pool_size"});
  expect_error(
      [&] {
        Add()->call({randn({2, 3}, gen), randn({2, 4}, gen)});
      },
      {"(Add)", "[2, 4]", "[2, 3]"});
  expect_error([&] { Add()->call({randn({2, 3}, gen)}); }, {"(Add)", "at least 2"});
  expect_error(
      [&] {
        Concatenate(0)->call({randn({2, 3}, gen), randn({2, 3}, gen)});
      },
      {"Concatenate", "axis 0", "batch"});
  expect_error(
      [&] {
        Concatenate()->call({randn({2, 3}, gen), randn({3, 3}, gen)});
      },
      {"Concatenate", "[3, 3]", "except on axis -1"});
  expect_error(
      [&] {
        BatchNormalization({.axis = 3})(randn({2, 3}, gen));
      },
      {"BatchNormalization", "axis 3"});
  expect_error([&] { Embedding(5, 2)(randn({2, 3}, gen)); }, {"(Embedding)", "float32", "Int64"});
  expect_error([&] { LSTM(2)(randn({2, 3}, gen)); }, {"(LSTM)", "[2, 3]", "3 ([batch, time"});
  auto norm = Normalization(-1);
  norm(randn({2, 3}, gen));
  expect_error(
      [&] {
        norm->adapt(randn({5, 4}, gen));
      },
      {"adapt() found 4 features", "built for 3"});
  expect_error([&] { Normalization()->adapt(randn({3}, gen)); }, {"Normalization", "[N, ...]"});
  expect_error([] { RandomRotation(0.1, {.fill_mode = "reflect"}); },
               {"RandomRotation", "\"reflect\"", "\"constant\""});
  expect_error([] { RandomFlip("diagonal"); }, {"RandomFlip", "\"diagonal\""});
  expect_error([] { RandomTranslation(1.5, 0); }, {"height_factor 1.5"});
  expect_error(
      [&] {
        RandomCrop(8, 2)(randn({1, 1, 5, 5}, gen));
      },
      {"(RandomCrop)", "smaller than the crop 8 x 2"});
  expect_error([] { Dropout(1.0); }, {"Dropout", "rate 1"});
}

}  // namespace
}  // namespace ravel::keras
