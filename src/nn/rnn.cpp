// RNN, LSTM, GRU and their cells, built from differentiable ravel ops: one matmul projects the
// whole input sequence, then one small matmul and a few elementwise ops per time step.
#include "ravel/nn/rnn.h"

#include <cmath>
#include <sstream>

#include "ravel/nn/functional/activation.h"
#include "ravel/nn/functional/layers.h"
#include "ravel/ops.h"
#include "ravel/random.h"

namespace ravel::nn {

namespace F = functional;

namespace {

const char* mode_name(RNNMode mode) {
  switch (mode) {
    case RNNMode::LSTM:
      return "LSTM";
    case RNNMode::GRU:
      return "GRU";
    default:
      return "RNN";
  }
}

const char* cell_name(RNNMode mode) {
  switch (mode) {
    case RNNMode::LSTM:
      return "LSTMCell";
    case RNNMode::GRU:
      return "GRUCell";
    default:
      return "RNNCell";
  }
}

int64_t gate_count(RNNMode mode) {
  switch (mode) {
    case RNNMode::LSTM:
      return 4;
    case RNNMode::GRU:
      return 3;
    default:
      return 1;
  }
}

RNNMode mode_of_nonlinearity(const std::string& nonlinearity, const char* op) {
  if (nonlinearity == "tanh") return RNNMode::Tanh;
  if (nonlinearity == "relu") return RNNMode::ReLU;
  detail::throw_error(op, ": unknown nonlinearity '", nonlinearity, "', expected 'tanh' or 'relu'");
}

// n views of t along `axis`: its slices (unbind, the axis dropped) or n equal chunks (the axis
// kept). One autograd node joins the gradients back with stack/concatenate; a view node per part
// would build a zero tensor of t's full size for each part in backward (O(T^2) over a sequence).
std::vector<Tensor> split_parts(const Tensor& t, int64_t n, int64_t axis, bool unbind) {
  axis = normalize_axis(axis, t.ndim(), "split");
  std::vector<Tensor> parts;
  parts.reserve(static_cast<size_t>(n));
  {
    NoGradGuard no_grad;
    const int64_t len = t.size(axis) / n;
    for (int64_t i = 0; i < n; ++i)
      parts.push_back(unbind ? t.select(axis, i) : t.slice(axis, i * len, (i + 1) * len));
  }
  if (autograd::needs_grad(t))
    autograd::record_multi(
        unbind ? "unbind" : "split", {t}, parts, {},
        [axis, unbind](const std::vector<Tensor>& g, const std::vector<Tensor>&) {
          return std::vector<Tensor>{unbind ? stack(g, axis) : concatenate(g, axis)};
        });
  return parts;
}

// One time step given gi = W_ih x + b_ih (projected for the whole sequence by the caller).
std::pair<Tensor, Tensor> step(RNNMode mode, const Tensor& gi, const Tensor& h, const Tensor& c,
                               const Tensor& w_hh, const Tensor& b_hh) {
  Tensor gh = matmul(h, w_hh.transpose());
  if (b_hh.defined()) gh = gh + b_hh;
  switch (mode) {
    case RNNMode::Tanh:
      return {tanh(gi + gh), Tensor()};
    case RNNMode::ReLU:
      return {F::relu(gi + gh), Tensor()};
    case RNNMode::LSTM: {
      std::vector<Tensor> g = split_parts(gi + gh, 4, -1, false);  // i, f, g, o
      Tensor c2 = sigmoid(g[1]) * c + sigmoid(g[0]) * tanh(g[2]);
      return {sigmoid(g[3]) * tanh(c2), c2};
    }
    case RNNMode::GRU: {
      std::vector<Tensor> a = split_parts(gi, 3, -1, false);  // r, z, n
      std::vector<Tensor> b = split_parts(gh, 3, -1, false);
      Tensor r = sigmoid(a[0] + b[0]);
      Tensor z = sigmoid(a[1] + b[1]);
      Tensor n = tanh(a[2] + r * b[2]);
      return {n + z * (h - n), Tensor()};  // (1 - z) * n + z * h
    }
  }
  return {};
}

void check_float(const Tensor& t, DType want, const char* op, const char* what) {
  RAVEL_CHECK(t.dtype() == want, op, ": ", what, " has dtype ", t.dtype(), ", expected ", want,
              " (the parameters' dtype)");
}

void check_shape(const Tensor& t, const Shape& want, const char* op, const char* what) {
  RAVEL_CHECK(t.shape() == want, op, ": ", what, " has shape ", t.shape(), ", expected ", want);
}

}  // namespace

// ---------------------------------------------------------------- functional
std::pair<Tensor, Tensor> rnn_cell_forward(RNNMode mode, const Tensor& x, const Tensor& h,
                                           const Tensor& c, const Tensor& w_ih, const Tensor& w_hh,
                                           const Tensor& b_ih, const Tensor& b_hh) {
  const char* op = cell_name(mode);
  const int64_t hidden = w_hh.ndim() == 2 ? w_hh.size(1) : 0;
  const Shape wshape{gate_count(mode) * hidden, hidden};
  RAVEL_CHECK(w_hh.shape() == wshape && hidden > 0, op, ": weight_hh has shape ", w_hh.shape(),
              ", expected [", gate_count(mode), " * hidden_size, hidden_size]");
  RAVEL_CHECK(w_ih.ndim() == 2 && w_ih.size(0) == wshape[0], op, ": weight_ih has shape ",
              w_ih.shape(), ", expected [", wshape[0], ", input_size]");
  RAVEL_CHECK(x.ndim() == 1 || x.ndim() == 2, op, ": expected input of 1 (unbatched) or 2 ",
              "dimensions [batch, input_size], got ", x.shape());
  RAVEL_CHECK(x.size(-1) == w_ih.size(1), op, ": input ", x.shape(), " has ", x.size(-1),
              " features, expected input_size ", w_ih.size(1));
  check_float(x, w_ih.dtype(), op, "input");
  Shape hshape = x.ndim() == 2 ? Shape{x.size(0), hidden} : Shape{hidden};
  Tensor h0 = h.defined() ? h : zeros(hshape, x.dtype());
  check_shape(h0, hshape, op, "h");
  check_float(h0, x.dtype(), op, "h");
  Tensor c0;
  if (mode == RNNMode::LSTM) {
    c0 = c.defined() ? c : zeros(hshape, x.dtype());
    check_shape(c0, hshape, op, "c");
    check_float(c0, x.dtype(), op, "c");
  }
  Tensor gi = matmul(x, w_ih.transpose());
  if (b_ih.defined()) gi = gi + b_ih;
  return step(mode, gi, h0, c0, w_hh, b_hh);
}

LSTMOutput rnn_forward(const RNNConfig& cfg, const Tensor& x_in, const Tensor& h0_in,
                       const Tensor& c0_in, const std::vector<Tensor>& w) {
  const char* op = mode_name(cfg.mode);
  const bool lstm = cfg.mode == RNNMode::LSTM;
  const int64_t layers = cfg.num_layers, dirs = cfg.bidirectional ? 2 : 1;
  const int64_t per = cfg.has_bias ? 4 : 2, gates = gate_count(cfg.mode);
  RAVEL_CHECK(layers >= 1, op, ": num_layers must be at least 1, got ", layers);
  RAVEL_CHECK(static_cast<int64_t>(w.size()) == layers * dirs * per, op, ": got ", w.size(),
              " weights, expected ", layers * dirs * per, " (", layers, " layers x ", dirs,
              " directions x ", per, ")");
  RAVEL_CHECK(w[1].ndim() == 2 && w[1].size(1) > 0 && w[1].size(0) == gates * w[1].size(1), op,
              ": weight_hh_l0 has shape ", w[1].shape(), ", expected [", gates,
              " * hidden_size, hidden_size]");
  const int64_t hidden = w[1].size(1);
  RAVEL_CHECK(x_in.ndim() == 2 || x_in.ndim() == 3, op,
              ": expected input of 3 dimensions (or 2, unbatched), got ", x_in.shape());
  const bool batched = x_in.ndim() == 3;
  const int64_t t_axis = cfg.batch_first ? 1 : 0;
  Tensor x = batched ? x_in : x_in.unsqueeze(1 - t_axis);
  const int64_t steps = x.size(t_axis), batch = x.size(1 - t_axis);
  RAVEL_CHECK(steps > 0, op, ": input ", x_in.shape(), " has no time steps");
  RAVEL_CHECK(w[0].ndim() == 2 && x.size(2) == w[0].size(1), op, ": input ", x_in.shape(), " has ",
              x.size(2), " features, expected input_size ", w[0].ndim() == 2 ? w[0].size(1) : 0);
  check_float(x, w[0].dtype(), op, "input");

  // Initial states: [layers * dirs, batch, hidden] (unbatched: no batch axis).
  const Shape sshape = batched ? Shape{layers * dirs, batch, hidden} : Shape{layers * dirs, hidden};
  auto states = [&](const Tensor& s, const char* what) {
    if (!s.defined()) return std::vector<Tensor>{};
    check_shape(s, sshape, op, what);
    check_float(s, x.dtype(), op, what);
    return split_parts(batched ? s : s.unsqueeze(1), layers * dirs, 0, true);
  };
  if (lstm)
    RAVEL_CHECK(h0_in.defined() == c0_in.defined(), op,
                ": give both h0 and c0, or neither (zeros)");
  std::vector<Tensor> h0 = states(h0_in, "h0"),
                      c0 = lstm ? states(c0_in, "c0") : std::vector<Tensor>{};

  Tensor layer_in = x;
  std::vector<Tensor> h_n, c_n;
  for (int64_t l = 0; l < layers; ++l) {
    std::vector<Tensor> dir_out;
    for (int64_t d = 0; d < dirs; ++d) {
      const int64_t idx = l * dirs + d;
      const Tensor& w_ih = w[idx * per];
      const Tensor& w_hh = w[idx * per + 1];
      Tensor b_ih = cfg.has_bias ? w[idx * per + 2] : Tensor();
      Tensor b_hh = cfg.has_bias ? w[idx * per + 3] : Tensor();
      const int64_t in = layer_in.size(2);
      RAVEL_CHECK(w_ih.shape() == (Shape{gates * hidden, in}) &&
                      w_hh.shape() == (Shape{gates * hidden, hidden}),
                  op, ": layer ", l, " direction ", d, ": weights ", w_ih.shape(), " and ",
                  w_hh.shape(), ", expected [", gates * hidden, ", ", in, "] and [", gates * hidden,
                  ", ", hidden, "]");
      RAVEL_CHECK(!cfg.has_bias || (b_ih.shape() == Shape{gates * hidden} &&
                                    b_hh.shape() == Shape{gates * hidden}),
                  op, ": layer ", l, " direction ", d, ": biases ", b_ih.shape(), " and ",
                  b_hh.shape(), ", expected [", gates * hidden, "]");
      // The input projection for every time step at once.
      Tensor gi = matmul(layer_in, w_ih.transpose());
      if (b_ih.defined()) gi = gi + b_ih;
      std::vector<Tensor> gi_t = split_parts(gi, steps, t_axis, true);
      Tensor h = h0.empty() ? zeros({batch, hidden}, x.dtype()) : h0[idx];
      Tensor c = !lstm ? Tensor() : c0.empty() ? zeros({batch, hidden}, x.dtype()) : c0[idx];
      std::vector<Tensor> out(static_cast<size_t>(steps));
      for (int64_t s = 0; s < steps; ++s) {
        const int64_t t = d == 0 ? s : steps - 1 - s;
        std::tie(h, c) = step(cfg.mode, gi_t[t], h, c, w_hh, b_hh);
        out[t] = h;
      }
      dir_out.push_back(stack(out, t_axis));
      h_n.push_back(h);
      if (lstm) c_n.push_back(c);
    }
    layer_in = dirs == 1 ? dir_out[0] : concatenate(dir_out, 2);
    if (cfg.training && cfg.dropout > 0 && l + 1 < layers)
      layer_in = F::dropout(layer_in, cfg.dropout, true);
  }
  LSTMOutput r{layer_in, stack(h_n, 0), lstm ? stack(c_n, 0) : Tensor()};
  if (!batched) {
    r.output = r.output.squeeze(1 - t_axis);
    r.h_n = r.h_n.squeeze(1);
    if (lstm) r.c_n = r.c_n.squeeze(1);
  }
  return r;
}

// ---------------------------------------------------------------- layers
RNNBase::RNNBase(RNNMode mode, int64_t input_size, int64_t hidden_size, const RNNOptions& options)
    : mode_(mode), input_size_(input_size), hidden_size_(hidden_size), options_(options) {
  const char* op = mode_name(mode);
  RAVEL_CHECK(input_size > 0 && hidden_size > 0, op, ": input_size (", input_size,
              ") and hidden_size (", hidden_size, ") must be positive");
  RAVEL_CHECK(options.num_layers >= 1, op, ": num_layers must be at least 1, got ",
              options.num_layers);
  RAVEL_CHECK(options.dropout >= 0 && options.dropout <= 1, op, ": dropout must be in [0, 1], got ",
              options.dropout);
  if (mode == RNNMode::LSTM || mode == RNNMode::GRU)
    RAVEL_CHECK(options.nonlinearity == "tanh", op, ": nonlinearity '", options.nonlinearity,
                "' applies to RNN only");
  const int64_t dirs = options.bidirectional ? 2 : 1, gates = gate_count(mode) * hidden_size;
  for (int64_t l = 0; l < options.num_layers; ++l) {
    for (int64_t d = 0; d < dirs; ++d) {
      const std::string sfx = std::to_string(l) + (d == 1 ? "_reverse" : "");
      const int64_t in = l == 0 ? input_size : dirs * hidden_size;
      flat_weights_.push_back(register_parameter("weight_ih_l" + sfx, empty({gates, in})));
      flat_weights_.push_back(register_parameter("weight_hh_l" + sfx, empty({gates, hidden_size})));
      if (options.bias) {
        flat_weights_.push_back(register_parameter("bias_ih_l" + sfx, empty({gates})));
        flat_weights_.push_back(register_parameter("bias_hh_l" + sfx, empty({gates})));
      }
    }
  }
  reset_parameters();
}

namespace {
void reset_uniform(const std::vector<Tensor>& params, int64_t hidden_size) {
  const double k = 1.0 / std::sqrt(static_cast<double>(hidden_size));
  for (const Tensor& p : params)
    p.set_data(uniform(-k, k, p.shape(), default_generator(), p.dtype()));
}
}  // namespace

void RNNBase::reset_parameters() { reset_uniform(flat_weights_, hidden_size_); }

// As PyTorch prints it (which leaves out RNN's nonlinearity).
std::string RNNBase::extra_repr() const {
  std::ostringstream os;
  os << input_size_ << ", " << hidden_size_;
  if (options_.num_layers != 1) os << ", num_layers=" << options_.num_layers;
  if (!options_.bias) os << ", bias=False";
  if (options_.batch_first) os << ", batch_first=True";
  if (options_.dropout != 0) os << ", dropout=" << options_.dropout;
  if (options_.bidirectional) os << ", bidirectional=True";
  return os.str();
}

LSTMOutput RNNBase::run(const Tensor& x, const Tensor& h0, const Tensor& c0) const {
  RNNConfig cfg{
      mode_,     options_.num_layers,   options_.bias, options_.batch_first, options_.dropout,
      training_, options_.bidirectional};
  return rnn_forward(cfg, x, h0, c0, flat_weights_);
}

RNN::RNN(int64_t input_size, int64_t hidden_size, const RNNOptions& options)
    : RNNBase(mode_of_nonlinearity(options.nonlinearity, "RNN"), input_size, hidden_size, options) {
}
Tensor RNN::forward(const Tensor& x) { return run(x, {}, {}).output; }
RNNOutput RNN::forward(const Tensor& x, const Tensor& h0) {
  LSTMOutput r = run(x, h0, {});
  return {r.output, r.h_n};
}

LSTM::LSTM(int64_t input_size, int64_t hidden_size, const RNNOptions& options)
    : RNNBase(RNNMode::LSTM, input_size, hidden_size, options) {}
Tensor LSTM::forward(const Tensor& x) { return run(x, {}, {}).output; }
LSTMOutput LSTM::forward(const Tensor& x, const Tensor& h0, const Tensor& c0) {
  return run(x, h0, c0);
}

GRU::GRU(int64_t input_size, int64_t hidden_size, const RNNOptions& options)
    : RNNBase(RNNMode::GRU, input_size, hidden_size, options) {}
Tensor GRU::forward(const Tensor& x) { return run(x, {}, {}).output; }
RNNOutput GRU::forward(const Tensor& x, const Tensor& h0) {
  LSTMOutput r = run(x, h0, {});
  return {r.output, r.h_n};
}

// ---------------------------------------------------------------- cells
RNNCellBase::RNNCellBase(RNNMode mode, int64_t input_size, int64_t hidden_size,
                         const RNNCellOptions& options)
    : mode_(mode), input_size_(input_size), hidden_size_(hidden_size), options_(options) {
  const char* op = cell_name(mode);
  RAVEL_CHECK(input_size > 0 && hidden_size > 0, op, ": input_size (", input_size,
              ") and hidden_size (", hidden_size, ") must be positive");
  if (mode == RNNMode::LSTM || mode == RNNMode::GRU)
    RAVEL_CHECK(options.nonlinearity == "tanh", op, ": nonlinearity '", options.nonlinearity,
                "' applies to RNNCell only");
  const int64_t gates = gate_count(mode) * hidden_size;
  weight_ih = register_parameter("weight_ih", empty({gates, input_size}));
  weight_hh = register_parameter("weight_hh", empty({gates, hidden_size}));
  if (options.bias) {
    bias_ih = register_parameter("bias_ih", empty({gates}));
    bias_hh = register_parameter("bias_hh", empty({gates}));
  }
  reset_parameters();
}

void RNNCellBase::reset_parameters() {
  std::vector<Tensor> ps{weight_ih, weight_hh};
  if (bias_ih.defined()) ps.insert(ps.end(), {bias_ih, bias_hh});
  reset_uniform(ps, hidden_size_);
}

std::string RNNCellBase::extra_repr() const {
  std::string s = std::to_string(input_size_) + ", " + std::to_string(hidden_size_);
  if (!options_.bias) s += ", bias=False";
  if (mode_ == RNNMode::ReLU) s += ", nonlinearity=relu";
  return s;
}

std::pair<Tensor, Tensor> RNNCellBase::step(const Tensor& x, const Tensor& h,
                                            const Tensor& c) const {
  return rnn_cell_forward(mode_, x, h, c, weight_ih, weight_hh, bias_ih, bias_hh);
}

RNNCell::RNNCell(int64_t input_size, int64_t hidden_size, const RNNCellOptions& options)
    : RNNCellBase(mode_of_nonlinearity(options.nonlinearity, "RNNCell"), input_size, hidden_size,
                  options) {}
Tensor RNNCell::forward(const Tensor& x) { return step(x, {}, {}).first; }
Tensor RNNCell::forward(const Tensor& x, const Tensor& h) { return step(x, h, {}).first; }

LSTMCell::LSTMCell(int64_t input_size, int64_t hidden_size, const RNNCellOptions& options)
    : RNNCellBase(RNNMode::LSTM, input_size, hidden_size, options) {}
Tensor LSTMCell::forward(const Tensor& x) { return step(x, {}, {}).first; }
LSTMCellOutput LSTMCell::forward(const Tensor& x, const Tensor& h, const Tensor& c) {
  RAVEL_CHECK(h.defined() == c.defined(), "LSTMCell: give both h and c, or neither (zeros)");
  auto [h2, c2] = step(x, h, c);
  return {h2, c2};
}

GRUCell::GRUCell(int64_t input_size, int64_t hidden_size, const RNNCellOptions& options)
    : RNNCellBase(RNNMode::GRU, input_size, hidden_size, options) {}
Tensor GRUCell::forward(const Tensor& x) { return step(x, {}, {}).first; }
Tensor GRUCell::forward(const Tensor& x, const Tensor& h) { return step(x, h, {}).first; }

}  // namespace ravel::nn
