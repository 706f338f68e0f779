// `ravel summary MODEL|ZOO_NAME [--input-shape C,H,W]`: Keras' summary table.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "common.h"
#include "ravel/models/zoo.h"

namespace ravel::cli {

namespace {

struct SummaryArgs {
  std::string model;
  std::string input_shape;
  int64_t num_classes = 10;
};

int run_summary(const SummaryArgs& a) {
  std::shared_ptr<keras::Model> model;
  const auto names = models::names();
  const bool is_zoo = std::find(names.begin(), names.end(), a.model) != names.end();
  if (is_zoo && !std::filesystem::exists(a.model)) {
    keras::Shape shape = a.input_shape.empty() ? keras::Shape{1, 28, 28}
                                               : parse_shape("--input-shape", a.input_shape);
    if (shape.size() != 3)
      throw UsageError("--input-shape: a zoo model takes C,H,W, got '" + a.input_shape + "'");
    model = keras::Model::from_zoo(
        a.model, {.num_classes = a.num_classes, .in_channels = shape[0], .input_size = shape[1]});
    if (!model->is_built()) model->build_input(shape);
  } else {
    RAVEL_CHECK(std::filesystem::exists(a.model), "'", a.model,
                "' is neither a model file nor a zoo model (", names.size(),
                " zoo names; `ravel train --help` lists them)");
    model = load_model_file(a.model);
    if (!a.input_shape.empty()) model->build_input(parse_shape("--input-shape", a.input_shape));
  }
  std::cout << model->summary_string();
  return 0;
}

}  // namespace

void add_summary(CLI::App& app, int* status) {
  auto args = std::make_shared<SummaryArgs>();
  CLI::App* sub = app.add_subcommand("summary", "print a model's layers and parameter counts");
  sub->add_option("model", args->model, "a saved model file or a zoo model name")->required();
  sub->add_option("--input-shape", args->input_shape,
                  "C,H,W of one input (zoo models; default 1,28,28)");
  sub->add_option("--classes", args->num_classes, "zoo models: number of classes")
      ->capture_default_str()
      ->check(positive());
  sub->callback([args, status] { *status = run_summary(*args); });
}

}  // namespace ravel::cli
