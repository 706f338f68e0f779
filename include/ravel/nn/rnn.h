// Recurrent layers: RNN (tanh or relu), LSTM, GRU and their single-step cells, with PyTorch's
// parameter names, gate order, shapes and initialisation, so state_dicts map one to one.
//
//   nn::LSTM lstm(10, 20, {.num_layers = 2, .batch_first = true, .bidirectional = true});
//   Tensor x = randn({4, 7, 10});                 // [batch, time, features] (batch_first)
//   Tensor y = lstm(x);                           // [4, 7, 40]: output only
//   auto [out, h_n, c_n] = lstm.forward(x, {}, {});   // with final states [4, 4, 20] (zero h0/c0)
//   auto r = lstm.forward(x, h_n, c_n);           // continue from given states
//   nn::GRUCell cell(10, 20);
//   Tensor h = cell.forward(x.select(1, 0), zeros({4, 20}));   // one time step
//
// Shapes (PyTorch's): x is [T, B, input_size] ([B, T, input_size] with batch_first) or
// unbatched [T, input_size]; h0/c0 and h_n/c_n are [num_layers * D, B, hidden_size] (always
// layer-major, batch_first does not apply; unbatched [num_layers * D, hidden_size]); output is
// [T, B, D * hidden_size] with the forward and reverse directions concatenated (D = 2 when
// bidirectional). Undefined h0/c0 mean zeros.
//
// Gates (PyTorch's order and equations): LSTM i, f, g, o; GRU r, z, n with
// n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h.
// Everything is built from differentiable ravel ops, so autograd gives the backward (and
// higher-order gradients).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ravel/nn/module.h"

namespace ravel::nn {

enum class RNNMode { Tanh, ReLU, LSTM, GRU };

struct RNNOutput {
  Tensor output, h_n;
};
struct LSTMOutput {
  Tensor output, h_n, c_n;
};

// The multi-layer recurrence behind RNN, LSTM and GRU, as a function of its weights (PyTorch's
// _VF.lstm & co). `weights` are PyTorch's flat weights: per layer, per direction (forward then
// reverse) w_ih [G*H, in], w_hh [G*H, H] and, when has_bias, b_ih [G*H], b_hh [G*H]
// (G = 1, 4, 3 gates for RNN, LSTM, GRU). c0 and c_n are for LSTM only. Dropout (probability
// `dropout`) applies to each layer's output except the last, when `training`.
struct RNNConfig {
  RNNMode mode = RNNMode::Tanh;
  int64_t num_layers = 1;
  bool has_bias = true;
  bool batch_first = false;
  double dropout = 0.0;
  bool training = false;
  bool bidirectional = false;
};
LSTMOutput rnn_forward(const RNNConfig& config, const Tensor& x, const Tensor& h0, const Tensor& c0,
                       const std::vector<Tensor>& weights);

// One step of a cell: x [B, in] or [in], h and c [B, H] or [H]; weights as above for one layer
// and direction. Returns (h', c'); c' is undefined except for LSTM.
std::pair<Tensor, Tensor> rnn_cell_forward(RNNMode mode, const Tensor& x, const Tensor& h,
                                           const Tensor& c, const Tensor& w_ih, const Tensor& w_hh,
                                           const Tensor& b_ih, const Tensor& b_hh);

// ---------------------------------------------------------------- layers
struct RNNOptions {
  int64_t num_layers = 1;
  std::string nonlinearity = "tanh";  // RNN only: "tanh" or "relu"
  bool bias = true;
  bool batch_first = false;
  double dropout = 0.0;  // between layers, training only
  bool bidirectional = false;
};

// What RNN, LSTM and GRU share: the parameters and their registration, the settings, printing.
class RNNBase : public Module {
 public:
  RNNBase(RNNMode mode, int64_t input_size, int64_t hidden_size, const RNNOptions& options);
  // Redraws every parameter from uniform(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).
  void reset_parameters();
  std::string extra_repr() const override;

  int64_t input_size() const { return input_size_; }
  int64_t hidden_size() const { return hidden_size_; }
  const RNNOptions& options() const { return options_; }
  RNNMode mode() const { return mode_; }
  // PyTorch's _flat_weights: the parameters in registration order.
  const std::vector<Tensor>& flat_weights() const { return flat_weights_; }

 protected:
  LSTMOutput run(const Tensor& x, const Tensor& h0, const Tensor& c0) const;

  RNNMode mode_;
  int64_t input_size_, hidden_size_;
  RNNOptions options_;
  std::vector<Tensor> flat_weights_;
};

// Elman RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu).
class RNN : public RNNBase {
 public:
  RNN(int64_t input_size, int64_t hidden_size, const RNNOptions& options = {});
  Tensor forward(const Tensor& x) override;              // output only, zero h0
  RNNOutput forward(const Tensor& x, const Tensor& h0);  // h0 may be undefined (zeros)
  std::string type_name() const override { return "RNN"; }
};

class LSTM : public RNNBase {
 public:
  LSTM(int64_t input_size, int64_t hidden_size, const RNNOptions& options = {});
  Tensor forward(const Tensor& x) override;
  // h0 and c0 both given or both undefined (zeros).
  LSTMOutput forward(const Tensor& x, const Tensor& h0, const Tensor& c0);
  std::string type_name() const override { return "LSTM"; }
};

class GRU : public RNNBase {
 public:
  GRU(int64_t input_size, int64_t hidden_size, const RNNOptions& options = {});
  Tensor forward(const Tensor& x) override;
  RNNOutput forward(const Tensor& x, const Tensor& h0);
  std::string type_name() const override { return "GRU"; }
};

// ---------------------------------------------------------------- cells
struct RNNCellOptions {
  bool bias = true;
  std::string nonlinearity = "tanh";  // RNNCell only
};

class RNNCellBase : public Module {
 public:
  RNNCellBase(RNNMode mode, int64_t input_size, int64_t hidden_size, const RNNCellOptions& options);
  void reset_parameters();
  std::string extra_repr() const override;
  int64_t input_size() const { return input_size_; }
  int64_t hidden_size() const { return hidden_size_; }

  Tensor weight_ih, weight_hh, bias_ih, bias_hh;  // biases undefined without bias

 protected:
  // h (and c) undefined: zeros.
  std::pair<Tensor, Tensor> step(const Tensor& x, const Tensor& h, const Tensor& c) const;

  RNNMode mode_;
  int64_t input_size_, hidden_size_;
  RNNCellOptions options_;
};

class RNNCell : public RNNCellBase {
 public:
  RNNCell(int64_t input_size, int64_t hidden_size, const RNNCellOptions& options = {});
  Tensor forward(const Tensor& x) override;  // zero h
  Tensor forward(const Tensor& x, const Tensor& h);
  std::string type_name() const override { return "RNNCell"; }
};

struct LSTMCellOutput {
  Tensor h, c;
};

class LSTMCell : public RNNCellBase {
 public:
  LSTMCell(int64_t input_size, int64_t hidden_size, const RNNCellOptions& options = {});
  Tensor forward(const Tensor& x) override;  // h' from zero h and c
  LSTMCellOutput forward(const Tensor& x, const Tensor& h, const Tensor& c);
  std::string type_name() const override { return "LSTMCell"; }
};

class GRUCell : public RNNCellBase {
 public:
  GRUCell(int64_t input_size, int64_t hidden_size, const RNNCellOptions& options = {});
  Tensor forward(const Tensor& x) override;
  Tensor forward(const Tensor& x, const Tensor& h);
  std::string type_name() const override { return "GRUCell"; }
};

}  // namespace ravel::nn
