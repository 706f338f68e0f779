// The `ravel` command line, run as a separate process: exit codes and one-line messages for bad
// command lines and files, --help of every sub-command, and a real short training run whose
// report folder, saved model, predictions and evaluation are checked.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>

#include "ravel/data/readers.h"
#include "ravel/image.h"
#include "ravel/keras/model.h"
#include "ravel/models/zoo.h"
#include "ravel/nn/functional.h"
#include "ravel/onnx.h"
#include "ravel/ops.h"
#include "ravel/random.h"
#include "support/cli_run.h"
#include "support/numpy_oracle.h"

namespace fs = std::filesystem;

namespace ravel::testing {
namespace {

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("ravel_cli_test_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string path(const std::string& name) { return (dir_ / name).string(); }

  // The short real run, made once for the tests that need a trained model.
  static const CliRun& trained() {
    static CliRun run = run_ravel(
        "train --model mlp --epochs 1 --train-limit 2000 --test-limit 500 "
        "--batch-size 64 --workers 0 --out " +
        path("run"));
    return run;
  }
  static inline fs::path dir_;
};

TEST_F(CliTest, BinaryIsBuilt) {
  ASSERT_TRUE(fs::exists(cli_path())) << cli_path() << " is missing: build the ravel_cli target";
}

TEST_F(CliTest, UsageErrors) {
  expect_cli_failure("", 2, {"ravel"});
  expect_cli_failure("frobnicate", 2, {"frobnicate"});
  expect_cli_failure("train --epochs -3", 2, {"--epochs"});
  expect_cli_failure("train --epochs 0", 2, {"--epochs"});
  expect_cli_failure("train --lr abc", 2, {"--lr"});
  expect_cli_failure("train --optimizer sgdx", 2, {"--optimizer"});
  expect_cli_failure("train --no-such-option", 2, {"--no-such-option"});
  expect_cli_failure("train --model nonet --train-limit 10 --test-limit 10", 2, {"nonet"});
  expect_cli_failure("train --data nowhere.bin", 2, {"nowhere.bin"});
  expect_cli_failure("train --resume", 2, {"--resume", "--out"});
  expect_cli_failure("train --eager --bf16", 2, {"--bf16", "--eager"});
  expect_cli_failure("bench --eager --bf16", 2, {"--bf16", "--eager"});
  expect_cli_failure("predict", 2, {"model"});
  expect_cli_failure("summary resnet20 --input-shape 1,x,28", 2, {"--input-shape"});
  expect_cli_failure("bench --model nonet", 2, {"nonet"});
}

TEST_F(CliTest, HelpOfEverySubcommand) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--help", "train"},
      {"train --help", "--epochs"},
      {"train --help", "--eager"},
      {"train --help", "--bf16"},
      {"evaluate --help", "--data"},
      {"predict --help", "--top"},
      {"summary --help", "--input-shape"},
      {"bench --help", "--steps"},
      {"bench --help", "--eager"},
      {"export --help", "--input-shape"}};
  for (const auto& [args, fragment] : cases) {
    SCOPED_TRACE(args);
    CliRun r = run_ravel(args);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find(fragment), std::string::npos) << r.out;
    EXPECT_TRUE(r.err.empty()) << r.err;
  }
}

TEST_F(CliTest, MissingAndCorruptModelFiles) {
  expect_cli_failure("evaluate " + path("missing.ravel"), 1, {"missing.ravel"});
  expect_cli_failure("summary " + path("missing.ravel"), 1, {"missing.ravel"});
  std::ofstream(path("corrupt.ravel")) << "this is not a safetensors file at all";
  expect_cli_failure("evaluate " + path("corrupt.ravel"), 1, {"corrupt.ravel"});
  expect_cli_failure("predict " + path("corrupt.ravel") + " x.png", 1, {"corrupt.ravel"});
  // A real model file cut in half.
  ASSERT_EQ(trained().status, 0) << trained().err;
  std::string bytes = slurp(path("run/model.ravel"));
  std::ofstream(path("half.ravel"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  expect_cli_failure("predict " + path("half.ravel") + " x.png", 1, {"half.ravel"});
}

TEST_F(CliTest, SummaryOfZooModelCountsParameters) {
  CliRun r = run_ravel("summary resnet20 --input-shape 1,28,28");
  ASSERT_EQ(r.status, 0) << r.err;
  // Keras prints counts with thousands separators (and counts batch-norm statistics as
  // non-trainable parameters, so the module's parameters are the trainable ones).
  std::string n = std::to_string(models::create("resnet20")->num_parameters());
  for (int i = static_cast<int>(n.size()) - 3; i > 0; i -= 3) n.insert(static_cast<size_t>(i), ",");
  EXPECT_NE(r.out.find("Trainable params: " + n), std::string::npos) << r.out;
}

TEST_F(CliTest, BenchPrintsImagesPerSecond) {
  CliRun r = run_ravel("bench --model mlp --batch-size 16 --steps 2 --threads 1");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("train step"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("images/s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(compiled)"), std::string::npos) << r.out;  // train's default step
}

// The real run: report folder, saved model, predict and evaluate on it.
TEST_F(CliTest, TrainWritesReportThenPredictAndEvaluate) {
  const CliRun& run = trained();
  ASSERT_EQ(run.status, 0) << run.err;
  const fs::path out = dir_ / "run";

  // metrics.csv: a header and one row for the one epoch.
  std::string csv = slurp(out / "metrics.csv");
  EXPECT_EQ(count_lines(csv), 2) << csv;
  EXPECT_EQ(csv.rfind("epoch,", 0), 0u) << csv;
  EXPECT_NE(csv.find("val_accuracy"), std::string::npos) << csv;

  // index.html references its pictures, and each decodes.
  std::string html = slurp(out / "index.html");
  for (const char* png : {"loss.png", "accuracy.png", "confusion.png", "worst.png"}) {
    SCOPED_TRACE(png);
    EXPECT_NE(html.find(png), std::string::npos);
    Tensor img = read_image((out / png).string());
    EXPECT_EQ(img.ndim(), 3);
    EXPECT_GT(img.shape()[1], 16);
  }
  EXPECT_NE(run.out.find((out / "index.html").string()), std::string::npos) << run.out;

  // The model loads back and gives the CLI's prediction for a test image written as a PNG.
  auto model = keras::load_model((out / "model.ravel").string());
  // It trained through the compiled step (the default), and keeps that setting.
  EXPECT_NE(run.out.find("compiled step"), std::string::npos) << run.out;
  EXPECT_NE(html.find("training step</td><td>compiled<"), std::string::npos) << html;
  EXPECT_TRUE(model->compile_options().jit_compile);
  EXPECT_EQ(model->compile_options().mixed_precision, DType::Float32);
  auto test = data::load_fashion_mnist(data::Split::Test);
  Tensor image = test.images.index({3});  // uint8 [1, 28, 28]
  write_png(path("shirt.png"), image);
  Tensor logits = model->predict(image.unsqueeze(0).to(DType::Float32) / 255.0);
  Tensor probs = nn::functional::softmax(logits, -1);
  const int64_t expected = argmax(probs, 1).item<int64_t>();

  CliRun pred = run_ravel("predict " + (out / "model.ravel").string() + " " + path("shirt.png") +
                          " --json --top 3");
  ASSERT_EQ(pred.status, 0) << pred.err;
  auto j = nlohmann::json::parse(pred.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["file"], path("shirt.png"));
  ASSERT_EQ(j[0]["predictions"].size(), 3u);
  EXPECT_EQ(j[0]["predictions"][0]["class"].get<int64_t>(), expected);
  EXPECT_EQ(j[0]["predictions"][0]["label"], test.class_names[static_cast<size_t>(expected)]);
  EXPECT_NEAR(j[0]["predictions"][0]["probability"].get<double>(),
              probs.index({0, expected}).item<float>(), 1e-5);

  // A table by default.
  CliRun table = run_ravel("predict " + (out / "model.ravel").string() + " " + path("shirt.png"));
  ASSERT_EQ(table.status, 0) << table.err;
  EXPECT_NE(table.out.find(test.class_names[static_cast<size_t>(expected)]), std::string::npos);

  // Wrong size: an error naming both sizes, unless --resize.
  write_png(path("big.png"), zeros({1, 32, 32}, DType::UInt8));
  expect_cli_failure("predict " + (out / "model.ravel").string() + " " + path("big.png"), 1,
                     {"big.png", "32x32", "28x28", "--resize"});
  CliRun resized =
      run_ravel("predict " + (out / "model.ravel").string() + " " + path("big.png") + " --resize");
  EXPECT_EQ(resized.status, 0) << resized.err;

  // evaluate agrees with train's final test accuracy, and its loss and accuracy with PyTorch on
  // the model's probabilities for the same 500 test images.
  CliRun ev = run_ravel("evaluate " + (out / "model.ravel").string() + " --test-limit 500 -v");
  ASSERT_EQ(ev.status, 0) << ev.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(ev.out, m, std::regex(R"(loss ([0-9.]+), accuracy ([0-9.]+)%)")))
      << ev.out;
  const double cli_loss = std::stod(m[1]), cli_acc = std::stod(m[2]);
  EXPECT_NE(run.out.find("test accuracy: " + std::string(m[2]) + "%"), std::string::npos)
      << run.out << ev.out;
  EXPECT_NE(ev.out.find("Ankle boot"), std::string::npos) << ev.out;  // per-class lines
  Tensor x = test.images.slice(0, 0, 500).to(DType::Float32) / 255.0;
  Tensor p = nn::functional::softmax(model->predict(x, 256), -1);
  TorchOracle torch;
  int h = torch.add_script(R"(
p = torch.tensor(a).clamp(1e-7, 1.0)
y = torch.tensor(b)
out = (F.nll_loss(torch.log(p), y).double(), (p.argmax(1) == y).double().mean() * 100))",
                           {p, test.labels.slice(0, 0, 500)});
  torch.run();
  EXPECT_NEAR(cli_loss, torch.results(h)[0].item<double>(), 1e-4);
  EXPECT_NEAR(cli_acc, torch.results(h)[1].item<double>(), 1e-2);
}

// `ravel export`: the trained model as ONNX, accepted by onnx.checker, imported back with the
// model's outputs at another batch size; a wrong extension is a usage error.
TEST_F(CliTest, ExportWritesOnnxOfTheTrainedModel) {
  const CliRun& run = trained();
  ASSERT_EQ(run.status, 0) << run.err;
  const std::string model_file = (dir_ / "run" / "model.ravel").string();
  CliRun ex = run_ravel("export " + model_file + " " + path("mlp.onnx"));
  ASSERT_EQ(ex.status, 0) << ex.err;
  EXPECT_EQ(std::system(("/usr/bin/python3 -c \"import onnx, sys; "
                         "onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)\" " +
                         path("mlp.onnx"))
                            .c_str()),
            0);
  auto model = keras::load_model(model_file);
  auto imported = onnx::import_model(path("mlp.onnx"));
  imported->eval();
  Tensor x = rand({5, 1, 28, 28});
  Tensor expected = model->predict(x);
  NoGradGuard no_grad;
  EXPECT_LT(amax(abs((*imported)(x)-expected)).item<double>(),
            1e-5 * (1 + amax(abs(expected)).item<double>()));
  expect_cli_failure("export " + model_file + " " + path("mlp.txt"), 2, {".onnx", "mlp.txt"});
  expect_cli_failure("export " + path("missing.ravel") + " " + path("m.onnx"), 1,
                     {"missing.ravel"});
}

// The resumed session trains eagerly (--eager): the flags of the session decide the step.
TEST_F(CliTest, ResumeContinuesTheRun) {
  ASSERT_EQ(trained().status, 0) << trained().err;
  CliRun r = run_ravel(
      "train --model mlp --epochs 2 --train-limit 2000 --test-limit 500 "
      "--batch-size 64 --workers 0 --quiet --eager --resume --out " +
      path("run"));
  ASSERT_EQ(r.status, 0) << r.err;
  std::string csv = slurp(dir_ / "run" / "metrics.csv");
  EXPECT_EQ(count_lines(csv), 3) << csv;  // header, epoch 0 (first run), epoch 1 (resumed)
  auto j = nlohmann::json::parse(slurp(dir_ / "run" / "checkpoint.json"));
  EXPECT_EQ(j["epoch"], 2);
  EXPECT_EQ(j["history"]["loss"].size(), 2u);
  auto model = keras::load_model((dir_ / "run" / "checkpoint.ravel").string());
  EXPECT_FALSE(model->compile_options().jit_compile);
  EXPECT_NE(model->optimizer(), nullptr);
}

// --bf16: the compiled step in bfloat16 mixed precision, said in the output and the report, and
// kept by the saved model. One thread: the ResNet's short run stays fast on a busy machine.
TEST_F(CliTest, TrainWithBf16MixedPrecision) {
  CliRun r = run_ravel(
      "train --model resnet20 --bf16 --epochs 1 --train-limit 128 --test-limit 64 "
      "--batch-size 64 --workers 0 --threads 1 --quiet --out " +
      path("bf16"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(slurp(dir_ / "bf16" / "index.html").find("training step</td><td>compiled bf16<"),
            std::string::npos);
  auto model = keras::load_model((dir_ / "bf16" / "model.ravel").string());
  EXPECT_TRUE(model->compile_options().jit_compile);
  EXPECT_EQ(model->compile_options().mixed_precision, DType::BFloat16);
}

// CSV rows: an MLP with a Normalization layer learns two well separated blobs; predict reads
// the rows back; conv models refuse CSV data.
TEST_F(CliTest, TrainAndPredictOnCsv) {
  {
    std::ofstream f(path("blobs.csv"));
    f << "x1,x2,x3,label\n";
    Tensor pts = randn({200, 3});
    for (int64_t i = 0; i < 200; ++i) {
      const int64_t c = i % 2;
      for (int64_t k = 0; k < 3; ++k)
        f << pts.index({i, k}).item<float>() * 0.5 + (c ? 103.0 : 97.0) << ",";
      f << c << "\n";
    }
  }
  CliRun r = run_ravel("train --model mlp --data " + path("blobs.csv") +
                       " --optimizer adam --epochs 5 --batch-size 16 --workers 0 --quiet --out " +
                       path("csv"));
  ASSERT_EQ(r.status, 0) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(test accuracy: ([0-9.]+)%)"))) << r.out;
  EXPECT_GT(std::stod(m[1]), 90.0) << r.out;
  CliRun pred =
      run_ravel("predict " + path("csv/model.ravel") + " " + path("blobs.csv") + " --json");
  ASSERT_EQ(pred.status, 0) << pred.err;
  EXPECT_EQ(nlohmann::json::parse(pred.out).size(), 200u);
  expect_cli_failure(
      "train --model resnet20 --data " + path("blobs.csv") + " --out " + path("csv2"), 2,
      {"resnet20", "images"});
}

// An image folder (one sub-folder per class, split 80/20 by the seed): dark and bright 10x10
// images, resized to 8x8, learnt by an MLP; labels.txt holds the folder names for predict.
TEST_F(CliTest, TrainAndPredictOnImageFolder) {
  for (const char* cls : {"bright", "dark"}) {
    fs::create_directories(dir_ / "folder" / cls);
    for (int i = 0; i < 20; ++i) {
      Tensor noise = randint(0, 40, {1, 10, 10});
      Tensor img = (noise + (cls[0] == 'b' ? 190 : 20)).to(DType::UInt8);
      write_png(path("folder/" + std::string(cls) + "/" + std::to_string(i) + ".png"), img);
    }
  }
  CliRun r = run_ravel("train --model mlp --data " + path("folder") +
                       " --image-size 8x8 --optimizer adam --epochs 4 --batch-size 4 --workers 0 "
                       "--quiet --out " +
                       path("folder_run"));
  ASSERT_EQ(r.status, 0) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(test accuracy: ([0-9.]+)%)"))) << r.out;
  EXPECT_GE(std::stod(m[1]), 75.0) << r.out;
  EXPECT_EQ(slurp(dir_ / "folder_run" / "labels.txt"), "bright\ndark\n");
  CliRun pred = run_ravel("predict " + path("folder_run/model.ravel") + " " +
                          path("folder/bright/0.png") + " --resize --json");
  ASSERT_EQ(pred.status, 0) << pred.err;
  EXPECT_EQ(nlohmann::json::parse(pred.out)[0]["predictions"][0]["label"], "bright") << pred.out;
  expect_cli_failure("train --data " + path("folder") + " --image-size 8y8", 2, {"--image-size"});
}

// MNIST and CIFAR-10 are not installed here: synthetic files in their formats (IDX; CIFAR binary
// records) with two classes of clearly different brightness, so the run must learn them.
TEST_F(CliTest, TrainOnMnistAndCifarLayouts) {
  auto write_bytes = [](const fs::path& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary) << bytes;
  };
  auto be32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  Generator gen(3);
  auto pixels = [&](int64_t label, int64_t count) {  // brightness 40 or 190, plus noise
    Tensor noise = randint(0, 16, {count}, gen);
    Tensor img = (noise + 40 + 150 * label).to(DType::UInt8);
    return std::string(static_cast<const char*>(img.raw_data()), static_cast<size_t>(count));
  };

  fs::create_directories(dir_ / "mnist");
  for (auto [prefix, n] : {std::pair<std::string, int>{"train", 200}, {"t10k", 50}}) {
    std::string images = be32(0x803) + be32(n) + be32(28) + be32(28),
                labels = be32(0x801) + be32(n);
    for (int i = 0; i < n; ++i) {
      images += pixels(i % 2, 28 * 28);
      labels += static_cast<char>(i % 2);
    }
    write_bytes(dir_ / "mnist" / (prefix + "-images-idx3-ubyte"), images);
    write_bytes(dir_ / "mnist" / (prefix + "-labels-idx1-ubyte"), labels);
  }
  fs::create_directories(dir_ / "cifar");
  for (std::string name : {"data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                           "data_batch_5", "test_batch"}) {
    std::string records;
    for (int i = 0; i < 40; ++i) records += static_cast<char>(i % 2) + pixels(i % 2, 3072);
    write_bytes(dir_ / "cifar" / (name + ".bin"), records);
  }

  for (const char* data : {"mnist", "cifar10"}) {
    SCOPED_TRACE(data);
    const std::string dir = path(std::string(data) == "mnist" ? "mnist" : "cifar");
    CliRun r = run_ravel(std::string("train --model mlp --data ") + data + " --data-dir " + dir +
                         " --epochs 5 --lr 0.01 --batch-size 20 --workers 0 --quiet --out " +
                         path(std::string(data) + "_run"));
    ASSERT_EQ(r.status, 0) << r.err;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(test accuracy: ([0-9.]+)%)"))) << r.out;
    EXPECT_GE(std::stod(m[1]), 90.0) << r.out;  // chance is 50%
    EXPECT_TRUE(fs::exists(dir_ / (std::string(data) + "_run") / "index.html"));
  }
  expect_cli_failure("train --data cifar10 --data-dir " + path("nowhere"), 1, {"nowhere"});
}

}  // namespace
}  // namespace ravel::testing
