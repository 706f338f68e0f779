// Loss modules (torch.nn.CrossEntropyLoss, ...): Module wrappers around
// ravel/nn/functional/loss.h that keep the options; class weights are registered as the buffer
// "weight" (and "pos_weight"), as PyTorch does, so they follow to(dtype) and state_dict.
//
//   nn::CrossEntropyLoss criterion({.label_smoothing = 0.1});
//   Tensor loss = criterion(model->forward(x), labels);   // labels: int64 [N]
//   loss.backward();
//   nn::MSELoss mse("sum");
//   nn::MarginRankingLoss rank(0.5);
//   Tensor l = rank(x1, x2, y);
#pragma once
#include <string>

#include "ravel/nn/functional/loss.h"
#include "ravel/nn/module.h"

namespace ravel::nn {

// A loss of (input, target). forward(x) alone is not defined for losses.
class Loss : public Module {
 public:
  explicit Loss(std::string reduction = "mean") : reduction_(std::move(reduction)) {}
  using Module::forward;
  virtual Tensor forward(const Tensor& input, const Tensor& target) = 0;
  Tensor operator()(const Tensor& input, const Tensor& target) { return forward(input, target); }
  const std::string& reduction() const { return reduction_; }

 protected:
  std::string reduction_;
};

// Losses whose only setting is the reduction.
#define RAVEL_REDUCTION_LOSS(Name)                                                \
  class Name : public Loss {                                                      \
   public:                                                                        \
    explicit Name(std::string reduction = "mean") : Loss(std::move(reduction)) {} \
    using Loss::forward;                                                          \
    Tensor forward(const Tensor& input, const Tensor& target) override;           \
    std::string type_name() const override { return #Name; }                      \
  };
RAVEL_REDUCTION_LOSS(MSELoss)
RAVEL_REDUCTION_LOSS(L1Loss)
#undef RAVEL_REDUCTION_LOSS

class CrossEntropyLoss : public Loss {
 public:
  explicit CrossEntropyLoss(functional::CrossEntropyOptions options = {});
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "CrossEntropyLoss"; }

 private:
  functional::CrossEntropyOptions options_;
};

class NLLLoss : public Loss {
 public:
  explicit NLLLoss(functional::NLLLossOptions options = {});
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "NLLLoss"; }

 private:
  functional::NLLLossOptions options_;
};

class SmoothL1Loss : public Loss {
 public:
  explicit SmoothL1Loss(std::string reduction = "mean", double beta = 1.0)
      : Loss(std::move(reduction)), beta_(beta) {}
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "SmoothL1Loss"; }

 private:
  double beta_;
};

class HuberLoss : public Loss {
 public:
  explicit HuberLoss(std::string reduction = "mean", double delta = 1.0)
      : Loss(std::move(reduction)), delta_(delta) {}
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "HuberLoss"; }

 private:
  double delta_;
};

class BCELoss : public Loss {
 public:
  explicit BCELoss(Tensor weight = {}, std::string reduction = "mean");
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "BCELoss"; }

 private:
  Tensor weight_;
};

class BCEWithLogitsLoss : public Loss {
 public:
  explicit BCEWithLogitsLoss(functional::BCEWithLogitsOptions options = {});
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "BCEWithLogitsLoss"; }

 private:
  functional::BCEWithLogitsOptions options_;
};

class KLDivLoss : public Loss {
 public:
  explicit KLDivLoss(std::string reduction = "mean", bool log_target = false)
      : Loss(std::move(reduction)), log_target_(log_target) {}
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "KLDivLoss"; }

 private:
  bool log_target_;
};

// Losses of (input1, input2, target).
class MarginRankingLoss : public Loss {
 public:
  explicit MarginRankingLoss(double margin = 0.0, std::string reduction = "mean")
      : Loss(std::move(reduction)), margin_(margin) {}
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;  // throws: needs three
  Tensor forward(const Tensor& input1, const Tensor& input2, const Tensor& target);
  using Loss::operator();
  Tensor operator()(const Tensor& input1, const Tensor& input2, const Tensor& target) {
    return forward(input1, input2, target);
  }
  std::string type_name() const override { return "MarginRankingLoss"; }

 private:
  double margin_;
};

class CosineEmbeddingLoss : public Loss {
 public:
  explicit CosineEmbeddingLoss(double margin = 0.0, std::string reduction = "mean")
      : Loss(std::move(reduction)), margin_(margin) {}
  using Loss::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;  // throws: needs three
  Tensor forward(const Tensor& input1, const Tensor& input2, const Tensor& target);
  using Loss::operator();
  Tensor operator()(const Tensor& input1, const Tensor& input2, const Tensor& target) {
    return forward(input1, input2, target);
  }
  std::string type_name() const override { return "CosineEmbeddingLoss"; }

 private:
  double margin_;
};

}  // namespace ravel::nn
