// Helpers shared by the sub-commands: model files, class names, probabilities.
#include "common.h"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>

#include "ravel/keras/metrics.h"
#include "ravel/nn/functional.h"
#include "ravel/ops.h"

namespace ravel::cli {

namespace fs = std::filesystem;

void StepOptions::apply(keras::CompileOptions& options) const {
  if (eager && bf16)
    throw UsageError("--bf16 runs in the compiled training step; it does not go with --eager");
  options.jit_compile = !eager;
  options.mixed_precision = bf16 ? DType::BFloat16 : DType::Float32;
}

std::string StepOptions::label() const {
  return eager ? "eager" : bf16 ? "compiled bf16" : "compiled";
}

void add_step_options(CLI::App& app, StepOptions& step) {
  app.add_flag("--eager", step.eager,
               "train with the model's own (eager) forward and backward instead of the compiled "
               "training step (ravel::compile, the default)");
  app.add_flag("--bf16", step.bf16,
               "bfloat16 mixed precision in the compiled step (fp32 master weights and logits)");
}

std::shared_ptr<keras::Model> load_model_file(const std::string& path) {
  RAVEL_CHECK(fs::is_regular_file(path), "no such model file: ", path);
  return keras::load_model(path);
}

std::vector<std::string> read_labels(const std::string& model_path) {
  std::vector<std::string> names;
  std::ifstream f(fs::path(model_path).parent_path() / "labels.txt");
  for (std::string line; std::getline(f, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    names.push_back(line);
  }
  return names;
}

void write_labels(const std::string& path, const std::vector<std::string>& names) {
  std::ofstream f(path);
  for (const auto& n : names) f << n << "\n";
  RAVEL_CHECK(f.good(), "cannot write ", path);
}

Tensor to_probabilities(const keras::Model& model, const Tensor& outputs) {
  Tensor out = outputs.to(DType::Float32);
  if (model.is_compiled()) {
    const keras::Loss& loss = model.compile_options().loss;
    if (loss.name.find("crossentropy") != std::string::npos)
      return loss.from_logits ? nn::functional::softmax(out, -1) : out;
  }
  // Not compiled: outputs that already look like probabilities are taken as they are.
  const bool probs =
      out.min().item<float>() >= 0.0f && (out.sum(-1) - 1.0).abs().max().item<float>() < 1e-3f;
  return probs ? out : nn::functional::softmax(out, -1);
}

TestResults test_model(keras::Model& model, const Tensor& x, const Tensor& y, int64_t batch_size) {
  TestResults r;
  r.probs = to_probabilities(model, model.predict(x, batch_size));
  RAVEL_CHECK(r.probs.ndim() == 2, "the model's outputs have shape ",
              shape_str({r.probs.shape().begin(), r.probs.shape().end()}),
              ", expected [N, classes]");
  const int64_t n = r.probs.shape()[0], classes = r.probs.shape()[1];
  Tensor labels = y.to(DType::Int64);
  RAVEL_CHECK(labels.numel() == 0 || labels.max().item<int64_t>() < classes, "the data has class ",
              labels.numel() ? labels.max().item<int64_t>() : 0, " but the model has ", classes,
              " outputs");
  r.pred = argmax(r.probs, 1);
  Tensor p_true = gather(r.probs, 1, labels.unsqueeze(1)).squeeze(1);
  r.loss = n ? -log(clip(p_true, Scalar(1e-7), Scalar(1.0))).mean().item<float>() : 0.0;
  keras::ConfusionMatrix cm(classes);
  if (n > 0) cm.update(r.probs, labels);
  r.confusion = cm.matrix();
  r.accuracy = n ? cm.result() : 0.0;
  return r;
}

std::string shape_str(const keras::Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string class_name(const std::vector<std::string>& names, int64_t i) {
  return i >= 0 && i < static_cast<int64_t>(names.size()) ? names[static_cast<size_t>(i)]
                                                          : std::to_string(i);
}

}  // namespace ravel::cli
