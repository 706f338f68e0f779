// Loss functions (torch.nn.functional), with PyTorch's semantics: reductions, class weights,
// ignore_index, label smoothing, and the same gradients.
//
//   namespace F = ravel::nn::functional;
//   Tensor loss = F::cross_entropy(logits, labels);              // logits [N, C], labels int64 [N]
//   loss = F::cross_entropy(logits, labels, {.label_smoothing = 0.1, .reduction = "sum"});
//   loss = F::mse_loss(pred, target);                             // mean of squared errors
//   loss = F::binary_cross_entropy_with_logits(z, y, {.pos_weight = pw});
//   loss.backward();
//
// reduction: "mean" (the default), "sum", or "none" (one loss per element or sample). kl_div
// also takes "batchmean" (sum / batch size, the mathematically correct KL divergence).
// Integer class targets may have any integer dtype (PyTorch requires int64).
#pragma once
#include <cstdint>
#include <string>

#include "ravel/tensor.h"

namespace ravel::nn::functional {

struct CrossEntropyOptions {
  Tensor weight{};               // [C] per-class weight; undefined = all ones
  int64_t ignore_index = -100;   // class-index targets equal to it add nothing (nor to the mean)
  double label_smoothing = 0.0;  // in [0, 1]: target = (1 - s) * target + s / C
  std::string reduction = "mean";
};
// input: logits [N, C], [N, C, d1, ...] or unbatched [C]. target: class indices (integer,
// [N], [N, d1, ...] or []) or class probabilities (float, input's shape). With class indices,
// "mean" divides by the summed weight of the non-ignored targets; with probabilities, by the
// number of samples (N * d1 * ...). log_softmax and the loss run as one fused op.
Tensor cross_entropy(const Tensor& input, const Tensor& target,
                     const CrossEntropyOptions& options = {});

struct NLLLossOptions {
  Tensor weight{};
  int64_t ignore_index = -100;
  std::string reduction = "mean";
};
// input: log-probabilities with the layouts of cross_entropy; target: class indices.
Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossOptions& options = {});

// Elementwise losses; input and target broadcast together (PyTorch warns, ravel allows it).
Tensor mse_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean");
Tensor l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean");
// 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (beta = 0: l1_loss).
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target,
                      const std::string& reduction = "mean", double beta = 1.0);
// 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta).
Tensor huber_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean",
                  double delta = 1.0);

// input: probabilities in [0, 1]; target of the same shape; weight broadcasts to it. Logs are
// clamped to >= -100, as PyTorch.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                            const std::string& reduction = "mean");
struct BCEWithLogitsOptions {
  Tensor weight{};      // broadcasts to input
  Tensor pos_weight{};  // weight of the positive term, broadcasts along the last dim (per class)
  std::string reduction = "mean";
};
// sigmoid + binary_cross_entropy in the stable log-sum-exp form.
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BCEWithLogitsOptions& options = {});

// input: log-probabilities; target: probabilities (or log-probabilities when log_target).
Tensor kl_div(const Tensor& input, const Tensor& target, const std::string& reduction = "mean",
              bool log_target = false);
// max(0, -target * (input1 - input2) + margin); target holds 1 or -1.
Tensor margin_ranking_loss(const Tensor& input1, const Tensor& input2, const Tensor& target,
                           double margin = 0.0, const std::string& reduction = "mean");
// input1, input2: [N, D] with target [N], or [D] with a 0-d target; target holds 1 or -1.
Tensor cosine_embedding_loss(const Tensor& input1, const Tensor& input2, const Tensor& target,
                             double margin = 0.0, const std::string& reduction = "mean");

}  // namespace ravel::nn::functional
