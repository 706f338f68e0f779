// A lookup table of vectors (torch.nn.Embedding).
//
//   nn::Embedding emb(10000, 128);                         // weight [10000, 128] ~ N(0, 1)
//   Tensor v = emb(ids);                                    // int ids [B, T] -> [B, T, 128]
//   nn::Embedding padded(100, 16, {.padding_idx = 0});      // row 0 zero, gets no gradient
//   auto frozen = nn::Embedding::from_pretrained(table);    // weight = table, not trained
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "ravel/nn/module.h"

namespace ravel::nn {

struct EmbeddingOptions {
  std::optional<int64_t> padding_idx = std::nullopt;  // negative counts from the end
};

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, const EmbeddingOptions& o = {});
  // A table initialised with (a copy of) `weight` [num, dim]; freeze: it does not require grad.
  static std::shared_ptr<Embedding> from_pretrained(const Tensor& weight, bool freeze = true,
                                                    const EmbeddingOptions& o = {});
  Tensor forward(const Tensor& indices) override;
  void reset_parameters();
  std::string type_name() const override { return "Embedding"; }
  std::string extra_repr() const override;

  int64_t num_embeddings, embedding_dim;
  std::optional<int64_t> padding_idx;  // normalised to [0, num_embeddings)
  Tensor weight;                       // [num_embeddings, embedding_dim]
};

}  // namespace ravel::nn
