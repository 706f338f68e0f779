// compile({.jit_compile = true}): fit's training step through ravel::compile. The eager fit of the
// same model from the same weights is the reference (ravel::compile's own tests check the
// compiled step against eager float64, and the eager ops against PyTorch): per-epoch losses,
// metrics and the trained weights agree; bf16 mixed precision trains; models the compiled path
// does not cover train eagerly and say why; the settings survive save_model/load_model; bad
// combinations are errors naming the option.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "ravel/keras/layers.h"
#include "ravel/keras/model.h"
#include "ravel/ops.h"
#include "ravel/random.h"
#include "ravel/safetensors.h"
#include "support/expect_error.h"
#include "support/temp_dir.h"

namespace ravel::keras {
namespace {

using ravel::testing::expect_error;

// conv-BN-ReLU-pool-conv-BN-ReLU-dense with channel counts that fill no SIMD block (3, 5, 7). No
// conv biases before batch norm (as torchvision's ResNets): their gradient is rounding noise.
std::shared_ptr<SequentialModel> small_cnn(uint64_t seed, const std::string& last_activation = "") {
  manual_seed(seed);
  return Sequential({InputLayer({3, 9, 9}),
                     Conv2D(5, 3, {.padding = "same", .activation = "", .use_bias = false}),
                     BatchNormalization(), Activation("relu"), MaxPooling2D(2),
                     Conv2D(7, 3, {.padding = "same", .activation = "", .use_bias = false}),
                     BatchNormalization(), Activation("relu"), Flatten(),
                     Dense(3, last_activation)});
}

struct Data {
  Tensor x, y;
};
// n images of 3 channels whose class is the channel with a raised mean (learnable at a glance).
Data blobs(int64_t n, uint64_t seed = 5) {
  Generator gen(seed);
  Tensor y = randint(0, 3, {n}, gen);
  Tensor raised = (y.unsqueeze(1) == arange(3)).to(DType::Float32).reshape({n, 3, 1, 1});
  return {randn({n, 3, 9, 9}, gen) + raised * 1.5, y};
}

CompileOptions sgd_options(bool jit, DType mixed_precision = DType::Float32,
                           bool from_logits = true) {
  return {.optimizer = OptimizerSpec("sgd", {{"lr", 0.05}, {"momentum", 0.9}}),
          .loss = Loss("sparse_categorical_crossentropy", from_logits),
          .metrics = {"accuracy"},
          .jit_compile = jit,
          .mixed_precision = mixed_precision};
}

// Largest difference over the reference's largest magnitude (at least 1e-3).
double rel_diff(const Tensor& got, const Tensor& want) {
  Tensor w = want.to(DType::Float64);
  const double scale = std::max(w.abs().max().item<double>(), 1e-3);
  return (got.to(DType::Float64) - w).abs().max().item<double>() / scale;
}

TEST(KerasJitCompile, FitMatchesEagerFit) {
  // 52 examples in batches of 16: the last batch of 4 is a second compiled shape.
  Data d = blobs(52);
  auto eager = small_cnn(1), jit = small_cnn(1);
  std::vector<Tensor> start;  // the initial weights (state_dict shares the live tensors)
  for (const auto& [name, t] : jit->state_dict()) start.push_back(t.to(DType::Float64));
  eager->compile(sgd_options(false));
  jit->compile(sgd_options(true));
  EXPECT_EQ(jit->jit_describe(), "");  // made at the first batch
  const FitOptions fit{.epochs = 3, .batch_size = 16, .verbose = 0, .seed = 7};
  History he = eager->fit(d.x, d.y, fit);
  History hj = jit->fit(d.x, d.y, fit);

  const std::string how = jit->jit_describe();
  EXPECT_NE(how, "");
  EXPECT_NE(how.rfind("eager", 0), 0u) << how;  // compiled, not the eager fallback
  ASSERT_EQ(he["loss"].size(), 3u);
  for (size_t e = 0; e < 3; ++e) {
    EXPECT_NEAR(hj["loss"][e], he["loss"][e], 1e-3 * he["loss"][e]) << "epoch " << e;
    EXPECT_NEAR(hj["accuracy"][e], he["accuracy"][e], 1.0 / 52) << "epoch " << e;
  }
  // The updates (trained minus initial weights) and the batch-norm statistics agree.
  auto se = eager->state_dict(), sj = jit->state_dict();
  ASSERT_EQ(se.size(), sj.size());
  for (size_t i = 0; i < se.size(); ++i) {
    if (!is_floating(se[i].second.dtype())) {
      EXPECT_TRUE(array_equal(se[i].second, sj[i].second)) << se[i].first;
      continue;
    }
    const Tensor& from = start[i];
    EXPECT_LT(
        rel_diff(sj[i].second.to(DType::Float64) - from, se[i].second.to(DType::Float64) - from),
        1e-4)
        << se[i].first;
    EXPECT_LT(rel_diff(sj[i].second, se[i].second), 1e-4) << se[i].first;
  }
  // evaluate and predict run the model itself: the same for both.
  EXPECT_NEAR(jit->evaluate(d.x, d.y)["loss"], eager->evaluate(d.x, d.y)["loss"], 1e-3);
}

TEST(KerasJitCompile, Bfloat16MixedPrecisionTrains) {
  Data d = blobs(64);
  auto model = small_cnn(2);
  model->compile(sgd_options(true, DType::BFloat16));
  History h = model->fit(d.x, d.y, {.epochs = 4, .batch_size = 16, .verbose = 0});
  const std::string how = model->jit_describe();
  EXPECT_NE(how.rfind("eager", 0), 0u) << how;
  EXPECT_NE(how.find("[bf16"), std::string::npos) << how;
  EXPECT_LT(h["loss"].back(), 0.5 * h["loss"].front());
  EXPECT_GT(h["accuracy"].back(), 0.9);  // chance: 1/3
  for (const Tensor& p : model->parameters()) EXPECT_EQ(p.dtype(), DType::Float32);
}

TEST(KerasJitCompile, UncoveredModelsTrainEagerlyAndSayWhy) {
  Data d = blobs(32);
  // Several outputs: the compiled step takes one input and one output.
  Symbol in = Input({3, 9, 9});
  Symbol h = Flatten()(in);
  auto two = Model::functional({in}, {Dense(3)(h), Dense(2)(h)});
  two->compile({.optimizer = "sgd",
                .loss = Loss("sparse_categorical_crossentropy", true),
                .jit_compile = true});
  two->fit({d.x}, {d.y, d.y % 2}, {.epochs = 1, .batch_size = 16, .verbose = 0});
  EXPECT_EQ(two->jit_describe(),
            "eager: the model has 1 inputs and 2 outputs, the compiled step takes one of each\n");

  // Dropout acts in training only; the compiled step, traced from the eval forward, would drop it.
  auto fit_dropout = [&](bool jit) {
    manual_seed(6);
    auto drop = Sequential({InputLayer({3, 9, 9}), Flatten(), Dropout(0.5, "drop"), Dense(3)});
    drop->compile(sgd_options(jit));
    const double loss =
        drop->fit(d.x, d.y, {.epochs = 1, .batch_size = 16, .verbose = 0})["loss"][0];
    return std::make_pair(loss, drop->jit_describe());
  };
  const auto eager_drop = fit_dropout(false), jit_drop = fit_dropout(true);
  EXPECT_EQ(jit_drop.first, eager_drop.first);  // the same eager step, the same dropout masks
  EXPECT_EQ(jit_drop.second,
            "eager: 'drop' (Dropout) acts in training only, and the compiled step would leave it "
            "out\n");

  // Integer inputs: the compiled step takes float32.
  auto bytes =
      Sequential({InputLayer({3, 9, 9}, DType::UInt8), Rescaling(0.1), Flatten(), Dense(3)});
  bytes->compile(sgd_options(true));
  bytes->train_on_batch({(d.x * 10).to(DType::UInt8)}, {d.y});
  EXPECT_EQ(bytes->jit_describe(),
            "eager: the inputs are uint8, the compiled step takes float32\n");

  // An op the compiled path may not cover (a softmax): whatever runs, fit agrees with eager.
  auto eager = small_cnn(3, "softmax"), jit = small_cnn(3, "softmax");
  eager->compile(sgd_options(false, DType::Float32, false));
  jit->compile(sgd_options(true, DType::Float32, false));
  const FitOptions fit{.epochs = 2, .batch_size = 16, .verbose = 0};
  History he = eager->fit(d.x, d.y, fit), hj = jit->fit(d.x, d.y, fit);
  EXPECT_NE(jit->jit_describe(), "");
  for (size_t e = 0; e < 2; ++e) EXPECT_NEAR(hj["loss"][e], he["loss"][e], 1e-3 * he["loss"][e]);

  // compile() again, or a changed architecture, makes the step again at the next batch.
  jit->compile(sgd_options(true, DType::Float32, false));
  EXPECT_EQ(jit->jit_describe(), "");
  jit->train_on_batch({d.x}, {d.y});
  EXPECT_NE(jit->jit_describe(), "");
  jit->pop();
  EXPECT_EQ(jit->jit_describe(), "");
}

class KerasJitCompileSave : public ravel::testing::TempDirTest {};

TEST_F(KerasJitCompileSave, SettingsRoundTrip) {
  for (bool jit : {false, true}) {
    for (DType mp : {DType::Float32, DType::BFloat16}) {
      if (!jit && mp != DType::Float32) continue;
      SCOPED_TRACE(std::string(jit ? "jit " : "eager ") + dtype_name(mp));
      auto model = small_cnn(4);
      model->compile(sgd_options(jit, mp));
      const std::string file = path("m.ravel");
      save_model(*model, file);
      auto back = load_model(file);
      ASSERT_TRUE(back->is_compiled());
      EXPECT_EQ(back->compile_options().jit_compile, jit);
      EXPECT_EQ(back->compile_options().mixed_precision, mp);
    }
  }
}

// Files saved before these settings load eagerly in float32; bad values name the metadata.
TEST_F(KerasJitCompileSave, OlderFilesAndBadValues) {
  auto model = small_cnn(4);
  model->compile(sgd_options(true, DType::BFloat16));
  save_model(*model, path("new.ravel"));
  auto edited = [&](const std::function<void(nlohmann::json&)>& edit) {
    SafetensorsFile f = load_safetensors(path("new.ravel"));
    auto c = nlohmann::json::parse(f.metadata.at("compile_config"));
    edit(c);
    f.metadata["compile_config"] = c.dump();
    save_safetensors(path("edited.ravel"), f.tensors, f.metadata);
    return path("edited.ravel");
  };
  auto old = load_model(edited([](nlohmann::json& c) {
    c.erase("jit_compile");
    c.erase("mixed_precision");
  }));
  EXPECT_FALSE(old->compile_options().jit_compile);
  EXPECT_EQ(old->compile_options().mixed_precision, DType::Float32);
  expect_error([&] { load_model(edited([](nlohmann::json& c) { c["mixed_precision"] = "fp8"; })); },
               {"compile_config", "fp8"});
  expect_error([&] { load_model(edited([](nlohmann::json& c) { c["jit_compile"] = false; })); },
               {"compile_config", "mixed_precision bfloat16", "jit_compile"});
}

TEST(KerasJitCompile, BadCombinationsNameTheOption) {
  auto model = small_cnn(5);
  expect_error([&] { model->compile(sgd_options(false, DType::BFloat16)); },
               {"compile: mixed_precision bfloat16", "jit_compile"});
  expect_error([&] { model->compile(sgd_options(true, DType::Float16)); },
               {"compile: mixed_precision float16", "expected float32 or bfloat16"});
  expect_error([&] { model->compile(sgd_options(true, DType::Float64)); },
               {"mixed_precision float64"});
  EXPECT_FALSE(model->is_compiled());  // a rejected compile() leaves the model as it was
}

}  // namespace
}  // namespace ravel::keras
