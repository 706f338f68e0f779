// A ResNet-20 trained here on Fashion-MNIST, exported to ONNX by ravel, checked by onnx.checker
// (python3-onnx) and run by ONNX Runtime (npm onnxruntime-node, scripts/ort.js) on the whole
// 10,000-image test set: ORT must give ravel's predictions. The frozen inference path
// (ravel/infer.h) is held to the same bar in float32 and its bfloat16 path to a top-1 agreement
// with float32, on the first 2,000 test images (the whole set for a fully trained model is in
// the README).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "ravel/data.h"
#include "ravel/infer.h"
#include "ravel/io.h"
#include "ravel/models.h"
#include "ravel/nn.h"
#include "ravel/onnx.h"
#include "ravel/ops.h"
#include "ravel/optim.h"
#include "support/temp_dir.h"

namespace {
using namespace ravel;
namespace F = ravel::nn::functional;

class OrtFashionMnist : public ravel::testing::TempDirTest {};

int run(const std::string& command) { return std::system(command.c_str()); }

// Predictions of `logits` [N, 10] against `reference`: how many differ, and how many of those
// are near-ties in the reference (top-2 margin below `tie`), where rounding may pick either.
struct Agreement {
  int64_t differ = 0, differ_not_tie = 0;
};
Agreement compare_top1(const Tensor& logits, const Tensor& reference, double tie) {
  Tensor a = argmax(logits, 1).contiguous(), b = argmax(reference, 1).contiguous();
  Tensor top2 = topk(reference, 2, 1).first;
  Tensor margin = (top2.select(1, 0) - top2.select(1, 1)).to(DType::Float64).contiguous();
  const int64_t* pa = a.data_ptr<int64_t>();
  const int64_t* pb = b.data_ptr<int64_t>();
  const double* pm = margin.data_ptr<double>();
  Agreement r;
  for (int64_t i = 0; i < a.shape()[0]; ++i) {
    if (pa[i] == pb[i]) continue;
    ++r.differ;
    if (pm[i] >= tie) ++r.differ_not_tie;
  }
  return r;
}

TEST_F(OrtFashionMnist, ExportedResNet20GivesRavelsPredictionsInOnnxRuntime) {
  const std::string ort_js = std::string(RAVEL_SOURCE_DIR) + "/scripts/ort.js";
  const std::string ort_pkg =
      std::string(RAVEL_SOURCE_DIR) + "/.deps/ort/node_modules/onnxruntime-node/package.json";
  struct stat st {};
  ASSERT_EQ(stat(ort_pkg.c_str(), &st), 0)
      << "ONNX Runtime is not installed: run `source scripts/deps.sh && install_ort` "
         "(./test.sh does)";

  // Train: 40 steps of batch 64 on the first 2,560 training images.
  manual_seed(0);
  auto train = data::load_fashion_mnist(data::Split::Train);
  auto test = data::load_fashion_mnist(data::Split::Test);
  auto prepare = [](const Tensor& images) {
    return (images.to(DType::Float32) / 255.0f - 0.2860f) / 0.3530f;
  };
  Tensor x_train = prepare(train.images.slice(0, 0, 2560)), y_train = train.labels;
  auto model = models::resnet20({.num_classes = 10, .in_channels = 1});
  optim::SGD opt(model->parameters(), {.lr = 0.05, .momentum = 0.9, .nesterov = true});
  const int64_t batch = 64, steps = 40;
  optim::OneCycleLR sched(opt, 0.05, steps);
  model->train();
  for (int64_t s = 0; s < steps; ++s) {
    opt.zero_grad();
    Tensor loss = F::cross_entropy((*model)(x_train.slice(0, s * batch, (s + 1) * batch)),
                                   y_train.slice(0, s * batch, (s + 1) * batch));
    loss.backward();
    opt.step();
    sched.step();
  }

  // ravel's predictions on the whole test set (eager, eval mode).
  model->eval();
  Tensor x_test = prepare(test.images).contiguous();
  const int64_t n = x_test.shape()[0];
  Tensor logits;
  {
    NoGradGuard no_grad;
    std::vector<Tensor> parts;
    for (int64_t i = 0; i < n; i += 500) parts.push_back((*model)(x_test.slice(0, i, i + 500)));
    logits = concatenate(parts, 0);
  }
  const double accuracy =
      sum(argmax(logits, 1) == test.labels).item<double>() / static_cast<double>(n);
  EXPECT_GT(accuracy, 0.5) << "the model did not train";

  // Export, check with onnx.checker, run in ONNX Runtime.
  const std::string file = path("resnet20.onnx");
  onnx::export_model(*model, {x_test.slice(0, 0, 2)}, file);
  ASSERT_EQ(run("/usr/bin/python3 -c \"import onnx, sys; m = onnx.load(sys.argv[1]); "
                "onnx.checker.check_model(m, full_check=True)\" " +
                file),
            0)
      << "onnx.checker rejected the exported file";
  save_npy(path("x.npy"), x_test);
  ASSERT_EQ(run("node " + ort_js + " predict " + file + " " + path("x.npy") + " " +
                path("ort.npy") + " --batch 500"),
            0);
  Tensor ort_logits = load_npy(path("ort.npy"));
  ASSERT_EQ(ort_logits.shape(), logits.shape());
  const double scale = amax(abs(logits)).item<double>();
  const double max_diff = amax(abs(ort_logits - logits)).item<double>();
  const Agreement ort = compare_top1(ort_logits, logits, 1e-4 * scale);
  std::printf(
      "ORT: test accuracy %.4f, %lld of %lld predictions differ from ravel's (%lld not "
      "near-ties), max |logit diff| %.3g (logit scale %.3g)\n",
      accuracy, static_cast<long long>(ort.differ), static_cast<long long>(n),
      static_cast<long long>(ort.differ_not_tie), max_diff, scale);
  EXPECT_EQ(ort.differ_not_tie, 0);
  EXPECT_LT(max_diff, 1e-4 * scale);

  // The frozen path on the same model: float32 equal to eager, bfloat16 close in top-1.
  auto fp32 = infer::freeze(*model, x_test.slice(0, 0, 500));
  auto bf16 = infer::freeze(*model, x_test.slice(0, 0, 500), {.dtype = DType::BFloat16});
  std::vector<Tensor> p32, p16;
  const int64_t n_frozen = 2000;
  for (int64_t i = 0; i < n_frozen; i += 500) {
    p32.push_back(fp32->run(x_test.slice(0, i, i + 500)));
    p16.push_back(bf16->run(x_test.slice(0, i, i + 500)));
  }
  Tensor reference = logits.slice(0, 0, n_frozen);
  const Agreement frozen = compare_top1(concatenate(p32, 0), reference, 1e-4 * scale);
  const Agreement half = compare_top1(concatenate(p16, 0), reference, 0.0);
  const double bf16_agreement =
      1.0 - static_cast<double>(half.differ) / static_cast<double>(n_frozen);
  std::printf(
      "frozen fp32: %lld differ (%lld not near-ties); bf16 top-1 agreement with fp32 "
      "%.4f\n",
      static_cast<long long>(frozen.differ), static_cast<long long>(frozen.differ_not_tie),
      bf16_agreement);
  EXPECT_EQ(frozen.differ_not_tie, 0);
  EXPECT_GT(bf16_agreement, 0.98);
}

}  // namespace
