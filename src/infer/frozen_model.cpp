// FrozenModel: checks the inputs, compiles the Graph once per set of input shapes (and thread
// count: oneDNN sizes its kernels' work split and scratchpad for it) and runs the compiled
// program. Without oneDNN (or for an empty batch) the whole Graph runs on a GraphModule.
#include <algorithm>
#include <list>
#include <mutex>
#include <sstream>

#include "infer/program.h"
#include "ravel/autograd.h"
#include "ravel/error.h"
#include "ravel/infer.h"
#include "ravel/parallel.h"
#ifdef RAVEL_HAVE_ONEDNN
#include "backend/cpu/onednn/inference.h"
#endif

namespace ravel::infer {
namespace {

// The whole graph on ravel's eager ops.
class EagerProgram : public Program {
 public:
  explicit EagerProgram(const graph::Graph& g) : module_(std::make_shared<graph::GraphModule>(g)) {
    module_->eval();
  }
  std::vector<Tensor> run(const std::vector<Tensor>& inputs) override {
    NoGradGuard no_grad;
    std::vector<Tensor> outs = module_->run(inputs);
    for (auto& o : outs) o = o.to(DType::Float32).contiguous();
    return outs;
  }
  std::string describe() const override { return "graph (eager ops): not compiled\n"; }

 private:
  std::shared_ptr<graph::GraphModule> module_;
};

class Frozen : public FrozenModel {
 public:
  Frozen(const graph::Graph& g, const FreezeOptions& o) : graph_(g), options_(o) {
    RAVEL_CHECK(o.dtype == DType::Float32 || o.dtype == DType::BFloat16, "infer: dtype ",
                dtype_name(o.dtype),
                " is not supported, expected float32 or "
                "bfloat16");
#ifndef RAVEL_HAVE_ONEDNN
    RAVEL_CHECK(o.dtype == DType::Float32,
                "infer: bfloat16 inference needs oneDNN (this build has RAVEL_ONEDNN=OFF)");
#endif
    // Compiling waits for the first run (its batch size); check() reports an unsupported graph
    // now.
    graph_.check();
    // A snapshot: shapes compiled later must not see the caller's later changes to the weights.
    for (auto& init : graph_.initializers) init.value = init.value.detach().clone();
  }

  std::vector<Tensor> run(const std::vector<Tensor>& inputs) override {
    RAVEL_CHECK(inputs.size() == graph_.inputs.size(), "infer: run got ", inputs.size(),
                " inputs, expected ", graph_.inputs.size());
    std::vector<Tensor> xs;
    std::vector<std::vector<int64_t>> shapes;
    bool empty_batch = false;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const graph::ValueInfo& vi = graph_.inputs[i];
      RAVEL_CHECK(inputs[i].defined(), "infer: input ", i, " ('", vi.name, "') is undefined");
      const Shape& s = inputs[i].shape();
      RAVEL_CHECK(s.size() == vi.shape.size(), "infer: input '", vi.name, "' has shape ", s,
                  ", expected ", vi.shape.size(), " dimensions");
      for (size_t d = 0; d < s.size(); ++d)
        RAVEL_CHECK(vi.shape[d] < 0 || vi.shape[d] == s[d], "infer: input '", vi.name,
                    "' has shape ", s, ", dimension ", d, " expected ", vi.shape[d]);
      xs.push_back(inputs[i].detach().to(vi.dtype).contiguous());
      shapes.emplace_back(s.begin(), s.end());
      empty_batch = empty_batch || inputs[i].numel() == 0;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (empty_batch) return eager().run(xs);  // oneDNN wants non-empty tensors
    return program(shapes).run(xs);
  }

  std::string describe() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return last_ ? last_->describe() : "";
  }

 private:
  graph::Graph graph_;
  FreezeOptions options_;
  mutable std::mutex mu_;
  using Key = std::pair<std::vector<std::vector<int64_t>>, int>;  // input shapes, threads
  struct Compiled {
    Key key;
    std::unique_ptr<Plan> plan;  // the program refers to it
    std::unique_ptr<Program> program;
  };
  static constexpr size_t kMaxCompiled = 8;  // shapes kept; the least recently used goes
  std::list<Compiled> cache_;                // most recently used first
  std::unique_ptr<Program> eager_;
  Program* last_ = nullptr;

  Program& eager() {
    if (!eager_) eager_ = std::make_unique<EagerProgram>(graph_);
    return *eager_;
  }

  Program& program(const std::vector<std::vector<int64_t>>& shapes) {
    Key key{shapes, get_num_threads()};
    auto it =
        std::find_if(cache_.begin(), cache_.end(), [&](const Compiled& c) { return c.key == key; });
    if (it != cache_.end()) {
      cache_.splice(cache_.begin(), cache_, it);
    } else {
      Compiled c{key, nullptr, nullptr};
#ifdef RAVEL_HAVE_ONEDNN
      c.plan = std::make_unique<Plan>(make_plan(graph_, shapes));
      c.program = onednn::compile_program(*c.plan, graph_, options_);
#else
      c.program = std::make_unique<EagerProgram>(graph_);
#endif
      cache_.push_front(std::move(c));
      if (cache_.size() > kMaxCompiled) cache_.pop_back();
    }
    last_ = cache_.front().program.get();
    return *last_;
  }
};

}  // namespace

std::shared_ptr<FrozenModel> FrozenModel::create(const graph::Graph& g, const FreezeOptions& o) {
  return std::make_shared<Frozen>(g, o);
}

std::shared_ptr<FrozenModel> freeze(nn::Module& module, const Tensor& example_input,
                                    const FreezeOptions& options) {
  return FrozenModel::create(graph::trace(module, {example_input}), options);
}

}  // namespace ravel::infer
