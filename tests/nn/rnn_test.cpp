// RNN, LSTM, GRU and the cells against PyTorch: ravel's initialised parameters are loaded into
// the torch module by name (strict, so the names and their order must be PyTorch's), both run
// the same input, and outputs, final states, input gradients and every parameter's gradient are
// compared. Gradients come from a loss with random weights on every output, so a misplaced
// element shows. Plus gradcheck in float64 and the errors.
#include "ravel/nn/rnn.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
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
using testing::gradgradcheck;
using testing::kTorchModuleHelpers;
using testing::matches;
using testing::py_bool;
using testing::py_names;
using testing::TorchOracle;

constexpr double kRtol = 1e-4, kAtol = 1e-5;

struct RnnCase {
  std::string mode;  // "tanh", "relu", "lstm", "gru"
  int64_t layers;
  bool bidirectional, batch_first, with_state;
  bool batched = true;
  double dropout = 0.0;  // > 0: run in eval mode, where dropout is off (torch agrees)
};

std::string case_name(const RnnCase& c) {
  return c.mode + " layers=" + std::to_string(c.layers) + " bidir=" + py_bool(c.bidirectional) +
         " batch_first=" + py_bool(c.batch_first) + " state=" + py_bool(c.with_state) +
         " batched=" + py_bool(c.batched);
}

// Runs one case in ravel (forward + backward) and queues the same in torch.
struct RnnRun {
  RnnCase c;
  int handle = -1;
  Tensor out, h_n, c_n, gx, gh, gc, gparams;
};

RnnRun run_case(const RnnCase& c, TorchOracle& torch, Generator& gen) {
  const int64_t T = 3, B = 2, I = 3, H = 4, D = c.bidirectional ? 2 : 1;
  nn::RNNOptions o{.num_layers = c.layers,
                   .nonlinearity = c.mode == "relu" ? "relu" : "tanh",
                   .batch_first = c.batch_first,
                   .dropout = c.dropout,
                   .bidirectional = c.bidirectional};
  std::shared_ptr<nn::RNNBase> m;
  if (c.mode == "lstm")
    m = std::make_shared<nn::LSTM>(I, H, o);
  else if (c.mode == "gru")
    m = std::make_shared<nn::GRU>(I, H, o);
  else
    m = std::make_shared<nn::RNN>(I, H, o);
  if (c.dropout > 0) m->eval();

  Shape xs = !c.batched ? Shape{T, I} : c.batch_first ? Shape{B, T, I} : Shape{T, B, I};
  Shape ss = c.batched ? Shape{c.layers * D, B, H} : Shape{c.layers * D, H};
  Tensor x = randn(xs, gen).requires_grad_();
  Tensor h0 = randn(ss, gen).requires_grad_();
  Tensor c0 = randn(ss, gen).requires_grad_();
  Tensor hs = c.with_state ? h0 : Tensor(), cs = c.with_state ? c0 : Tensor();

  RnnRun r;
  r.c = c;
  nn::LSTMOutput y;
  if (c.mode == "lstm") {
    y = std::static_pointer_cast<nn::LSTM>(m)->forward(x, hs, cs);
  } else if (c.mode == "gru") {
    nn::RNNOutput z = std::static_pointer_cast<nn::GRU>(m)->forward(x, hs);
    y = {z.output, z.h_n, Tensor()};
  } else {
    nn::RNNOutput z = std::static_pointer_cast<nn::RNN>(m)->forward(x, hs);
    y = {z.output, z.h_n, Tensor()};
  }
  const bool lstm = c.mode == "lstm";
  Tensor wo = randn(y.output.shape(), gen), wh = randn(ss, gen), wc = randn(ss, gen);
  Tensor loss = (y.output * wo).sum() + (y.h_n * wh).sum();
  if (lstm) loss = loss + (y.c_n * wc).sum();
  loss.backward();
  r.out = y.output.detach();
  r.h_n = y.h_n.detach();
  r.c_n = lstm ? y.c_n.detach() : Tensor();
  r.gx = x.grad();
  r.gh = h0.grad();
  r.gc = c0.grad();
  r.gparams = flat_grads(*m);

  std::string ctor = c.mode == "lstm" ? "nn.LSTM" : c.mode == "gru" ? "nn.GRU" : "nn.RNN";
  std::string extra = c.mode == "relu" ? ", nonlinearity='relu'" : "";
  std::string state = !c.with_state ? "" : lstm ? ", (h0, c0)" : ", h0";
  std::string script =
      std::string(kTorchModuleHelpers) + "names = " + py_names(*m) + "\n" + "m = " + ctor +
      "(3, 4, num_layers=" + std::to_string(c.layers) + extra +
      ", batch_first=" + py_bool(c.batch_first) + ", bidirectional=" + py_bool(c.bidirectional) +
      ", dropout=" + std::to_string(c.dropout) + ")\n" + (c.dropout > 0 ? "m.eval()\n" : "") +
      "load(m, d, names)\n"
      "x, h0, c0 = leaf(a), leaf(b), leaf(c)\n"
      "y, s = m(x" +
      state + ")\n" + (lstm ? "hn, cn = s\n" : "hn, cn = s, s\n") +
      "loss = (y * torch.tensor(e)).sum() + (hn * torch.tensor(f)).sum()\n" +
      (lstm ? "loss = loss + (cn * torch.tensor(g)).sum()\n" : "") +
      "loss.backward()\n"
      "z = torch.zeros(1)\n"
      "out = (y, hn, cn, x.grad, h0.grad if h0.grad is not None else z,\n"
      "       c0.grad if c0.grad is not None else z, flat_grad(m, names))";
  r.handle =
      torch.add_script(script, {x.detach(), h0.detach(), c0.detach(), flat_params(*m), wo, wh, wc});
  return r;
}

void check_case(const RnnRun& r, const TorchOracle& torch) {
  SCOPED_TRACE(case_name(r.c));
  ASSERT_EQ(torch.error(r.handle), "");
  const std::vector<Tensor>& ref = torch.results(r.handle);
  EXPECT_TRUE(matches(r.out, ref[0], kRtol, kAtol));
  EXPECT_TRUE(matches(r.h_n, ref[1], kRtol, kAtol));
  if (r.c_n.defined()) {
    EXPECT_TRUE(matches(r.c_n, ref[2], kRtol, kAtol));
  }
  EXPECT_TRUE(matches(r.gx, ref[3], kRtol, kAtol));
  if (r.c.with_state) {
    EXPECT_TRUE(matches(r.gh, ref[4], kRtol, kAtol));
    if (r.c.mode == "lstm") {
      EXPECT_TRUE(matches(r.gc, ref[5], kRtol, kAtol));
    }
  } else {
    EXPECT_FALSE(r.gh.defined());
  }
  EXPECT_TRUE(matches(r.gparams, ref[6], kRtol, kAtol));
}

// Cells: one step, batched or unbatched, with or without states.
struct CellRun {
  std::string mode;
  bool batched = true, state = true;
  int handle = -1;
  Tensor h2, c2, gx, gh, gc, gp;
};

CellRun run_cell_case(const std::string& mode, bool batched, bool state, TorchOracle& torch,
                      Generator& gen) {
  const int64_t B = 3, I = 4, H = 5;
  CellRun r;
  r.mode = mode;
  r.batched = batched;
  r.state = state;
  Shape xs = batched ? Shape{B, I} : Shape{I}, hs = batched ? Shape{B, H} : Shape{H};
  Tensor x = randn(xs, gen).requires_grad_();
  Tensor h = randn(hs, gen).requires_grad_(), c = randn(hs, gen).requires_grad_();
  Tensor wh = randn(hs, gen), wc = randn(hs, gen);
  std::shared_ptr<nn::RNNCellBase> m;
  Tensor loss;
  if (mode == "lstm") {
    auto cell = std::make_shared<nn::LSTMCell>(I, H);
    nn::LSTMCellOutput y = state ? cell->forward(x, h, c) : cell->forward(x, {}, {});
    r.h2 = y.h;
    r.c2 = y.c;
    loss = (y.h * wh).sum() + (y.c * wc).sum();
    m = cell;
  } else if (mode == "gru") {
    auto cell = std::make_shared<nn::GRUCell>(I, H);
    r.h2 = state ? cell->forward(x, h) : cell->forward(x);
    m = cell;
  } else {
    auto cell = std::make_shared<nn::RNNCell>(I, H, nn::RNNCellOptions{.nonlinearity = mode});
    r.h2 = state ? cell->forward(x, h) : (*cell)(x);
    m = cell;
  }
  if (!loss.defined()) loss = (r.h2 * wh).sum();
  loss.backward();
  r.gx = x.grad();
  r.gh = h.grad();
  r.gc = c.grad();
  r.gp = flat_grads(*m);
  r.h2 = r.h2.detach();
  if (r.c2.defined()) r.c2 = r.c2.detach();
  const bool lstm = mode == "lstm";
  std::string ctor = lstm            ? "nn.LSTMCell(4, 5)"
                     : mode == "gru" ? "nn.GRUCell(4, 5)"
                                     : "nn.RNNCell(4, 5, nonlinearity='" + mode + "')";
  std::string args = !state ? "x" : lstm ? "x, (h, c)" : "x, h";
  std::string script =
      std::string(kTorchModuleHelpers) + "names = " + py_names(*m) + "\nm = " + ctor +
      "\nload(m, d, names)\nx, h, c = leaf(a), leaf(b), leaf(c)\ny = m(" + args + ")\n" +
      (lstm ? "loss = (y[0] * torch.tensor(e)).sum() + (y[1] * torch.tensor(f)).sum()\n"
              "y, yc = y\n"
            : "loss = (y * torch.tensor(e)).sum()\nyc = y\n") +
      "loss.backward()\nz = torch.zeros(1)\n"
      "out = (y, yc, x.grad, h.grad if h.grad is not None else z,\n"
      "       c.grad if c.grad is not None else z, flat_grad(m, names))";
  r.handle =
      torch.add_script(script, {x.detach(), h.detach(), c.detach(), flat_params(*m), wh, wc});
  return r;
}

void check_cell_case(const CellRun& r, const TorchOracle& torch) {
  SCOPED_TRACE(r.mode + " cell batched=" + py_bool(r.batched) + " state=" + py_bool(r.state));
  ASSERT_EQ(torch.error(r.handle), "");
  const std::vector<Tensor>& ref = torch.results(r.handle);
  EXPECT_TRUE(matches(r.h2, ref[0], kRtol, kAtol));
  if (r.c2.defined()) {
    EXPECT_TRUE(matches(r.c2, ref[1], kRtol, kAtol));
  }
  EXPECT_TRUE(matches(r.gx, ref[2], kRtol, kAtol));
  if (r.state) {
    EXPECT_TRUE(matches(r.gh, ref[3], kRtol, kAtol));
  }
  if (r.state && r.mode == "lstm") {
    EXPECT_TRUE(matches(r.gc, ref[4], kRtol, kAtol));
  }
  EXPECT_TRUE(matches(r.gp, ref[5], kRtol, kAtol));
}

// Every layer configuration and every cell, in one python run.
TEST(RnnTest, MatchesTorch) {
  Generator gen(11);
  TorchOracle torch;
  std::vector<RnnRun> runs;
  for (const char* mode : {"tanh", "relu", "lstm", "gru"})
    for (int64_t layers : {1, 2})
      for (bool bidir : {false, true})
        for (bool bf : {false, true})
          for (bool state : {false, true})
            runs.push_back(run_case({mode, layers, bidir, bf, state}, torch, gen));
  // unbatched input [T, I] with states [L * D, H]
  for (const char* mode : {"tanh", "lstm", "gru"})
    for (bool bf : {false, true})
      runs.push_back(run_case({mode, 2, true, bf, true, false}, torch, gen));
  // dropout between layers is off in eval mode
  runs.push_back(run_case({"lstm", 3, true, false, true, true, 0.5}, torch, gen));
  std::vector<CellRun> cells;
  for (const char* mode : {"tanh", "relu", "lstm", "gru"})
    for (bool batched : {true, false})
      for (bool state : {true, false})
        cells.push_back(run_cell_case(mode, batched, state, torch, gen));
  torch.run();
  for (const RnnRun& r : runs) check_case(r, torch);
  for (const CellRun& r : cells) check_cell_case(r, torch);
}

TEST(RnnTest, ParametersFollowPyTorch) {
  manual_seed(3);
  nn::LSTM lstm(5, 8, {.num_layers = 2, .bidirectional = true});
  std::vector<std::string> names;
  for (const auto& [name, p] : lstm.named_parameters()) names.push_back(name);
  ASSERT_EQ(names.size(), 16u);
  EXPECT_EQ(names[0], "weight_ih_l0");
  EXPECT_EQ(names[4], "weight_ih_l0_reverse");
  EXPECT_EQ(names[15], "bias_hh_l1_reverse");
  EXPECT_EQ(lstm.parameter("weight_ih_l1").shape(), (Shape{32, 16}));
  EXPECT_EQ(lstm.parameter("weight_hh_l0").shape(), (Shape{32, 8}));
  // uniform(-1/sqrt(H), 1/sqrt(H)), spread over the whole range
  const double k = 1 / std::sqrt(8.0);
  for (const Tensor& p : lstm.parameters()) {
    EXPECT_LE(amax(abs(p)).item<double>(), k);
    EXPECT_GT(amax(abs(p)).item<double>(), 0.5 * k);
  }
  nn::GRU gru(5, 8, {.bias = false});
  EXPECT_EQ(gru.parameters().size(), 2u);
  EXPECT_EQ(gru.parameter("weight_ih_l0").shape(), (Shape{24, 5}));
  gru.to(DType::Float64);  // flat_weights() share the registered handles, so they follow
  EXPECT_EQ(gru.flat_weights()[0].dtype(), DType::Float64);
  EXPECT_EQ(gru(randn({2, 1, 5}, default_generator(), DType::Float64)).dtype(), DType::Float64);
  EXPECT_EQ(lstm.repr().find("LSTM(5, 8, num_layers=2, bidirectional=True)"), 0u) << lstm.repr();
  nn::RNNCell cell(3, 4, {.bias = false, .nonlinearity = "relu"});
  EXPECT_EQ(cell.parameters().size(), 2u);
  EXPECT_EQ(cell.repr(), "RNNCell(3, 4, bias=False, nonlinearity=relu)");
}

// Dropout between layers in training (eval mode is checked against torch above).
TEST(RnnTest, DropoutBetweenLayers) {
  Generator gen(2);
  nn::GRU gru(3, 4, {.num_layers = 3, .dropout = 0.5});
  Tensor x = randn({5, 2, 3}, gen);
  gru.eval();
  Tensor y_eval = gru(x);
  gru.train();
  Tensor y1 = gru(x), y2 = gru(x);
  EXPECT_FALSE(allclose(y1, y_eval));
  EXPECT_FALSE(allclose(y1, y2));
  Tensor xg = x.detach().requires_grad_();
  gru(xg).sum().backward();
  EXPECT_TRUE(xg.grad().defined());
  // no dropout after the last layer: a 1-layer GRU is deterministic in training
  nn::GRU one(3, 4, {.dropout = 0.5});
  EXPECT_TRUE(matches(one(x), one(x), 0, 0));
}

// float64 finite differences, through the parameters too (rnn_forward takes them as inputs).
TEST(RnnTest, GradcheckLstmGru) {
  Generator gen(9);
  const DType f64 = DType::Float64;
  for (nn::RNNMode mode : {nn::RNNMode::LSTM, nn::RNNMode::GRU}) {
    SCOPED_TRACE(mode == nn::RNNMode::LSTM ? "LSTM" : "GRU");
    const int64_t G = mode == nn::RNNMode::LSTM ? 4 : 3, H = 2, I = 2;
    nn::RNNConfig cfg{.mode = mode, .num_layers = 2, .batch_first = true, .bidirectional = true};
    std::vector<Tensor> in{randn({2, 3, I}, gen, f64), randn({4, 2, H}, gen, f64),
                           randn({4, 2, H}, gen, f64)};
    for (int64_t l = 0; l < 2; ++l)
      for (int d = 0; d < 2; ++d) {
        in.push_back(randn({G * H, l == 0 ? I : 2 * H}, gen, f64) * 0.5);
        in.push_back(randn({G * H, H}, gen, f64) * 0.5);
        in.push_back(randn({G * H}, gen, f64) * 0.5);
        in.push_back(randn({G * H}, gen, f64) * 0.5);
      }
    const bool lstm = mode == nn::RNNMode::LSTM;
    if (!lstm) in.erase(in.begin() + 2);  // a GRU has no c0
    auto f = [cfg, lstm](const std::vector<Tensor>& v) {
      const size_t n = lstm ? 3 : 2;
      std::vector<Tensor> w(v.begin() + n, v.end());
      nn::LSTMOutput r = nn::rnn_forward(cfg, v[0], v[1], lstm ? v[2] : Tensor(), w);
      Tensor s = r.output.sum() * 0.5 + (r.h_n * r.h_n).sum();
      return lstm ? s + r.c_n.sum() : s;
    };
    EXPECT_TRUE(gradcheck(f, in));
  }
}

// Second derivatives through one LSTM and GRU cell step (create_graph through sigmoid/tanh and
// the gate split).
TEST(RnnTest, GradgradcheckCells) {
  Generator gen(4);
  const DType f64 = DType::Float64;
  for (nn::RNNMode mode : {nn::RNNMode::LSTM, nn::RNNMode::GRU}) {
    const int64_t G = mode == nn::RNNMode::LSTM ? 4 : 3;
    const bool lstm = mode == nn::RNNMode::LSTM;
    // x, h, w_ih, w_hh, b_hh[, c]
    std::vector<Tensor> in{randn({2, 3}, gen, f64), randn({2, 2}, gen, f64),
                           randn({G * 2, 3}, gen, f64), randn({G * 2, 2}, gen, f64),
                           randn({G * 2}, gen, f64)};
    if (lstm) in.push_back(randn({2, 2}, gen, f64));
    auto f = [mode, lstm](const std::vector<Tensor>& v) {
      auto [h, c] = nn::rnn_cell_forward(mode, v[0], v[1], lstm ? v[5] : Tensor(), v[2], v[3],
                                         Tensor(), v[4]);
      return lstm ? h + c : h;
    };
    EXPECT_TRUE(gradgradcheck(f, in));
  }
}

TEST(RnnTest, Errors) {
  using testing::expect_error;
  nn::LSTM lstm(3, 4, {.num_layers = 2});
  expect_error([&] { lstm(randn({5, 2, 4})); }, {"LSTM", "[5, 2, 4]", "input_size 3"});
  expect_error([&] { lstm(randn({5})); }, {"LSTM", "3 dimensions", "[5]"});
  expect_error(
      [&] {
        lstm.forward(randn({5, 2, 3}), zeros({1, 2, 4}), zeros({1, 2, 4}));
      },
      {"LSTM", "h0", "[1, 2, 4]", "[2, 2, 4]"});
  expect_error(
      [&] {
        lstm.forward(randn({5, 2, 3}), zeros({2, 2, 4}), Tensor());
      },
      {"LSTM", "h0 and c0"});
  expect_error(
      [&] {
        lstm(randn({5, 2, 3}, default_generator(), DType::Float64));
      },
      {"LSTM", "float64", "float32"});
  expect_error([] { nn::RNN(3, 4, {.nonlinearity = "sigmoid"}); }, {"RNN", "sigmoid", "relu"});
  expect_error([] { nn::GRU(3, 0); }, {"GRU", "hidden_size"});
  expect_error([] { nn::GRU(3, 4, {.dropout = 1.5}); }, {"GRU", "dropout", "1.5"});
  nn::GRUCell cell(3, 4);
  expect_error(
      [&] {
        cell.forward(randn({2, 3}), zeros({3, 4}));
      },
      {"GRUCell", "h", "[3, 4]", "[2, 4]"});
  expect_error([&] { cell(randn({2, 2, 3})); }, {"GRUCell", "[2, 2, 3]"});
}

}  // namespace
}  // namespace ravel
