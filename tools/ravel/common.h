// Shared pieces of the `ravel` command line: sub-command registration, errors and exit codes,
// dataset selection (datasets.cpp) and the conventions every sub-command follows.
//
// Conventions (so that a model trained by `ravel train` is used the same way by `evaluate` and
// `predict`): image models take float32 [N, C, H, W] pixels scaled to [0, 1]; CSV models take
// the raw float32 feature rows (the model standardises them itself with a Normalization layer).
// Class names live in "labels.txt" (one per line) next to the model file.
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "ravel/data/dataset.h"
#include "ravel/keras/model.h"

namespace CLI {
class App;
class Validator;
}  // namespace CLI

namespace ravel::cli {

inline constexpr int kExitRuntime = 1;  // the command ran and failed (missing file, bad data)
inline constexpr int kExitUsage = 2;    // the command line itself is wrong

// A bad value the option parser could not see (e.g. an image size that is not "HxW"): exit 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A validator for options that must be a number > 0, with a readable message for text that is
// not a number (CLI::PositiveNumber prints the whole double range).
const CLI::Validator& positive();

// Each sub-command adds itself to the app; its callback stores the exit status in *status.
void add_train(CLI::App& app, int* status);
void add_evaluate(CLI::App& app, int* status);
void add_predict(CLI::App& app, int* status);
void add_summary(CLI::App& app, int* status);
void add_bench(CLI::App& app, int* status);
void add_convert(CLI::App& app, int* status);
void add_export(CLI::App& app, int* status);

// ---- the training step (train, bench) ----

// --eager / --bf16: the training step runs compiled (Keras' jit_compile, the default), in bf16
// mixed precision, or as the model's own forward and backward.
struct StepOptions {
  bool eager = false, bf16 = false;
  // compile() settings for these flags; --bf16 with --eager is a UsageError.
  void apply(keras::CompileOptions& options) const;
  std::string label() const;  // "compiled", "compiled bf16" or "eager"
};
void add_step_options(CLI::App& app, StepOptions& step);

// ---- datasets (datasets.cpp) ----

struct DataSpec {
  std::string source = "fashion-mnist";  // fashion-mnist | mnist | cifar10 | DIR | FILE.csv
  std::string dir;                       // where mnist / cifar10 live
  std::string label_column;              // CSV: name or index; "" = "label", else the last one
  std::string image_size;                // image folders: "HxW" ("" = the first image's size)
  double validation_split = 0.0;         // held out of the training data
  uint64_t seed = 0;
  int64_t train_limit = 0, test_limit = 0;  // 0: all
};
// Registers --data, --data-dir, --label-column, --image-size, --seed, --train-limit,
// --test-limit on a sub-command (validation split is train's own).
void add_data_options(CLI::App& app, DataSpec& spec);

struct LoadedData {
  std::string name;  // "fashion-mnist", the folder's or the CSV file's name
  bool images = true;
  // Examples as stored: uint8 [C, H, W] images or float32 [F] features; int64 targets.
  data::DatasetPtr train, test;
  data::DatasetPtr validation;  // held out of train by --validation-split (else null)
  // True when there is no separate test data and `test` was split off the only source.
  bool test_split_off = false;
  keras::Shape input_shape;  // [C, H, W] or [F]
  int64_t num_classes = 0;
  std::vector<std::string> class_names;
  bool flip_ok = true;  // horizontal flips keep the class (not for digits)
};
// need_train = false loads only what evaluation needs (a split-off test part is still drawn
// from the whole source, with the same seed, so it is the part train held out).
LoadedData load_data(const DataSpec& spec, bool need_train = true);

// Images -> model inputs: uint8 [C, H, W] to float32 in [0, 1] (with augmentation: random
// crop with padding, and horizontal flips when flip is true). Features pass through.
data::DatasetPtr model_inputs(data::DatasetPtr raw, bool images, bool augment = false,
                              bool flip = false);
// All examples of a dataset stacked: inputs [N, ...] and int64 targets [N].
std::pair<Tensor, Tensor> materialize(const data::Dataset& ds);

// "HxW" or "S" -> {H, W}; anything else is a UsageError naming the option.
std::pair<int64_t, int64_t> parse_size(const std::string& option, const std::string& text);
// "C,H,W" (any number of positive sizes) -> a shape; anything else is a UsageError.
keras::Shape parse_shape(const std::string& option, const std::string& text);

// ---- models and files ----

// A saved model, or a UsageError-free runtime error naming the file when it cannot be read.
std::shared_ptr<keras::Model> load_model_file(const std::string& path);
// Class names from "labels.txt" beside the model file (empty if there is none).
std::vector<std::string> read_labels(const std::string& model_path);
void write_labels(const std::string& path, const std::vector<std::string>& names);
// The model's outputs as probabilities: softmax unless the model already outputs them (a
// compiled crossentropy loss without from_logits, or rows that are non-negative and sum to 1).
Tensor to_probabilities(const keras::Model& model, const Tensor& outputs);
// A classifier's results on labelled inputs: probabilities [N, classes], predicted classes
// [N], the confusion matrix [classes, classes] (int64, rows = true class), the mean
// crossentropy (probabilities clipped to [1e-7, 1] as Keras does) and the accuracy.
struct TestResults {
  Tensor probs, pred, confusion;
  double loss = 0, accuracy = 0;
};
TestResults test_model(keras::Model& model, const Tensor& x, const Tensor& y,
                       int64_t batch_size = 256);

// "[1, 28, 28]"
std::string shape_str(const keras::Shape& shape);
// names[i] or the number i when there is no name.
std::string class_name(const std::vector<std::string>& names, int64_t i);

}  // namespace ravel::cli
