// CompiledModule: traces the module once, compiles a training program per input shape (and
// thread count) and ties each compiled forward into autograd as one node whose backward runs the
// program's backward. Anything the compiled path does not cover runs the module eagerly.
#include <algorithm>
#include <cstdio>
#include <list>
#include <map>
#include <mutex>

#include "compile/program.h"
#include "ravel/autograd.h"
#include "ravel/compile.h"
#include "ravel/error.h"
#include "ravel/graph.h"
#include "ravel/nn/dropout.h"
#include "ravel/nn/norm.h"
#include "ravel/parallel.h"

namespace ravel {
namespace compiled {

class Trainer {
 public:
  Trainer(nn::Module& module, const Tensor& example, const CompileOptions& o) : options_(o) {
    RAVEL_CHECK(o.dtype == DType::Float32 || o.dtype == DType::BFloat16, "compile: dtype ",
                dtype_name(o.dtype), " is not supported, expected float32 or bfloat16");
    RAVEL_CHECK(example.defined() && example.ndim() >= 2,
                "compile: the example input must be a "
                "batch (at least 2 dimensions), got ",
                example.defined() ? example.shape() : Shape{});
#ifndef RAVEL_HAVE_ONEDNN
    reason_ = "this build has no oneDNN (RAVEL_ONEDNN=OFF)";
#else
    const bool was_training = module.is_training();
    try {
      // The compiled batch norm keeps running statistics with a momentum, as torch's default.
      // The step is traced from the eval forward, where dropout does nothing: a model with
      // dropout would silently train without it.
      for (auto& [name, m] : module.named_modules()) {
        if (auto* bn = dynamic_cast<nn::BatchNormNd*>(m.get()))
          RAVEL_CHECK(bn->track_running_stats && bn->momentum && bn->affine, "compile: '", name,
                      "' (", bn->type_name(),
                      ") needs affine, track_running_stats and a momentum to be compiled");
        auto* d = dynamic_cast<nn::Dropout*>(m.get());
        auto* d2 = dynamic_cast<nn::Dropout2d*>(m.get());
        RAVEL_CHECK(!(d && d->p > 0) && !(d2 && d2->p > 0), "compile: '", name, "' (",
                    m->type_name(), ") acts in training only; dropout has no compiled form");
      }
      graph_ = graph::trace(module, {example.detach().to(DType::Float32)});
      for (auto& [name, t] : module.named_parameters()) tensors_[name] = t;
      for (auto& [name, t] : module.named_buffers()) tensors_[name] = t;
      // Compile the example's shape now, so an unsupported model is known at once.
      program(example.shape());
    } catch (const Error& e) {
      reason_ = e.what();
    }
    module.train(was_training);
#endif
    if (!reason_.empty())
      std::fprintf(stderr, "ravel: %s; the model runs eagerly\n", reason_.c_str());
  }

  bool ok() const { return reason_.empty(); }

  Tensor forward(const Tensor& x) {
    Tensor xc = x.detach().contiguous();
    Compiled c;  // shared with the autograd node, which may outlive the cache entry
    {
      std::lock_guard<std::mutex> lock(mu_);
      c = program(x.shape());
    }
    std::shared_ptr<TrainProgram::Saved> saved;
    Tensor y = c.program->forward(xc, saved);
    autograd::record_multi(
        "CompiledBackward", c.program->parameters(), {y}, {},
        [c, saved](const std::vector<Tensor>& grads, const std::vector<Tensor>&) {
          return c.program->backward(grads.at(0), *saved);
        });
    return y;
  }

  std::string describe() const {
    std::lock_guard<std::mutex> lock(mu_);
    if (!reason_.empty()) return "eager: " + reason_ + "\n";
    return cache_.empty() ? "" : cache_.front().program->describe();
  }

 private:
  CompileOptions options_;
  std::string reason_;
  graph::Graph graph_;
  std::map<std::string, Tensor> tensors_;
  mutable std::mutex mu_;
  using Key = std::pair<std::vector<int64_t>, int>;  // input shape, threads
  struct Compiled {
    Key key;
    std::shared_ptr<infer::Plan> plan;  // the program refers to it
    std::shared_ptr<TrainProgram> program;
  };
  static constexpr size_t kMaxCompiled = 8;
  std::list<Compiled> cache_;  // most recently used first

  const Compiled& program(const Shape& shape) {
    Key key{std::vector<int64_t>(shape.begin(), shape.end()), get_num_threads()};
    auto it =
        std::find_if(cache_.begin(), cache_.end(), [&](const Compiled& c) { return c.key == key; });
    if (it != cache_.end()) {
      cache_.splice(cache_.begin(), cache_, it);
    } else {
#ifdef RAVEL_HAVE_ONEDNN
      Compiled c{key, std::make_shared<infer::Plan>(infer::make_plan(graph_, {key.first}, true)),
                 nullptr};
      c.program = make_onednn_train_program(*c.plan, graph_, tensors_, options_.dtype);
      cache_.push_front(std::move(c));
      // A program dropped from the cache lives on in the autograd nodes that hold it.
      if (cache_.size() > kMaxCompiled) cache_.pop_back();
#endif
    }
    return cache_.front();
  }
};

}  // namespace compiled

CompiledModule::CompiledModule(std::shared_ptr<nn::Module> module, const Tensor& example_input,
                               const CompileOptions& options)
    : module_(std::move(module)) {
  RAVEL_CHECK(module_ != nullptr, "compile: the module is null");
  register_module("module", module_);
  training_ = module_->is_training();
  trainer_ = std::make_shared<compiled::Trainer>(*module_, example_input, options);
}

CompiledModule::~CompiledModule() = default;

bool CompiledModule::is_compiled() const { return trainer_->ok(); }

std::string CompiledModule::describe() const { return trainer_->describe(); }

Tensor CompiledModule::forward(const Tensor& x) {
  // The compiled step is the training step; everything else is the module's own forward.
  if (!trainer_->ok() || !is_training() || !module_->is_training() || !is_grad_enabled() ||
      x.requires_grad() || x.dtype() != DType::Float32 || x.ndim() < 2 || x.numel() == 0)
    return (*module_)(x);
  return trainer_->forward(x);
}

std::shared_ptr<CompiledModule> compile(std::shared_ptr<nn::Module> module,
                                        const Tensor& example_input,
                                        const CompileOptions& options) {
  return std::make_shared<CompiledModule>(std::move(module), example_input, options);
}

}  // namespace ravel
