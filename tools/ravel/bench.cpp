// `ravel bench`: the median time of a training step and of an inference batch of a zoo model on
// random inputs, and the images per second they give. The training step is `train`'s: compiled
// (--bf16: in bf16 mixed precision) or, with --eager, the model's own.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "common.h"
#include "ravel/models/zoo.h"
#include "ravel/parallel.h"
#include "ravel/random.h"

namespace ravel::cli {

namespace {

struct BenchArgs {
  std::string model = "resnet20";
  int64_t batch_size = 128;
  int steps = 20, threads = 0;
  std::vector<int64_t> input_shape = {1, 28, 28};
  int64_t num_classes = 10;
  StepOptions step;
};

// Median seconds of fn over `steps` runs, after one warm-up run.
template <typename Fn>
double median_seconds(int steps, Fn&& fn) {
  fn();
  std::vector<double> t;
  for (int i = 0; i < steps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(t.begin(), t.begin() + static_cast<long>(t.size() / 2), t.end());
  return t[t.size() / 2];
}

int run_bench(const BenchArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  const auto names = models::names();
  if (std::find(names.begin(), names.end(), a.model) == names.end())
    throw UsageError("--model: unknown model '" + a.model + "' (see --help for the zoo names)");
  if (a.input_shape.size() != 3)
    throw UsageError("--input-shape: expected C,H,W, got " + shape_str(a.input_shape));
  keras::CompileOptions options{
      .optimizer = keras::OptimizerSpec("sgd", {{"lr", 0.01}, {"momentum", 0.9}}),
      .loss = keras::Loss("sparse_categorical_crossentropy", true)};
  a.step.apply(options);
  manual_seed(0);
  const keras::Shape in = a.input_shape;
  auto model = keras::Model::from_zoo(
      a.model, {.num_classes = a.num_classes, .in_channels = in[0], .input_size = in[1]});
  if (!model->is_built()) model->build_input(in);
  model->compile(options);
  Tensor x = rand({a.batch_size, in[0], in[1], in[2]});
  Tensor y = randint(0, a.num_classes, {a.batch_size});
  const double train = median_seconds(a.steps, [&] { model->train_on_batch({x}, {y}); });
  const double infer = median_seconds(a.steps, [&] { model->predict(x, a.batch_size); });
  const double b = static_cast<double>(a.batch_size);
  std::printf("%s (%lld parameters), batch %lld of %s, %d threads, median of %d steps\n",
              a.model.c_str(), static_cast<long long>(model->module()->num_parameters()),
              static_cast<long long>(a.batch_size), shape_str(in).c_str(), get_num_threads(),
              a.steps);
  std::printf("train step  %9.2f ms  %10.1f images/s  (%s)\n", 1e3 * train, b / train,
              a.step.label().c_str());
  std::printf("inference   %9.2f ms  %10.1f images/s\n", 1e3 * infer, b / infer);
  return 0;
}

}  // namespace

void add_bench(CLI::App& app, int* status) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* sub = app.add_subcommand("bench", "time a zoo model's training step and inference");
  sub->add_option("--model", a->model, "zoo model")->capture_default_str();
  sub->add_option("--batch-size", a->batch_size)
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 16));
  sub->add_option("--steps", a->steps, "timed steps")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  sub->add_option("--threads", a->threads, "compute threads (default: all cores)")
      ->check(positive());
  sub->add_option("--input-shape", a->input_shape, "C,H,W of one input")
      ->delimiter(',')
      ->expected(3)
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  sub->add_option("--classes", a->num_classes)
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100000}));
  add_step_options(*sub, a->step);
  sub->callback([a, status] { *status = run_bench(*a); });
}

}  // namespace ravel::cli
