// Sequence layers: Embedding, LSTM and GRU.
#include <nlohmann/json.hpp>
#include <utility>

#include "layers_internal.h"
#include "ravel/autograd.h"
#include "ravel/keras/layers.h"
#include "ravel/nn/embedding.h"
#include "ravel/nn/init.h"
#include "ravel/nn/rnn.h"
#include "ravel/ops.h"

namespace ravel::keras {

using layer_detail::check_dim;
using layer_detail::check_rank;

namespace layers {

// ---------------------------------------------------------------- Embedding

Embedding::Embedding(int64_t input_dim, int64_t output_dim, std::string name)
    : Layer("Embedding", std::move(name)), input_dim_(input_dim), output_dim_(output_dim) {
  RAVEL_CHECK(input_dim > 0 && output_dim > 0, "Embedding: input_dim ", input_dim,
              " and output_dim ", output_dim, " expected positive sizes");
}

void Embedding::build(const std::vector<Shape>& shapes) {
  check_rank(*this, shapes[0], 1, 64, "a batch dimension");
  embedding =
      register_module("embedding", std::make_shared<nn::Embedding>(input_dim_, output_dim_));
  nn::init::uniform_(embedding->weight, -0.05, 0.05);  // Keras' default initialiser
}

Tensor Embedding::compute(const std::vector<Tensor>& in) {
  DType t = in[0].dtype();
  RAVEL_CHECK(is_integral(t), "Embedding: ids of dtype ", dtype_name(t),
              " expected integers (Input(shape, DType::Int64))");
  return (*embedding)(t == DType::Int64 ? in[0] : in[0].to(DType::Int64));
}

nlohmann::json Embedding::config() const {
  nlohmann::json j = Layer::config();
  j["input_dim"] = input_dim_;
  j["output_dim"] = output_dim_;
  return j;
}

// ---------------------------------------------------------------- LSTM / GRU

Recurrent::Recurrent(std::string type, int64_t units, RecurrentOptions options, std::string name)
    : Layer(std::move(type), std::move(name)), units_(units), options_(options) {
  RAVEL_CHECK(units > 0, type_name(), ": units ", units, " expected a positive count");
}

void Recurrent::build(const std::vector<Shape>& shapes) {
  check_rank(*this, shapes[0], 3, 3, "3 ([batch, time, features])");
  int64_t features = shapes[0][2];
  nn::RNNOptions o{.bias = options_.use_bias, .batch_first = true};
  bool lstm = type_name() == "LSTM";
  if (lstm)
    rnn = register_module("rnn", std::make_shared<nn::LSTM>(features, units_, o));
  else
    rnn = register_module("rnn", std::make_shared<nn::GRU>(features, units_, o));
  // Keras' initialisers: glorot_uniform kernel, orthogonal recurrent kernel, zero biases, and
  // (LSTM, unit_forget_bias) 1 for the forget gate, PyTorch's second block (i, f, g, o).
  const auto& w = rnn->flat_weights();
  nn::init::xavier_uniform_(w[0]);
  nn::init::orthogonal_(w[1]);
  if (options_.use_bias) {
    nn::init::zeros_(w[2]);
    nn::init::zeros_(w[3]);
    if (lstm) {
      NoGradGuard no_grad;
      w[2].slice(0, units_, 2 * units_).fill_(1.0);
    }
  }
}

Tensor Recurrent::compute(const std::vector<Tensor>& in) {
  const Tensor& x = in[0];
  RAVEL_CHECK(x.ndim() == 3, type_name(), ": input shape ", x.shape(),
              " expected 3 dimensions [batch, time, features]");
  check_dim(*this, x, 2, rnn->input_size(), "features");
  Tensor out = (*rnn)(options_.go_backwards ? flip(x, {1}) : x);  // [N, T, units]
  return options_.return_sequences ? out : out.select(1, out.size(1) - 1);
}

nlohmann::json Recurrent::config() const {
  nlohmann::json j = Layer::config();
  j["units"] = units_;
  j["return_sequences"] = options_.return_sequences;
  j["go_backwards"] = options_.go_backwards;
  j["use_bias"] = options_.use_bias;
  return j;
}

}  // namespace layers

// ---------------------------------------------------------------- factories

LayerPtr<layers::Embedding> Embedding(int64_t input_dim, int64_t output_dim,
                                      const std::string& name) {
  return std::make_shared<layers::Embedding>(input_dim, output_dim, name);
}
LayerPtr<layers::LSTM> LSTM(int64_t units, const RecurrentOptions& options,
                            const std::string& name) {
  return std::make_shared<layers::LSTM>(units, options, name);
}
LayerPtr<layers::GRU> GRU(int64_t units, const RecurrentOptions& options, const std::string& name) {
  return std::make_shared<layers::GRU>(units, options, name);
}

}  // namespace ravel::keras
