// Multi-head attention (torch.nn.MultiheadAttention): PyTorch's parameter names, shapes,
// initialisation and mask conventions, so state_dicts map one to one.
//
//   nn::MultiheadAttention mha(64, 8, {.batch_first = true});
//   Tensor x = randn({2, 10, 64});                          // [batch, seq, embed]
//   Tensor y = mha(x);                                      // self-attention, [2, 10, 64]
//   Tensor pad = zeros({2, 10}, DType::Bool);               // true = ignore that key
//   auto [out, w] = mha.forward(x, x, x, pad);              // w: [2, 10, 10], head-averaged
//   Tensor causal = triu(ones({10, 10}), 1) > 0;           // true = not allowed
//   auto r = mha.forward(x, x, x, {}, /*need_weights=*/false, causal);
//
// Shapes: query [L, N, E], key [S, N, kdim], value [S, N, vdim] ([N, L, E] ... with batch_first;
// unbatched [L, E], [S, kdim], [S, vdim]). attn_output has the query's shape; attn_weights are
// [N, L, S] averaged over heads, or [N, num_heads, L, S] (unbatched: without N).
// Masks: key_padding_mask [N, S] (unbatched [S]); attn_mask [L, S] or [N * num_heads, L, S].
// A bool mask marks positions that may NOT be attended (true = masked, -inf); a float mask is
// added to the scores. A query whose every key is masked gets NaN (as PyTorch).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "ravel/nn/linear.h"
#include "ravel/nn/module.h"

namespace ravel::nn {

struct AttentionOutput {
  Tensor attn_output, attn_weights;  // weights undefined unless need_weights
};

// The computation behind MultiheadAttention as a function of its weights
// (F.multi_head_attention_forward). Give in_proj_weight [3E, E], or q/k/v_proj_weight [E, E],
// [E, kdim], [E, vdim]; in_proj_bias [3E], bias_k/bias_v [1, 1, E] and out_proj_bias [E] may be
// undefined.
struct MultiheadAttentionWeights {
  int64_t num_heads = 1;
  // (default member initialisers let designated initialisers leave tensors out)
  Tensor in_proj_weight{}, q_proj_weight{}, k_proj_weight{}, v_proj_weight{}, in_proj_bias{};
  Tensor bias_k{}, bias_v{};
  bool add_zero_attn = false;
  Tensor out_proj_weight{}, out_proj_bias{};
  double dropout = 0.0;  // on the attention weights, when training
  bool training = false;
  bool batch_first = false;
};
AttentionOutput multi_head_attention_forward(const Tensor& query, const Tensor& key,
                                             const Tensor& value,
                                             const MultiheadAttentionWeights& w,
                                             const Tensor& key_padding_mask = {},
                                             bool need_weights = true, const Tensor& attn_mask = {},
                                             bool average_attn_weights = true);

struct MultiheadAttentionOptions {
  double dropout = 0.0;  // on the attention weights, training only
  bool bias = true;
  bool add_bias_kv = false;    // learned bias_k, bias_v appended to the keys and values
  bool add_zero_attn = false;  // a zero key and value appended
  int64_t kdim = 0;            // 0: embed_dim
  int64_t vdim = 0;            // 0: embed_dim
  bool batch_first = false;
};

class MultiheadAttention : public Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads,
                     const MultiheadAttentionOptions& options = {});
  // in_proj (or q/k/v_proj) xavier_uniform_, biases zero, bias_k/bias_v xavier_normal_ (as
  // PyTorch; out_proj.weight keeps Linear's initialisation).
  void reset_parameters();

  // Self-attention: forward(x, x, x, {}, false).attn_output.
  Tensor forward(const Tensor& x) override;
  AttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value,
                          const Tensor& key_padding_mask = {}, bool need_weights = true,
                          const Tensor& attn_mask = {}, bool average_attn_weights = true);
  std::string type_name() const override { return "MultiheadAttention"; }

  int64_t embed_dim, num_heads, head_dim, kdim, vdim;
  MultiheadAttentionOptions options;
  // in_proj_weight [3E, E] when kdim == vdim == E; else q_proj_weight [E, E], k_proj_weight
  // [E, kdim], v_proj_weight [E, vdim]. Undefined where absent, as PyTorch's None.
  Tensor in_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight;
  Tensor in_proj_bias;    // [3E]
  Tensor bias_k, bias_v;  // [1, 1, E] with add_bias_kv
  std::shared_ptr<Linear> out_proj;
};

}  // namespace ravel::nn
