// Loss modules: forward calls the functional loss with the stored options.
#include "ravel/nn/loss.h"

#include "ravel/error.h"

namespace ravel::nn {

namespace F = functional;

Tensor MSELoss::forward(const Tensor& input, const Tensor& target) {
  return F::mse_loss(input, target, reduction_);
}

Tensor L1Loss::forward(const Tensor& input, const Tensor& target) {
  return F::l1_loss(input, target, reduction_);
}

// Class weights are buffers (state_dict, to(dtype)); the options keep the same handle.
CrossEntropyLoss::CrossEntropyLoss(F::CrossEntropyOptions options)
    : Loss(options.reduction), options_(std::move(options)) {
  if (options_.weight.defined()) register_buffer("weight", options_.weight);
}
Tensor CrossEntropyLoss::forward(const Tensor& input, const Tensor& target) {
  return F::cross_entropy(input, target, options_);
}

NLLLoss::NLLLoss(F::NLLLossOptions options)
    : Loss(options.reduction), options_(std::move(options)) {
  if (options_.weight.defined()) register_buffer("weight", options_.weight);
}
Tensor NLLLoss::forward(const Tensor& input, const Tensor& target) {
  return F::nll_loss(input, target, options_);
}

Tensor SmoothL1Loss::forward(const Tensor& input, const Tensor& target) {
  return F::smooth_l1_loss(input, target, reduction_, beta_);
}

Tensor HuberLoss::forward(const Tensor& input, const Tensor& target) {
  return F::huber_loss(input, target, reduction_, delta_);
}

BCELoss::BCELoss(Tensor weight, std::string reduction)
    : Loss(std::move(reduction)), weight_(std::move(weight)) {
  if (weight_.defined()) register_buffer("weight", weight_);
}
Tensor BCELoss::forward(const Tensor& input, const Tensor& target) {
  return F::binary_cross_entropy(input, target, weight_, reduction_);
}

BCEWithLogitsLoss::BCEWithLogitsLoss(F::BCEWithLogitsOptions options)
    : Loss(options.reduction), options_(std::move(options)) {
  if (options_.weight.defined()) register_buffer("weight", options_.weight);
  if (options_.pos_weight.defined()) register_buffer("pos_weight", options_.pos_weight);
}
Tensor BCEWithLogitsLoss::forward(const Tensor& input, const Tensor& target) {
  return F::binary_cross_entropy_with_logits(input, target, options_);
}

Tensor KLDivLoss::forward(const Tensor& input, const Tensor& target) {
  return F::kl_div(input, target, reduction_, log_target_);
}

Tensor MarginRankingLoss::forward(const Tensor&, const Tensor&) {
  detail::throw_error("MarginRankingLoss: forward takes (input1, input2, target)");
}
Tensor MarginRankingLoss::forward(const Tensor& input1, const Tensor& input2,
                                  const Tensor& target) {
  return F::margin_ranking_loss(input1, input2, target, margin_, reduction_);
}

Tensor CosineEmbeddingLoss::forward(const Tensor&, const Tensor&) {
  detail::throw_error("CosineEmbeddingLoss: forward takes (input1, input2, target)");
}
Tensor CosineEmbeddingLoss::forward(const Tensor& input1, const Tensor& input2,
                                    const Tensor& target) {
  return F::cosine_embedding_loss(input1, input2, target, margin_, reduction_);
}

}  // namespace ravel::nn
