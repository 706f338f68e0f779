// nn::Embedding over F::embedding.
#include "ravel/nn/embedding.h"

#include "ravel/autograd.h"
#include "ravel/nn/functional/layers.h"
#include "ravel/nn/init.h"

namespace ravel::nn {

Embedding::Embedding(int64_t num_embeddings, int64_t embedding_dim, const EmbeddingOptions& o)
    : num_embeddings(num_embeddings), embedding_dim(embedding_dim), padding_idx(o.padding_idx) {
  RAVEL_CHECK(num_embeddings >= 0 && embedding_dim >= 0, "Embedding: expected non-negative sizes, ",
              "got num_embeddings=", num_embeddings, ", embedding_dim=", embedding_dim);
  if (padding_idx) {
    RAVEL_CHECK(*padding_idx >= -num_embeddings && *padding_idx < num_embeddings,
                "Embedding: padding_idx ", *padding_idx, " must be within num_embeddings (",
                num_embeddings, ")");
    if (*padding_idx < 0) padding_idx = *padding_idx + num_embeddings;
  }
  weight = register_parameter("weight", empty({num_embeddings, embedding_dim}));
  reset_parameters();
}

std::shared_ptr<Embedding> Embedding::from_pretrained(const Tensor& weight, bool freeze,
                                                      const EmbeddingOptions& o) {
  RAVEL_CHECK(weight.defined() && weight.ndim() == 2,
              "Embedding.from_pretrained: expected a 2-D weight [num, dim], got shape ",
              weight.defined() ? weight.shape() : Shape{});
  auto e = std::make_shared<Embedding>(weight.size(0), weight.size(1), o);
  e->weight.set_data(weight.detach().clone());
  e->weight.requires_grad_(!freeze);
  return e;
}

void Embedding::reset_parameters() {
  init::normal_(weight);
  if (padding_idx) {
    NoGradGuard ng;
    weight.select(0, *padding_idx).fill_(0);
  }
}

Tensor Embedding::forward(const Tensor& indices) {
  return functional::embedding(indices, weight, padding_idx);
}

std::string Embedding::extra_repr() const {
  std::string s = std::to_string(num_embeddings) + ", " + std::to_string(embedding_dim);
  if (padding_idx) s += ", padding_idx=" + std::to_string(*padding_idx);
  return s;
}

}  // namespace ravel::nn
