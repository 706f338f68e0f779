// ravel models (an MLP, resnet20 at 1x28x28, resnet18 with base width 16 at 3x32x32 to keep the
// run short, a Keras Sequential CNN) exported to ONNX: the files pass onnx.checker (full_check) and
// ONNX's strict shape inference (python3-onnx, run in the test), declare a dynamic batch, and the
// re-imported GraphModule gives the module's outputs at batch 1 and 7.
#include <gtest/gtest.h>

#include <set>

#include "ravel/keras.h"
#include "ravel/models.h"
#include "ravel/onnx.h"
#include "ravel/ravel.h"
#include "support/numpy_oracle.h"
#include "support/temp_dir.h"

namespace ravel {
namespace {

using testing::matches;

class OnnxExport : public testing::TempDirTest {};

// BN statistics away from their initial 0/1, so that eval-mode BN is not an identity.
void randomize_bn(nn::Module& m, uint64_t seed) {
  Generator gen(seed);
  NoGradGuard no_grad;
  for (auto& [name, t] : m.state_dict()) {
    if (name.ends_with("running_mean")) t.copy_(randn(t.shape(), gen) * 0.1f);
    if (name.ends_with("running_var")) t.copy_(rand(t.shape(), gen) + 0.5f);
  }
}

TEST_F(OnnxExport, CheckerAcceptsAndReimportMatches) {
  manual_seed(5);
  struct Model {
    std::string name;
    std::shared_ptr<nn::Module> module;
    Shape input;  // without the batch
  };
  using namespace keras;
  std::vector<Model> models = {
      {"mlp", models::mlp({784, 32, 10}), {1, 28, 28}},
      {"resnet20", models::resnet20({.num_classes = 10, .in_channels = 1}), {1, 28, 28}},
      {"resnet18", models::resnet18({.width = 16}), {3, 32, 32}},  // 16-32-64-128 channels
      {"keras",
       Sequential({InputLayer({1, 12, 12}), Conv2D(4, 3, {.padding = "same", .activation = "relu"}),
                   BatchNormalization(), MaxPooling2D(2), Flatten(), Dense(16, "relu"),
                   Dropout(0.2), Dense(10, "softmax")}),
       {1, 12, 12}},
  };
  std::string files;
  for (size_t i = 0; i < models.size(); ++i) {
    Model& m = models[i];
    randomize_bn(*m.module, i);
    m.module->eval();
    ravel::Shape s{1};
    for (int64_t d : m.input) s.push_back(d);
    onnx::export_model(*m.module, {randn(s)}, path(m.name + ".onnx"));
    files += "'" + path(m.name + ".onnx") + "',";
  }

  // onnx.checker with full_check runs ONNX's shape inference too; strict_mode makes an
  // inference error fatal. Out: per file, the output dims (-1 for a symbolic one) and, for the
  // input, whether dim 0 is the symbol "batch".
  testing::NumpyOracle py;
  const int h = py.add(  // one line: the oracle reads expressions line by line
      "[x for f in [" + files +
          "] for x in (lambda onnx, m: (onnx.checker.check_model(m, full_check=True), "
          "np.array([d.dim_value if d.HasField('dim_value') else -1 for d in "
          "onnx.shape_inference.infer_shapes(m, strict_mode=True)"
          ".graph.output[0].type.tensor_type.shape.dim]), "
          "np.array(m.graph.input[0].type.tensor_type.shape.dim[0].dim_param == 'batch'))[1:])"
          "(__import__('onnx'), __import__('onnx').load(f))]",
      {});
  py.run();
  ASSERT_EQ(py.error(h), "");
  const auto& r = py.results(h);
  ASSERT_EQ(r.size(), 2 * models.size());

  for (size_t i = 0; i < models.size(); ++i) {
    Model& m = models[i];
    SCOPED_TRACE(m.name);
    EXPECT_TRUE(r[2 * i + 1].item<bool>()) << "dim 0 of the input is 'batch'";
    auto back = onnx::import_model(path(m.name + ".onnx"));
    back->eval();
    for (int64_t batch : {1, 7}) {
      ravel::Shape s{batch};
      for (int64_t d : m.input) s.push_back(d);
      Tensor x = randn(s);
      Tensor want = (*m.module)(x), got = (*back)(x);
      const double scale = want.abs().max().item<double>();
      EXPECT_TRUE(matches(got, want, 1e-5, 1e-5 * scale)) << "batch " << batch;
      if (batch == 1) {
        std::vector<int64_t> dims = r[2 * i].to_vector<int64_t>();
        EXPECT_EQ(dims.size(), static_cast<size_t>(want.ndim()));
        for (size_t d = 1; d < dims.size(); ++d) EXPECT_EQ(dims[d], want.size(d));
        EXPECT_EQ(dims[0], -1) << "ONNX infers a symbolic batch for the output";
      }
    }
  }

  // The weights are named as in the module's state_dict.
  const graph::Graph g = onnx::load(path("resnet20.onnx"));
  std::set<std::string> names;
  for (const auto& init : g.initializers) names.insert(init.name);
  for (const auto& [name, p] : models[1].module->named_parameters())
    EXPECT_TRUE(names.count(name)) << name;
}

}  // namespace
}  // namespace ravel
