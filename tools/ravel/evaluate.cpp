// `ravel evaluate MODEL --data ...`: loss and accuracy on the test split (per class with -v).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "common.h"
#include "ravel/ops.h"
#include "ravel/parallel.h"

namespace ravel::cli {

namespace {

struct EvaluateArgs {
  std::string model;
  DataSpec data;
  int64_t batch_size = 256;
  int threads = 0;
  bool verbose = false;
};

int run_evaluate(const EvaluateArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  auto model = load_model_file(a.model);
  LoadedData d = load_data(a.data, /*need_train=*/false);
  keras::Shape in = model->input_shapes().at(0);
  RAVEL_CHECK(in == d.input_shape, "the model takes inputs of shape ", shape_str(in),
              ", the data's are ", shape_str(d.input_shape));
  auto [x, y] = materialize(*model_inputs(d.test, d.images));
  TestResults r = test_model(*model, x, y, a.batch_size);
  std::printf("%s on %s (%lld test examples): loss %.4f, accuracy %.2f%%\n", a.model.c_str(),
              d.name.c_str(), static_cast<long long>(x.shape()[0]), r.loss, 100 * r.accuracy);
  if (a.verbose) {
    std::vector<std::string> names = read_labels(a.model);
    if (names.empty()) names = d.class_names;
    const int64_t classes = r.confusion.shape()[0];
    std::printf("%-20s %8s %9s\n", "class", "examples", "accuracy");
    for (int64_t c = 0; c < classes; ++c) {
      const int64_t total = r.confusion.index({c}).sum().item<int64_t>();
      const int64_t right = r.confusion.index({c, c}).item<int64_t>();
      if (total == 0) continue;
      std::printf("%-20s %8lld %8.2f%%\n", class_name(names, c).c_str(),
                  static_cast<long long>(total), 100.0 * static_cast<double>(right) / total);
    }
  }
  return 0;
}

}  // namespace

void add_evaluate(CLI::App& app, int* status) {
  auto a = std::make_shared<EvaluateArgs>();
  CLI::App* sub = app.add_subcommand("evaluate", "loss and accuracy of a saved model");
  sub->add_option("model", a->model, "a model file (model.ravel from `ravel train`)")->required();
  add_data_options(*sub, a->data);
  sub->add_option("--batch-size", a->batch_size)
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  sub->add_option("--threads", a->threads, "compute threads (default: all cores)")
      ->check(positive());
  sub->add_flag("--verbose,-v", a->verbose, "accuracy of each class too");
  sub->callback([a, status] { *status = run_evaluate(*a); });
}

}  // namespace ravel::cli
