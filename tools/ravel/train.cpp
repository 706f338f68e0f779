// `ravel train`: a zoo model (or a saved one) trained with compile / fit on a dataset, evaluated
// on its test split, saved, and written up as an HTML report with curves, a confusion matrix and
// the worst-classified test images. The recipe defaults are examples/fashion_mnist.cpp's:
// random crop + flip, SGD with Nesterov momentum and weight decay, a one-cycle schedule. The
// training step is ravel::compile's (Keras' jit_compile), in bf16 mixed precision with --bf16;
// --eager runs the model's own forward and backward.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common.h"
#include "ravel/keras/callbacks.h"
#include "ravel/keras/layers.h"
#include "ravel/ops.h"
#include "ravel/optim/scheduler.h"
#include "ravel/parallel.h"
#include "ravel/random.h"
#include "ravel/train/report.h"

namespace ravel::cli {

namespace fs = std::filesystem;

namespace {

struct TrainArgs {
  std::string model = "resnet20", load;
  DataSpec data;
  int epochs = 15;
  int64_t batch_size = 128;
  std::string optimizer = "sgd";
  std::optional<double> lr, momentum, weight_decay;
  std::string schedule = "onecycle";
  bool augment = true;
  int threads = 0, workers = 2;
  bool resume = false, quiet = false;
  StepOptions step;
  std::string out;
};

constexpr int kWorstImages = 16;

// The learning rate set before every batch: one-cycle, cosine or step decay over the whole run
// (total_steps batches), fast-forwarded past start_step batches when resuming. Adds "lr" to
// each epoch's logs.
class BatchSchedule : public keras::Callback {
 public:
  BatchSchedule(std::string kind, double lr, int64_t total_steps, int64_t start_step)
      : kind_(std::move(kind)), lr_(lr), total_(total_steps), start_(start_step) {}

  void on_train_begin(const keras::Logs&) override {
    optim::Optimizer* opt = model().optimizer();
    RAVEL_CHECK(opt, "train: the optimizer was not created at compile time");
    // One-cycle needs two steps in each phase (a phase of one step divides by zero), so a very
    // short run warms up over more than a quarter of it, and one of two steps keeps lr constant.
    if (kind_ == "onecycle" && total_ > 2)
      sched_ = std::make_unique<optim::OneCycleLR>(
          *opt, lr_, total_,
          optim::OneCycleLROptions{.pct_start = std::max(0.25, 2.0 / static_cast<double>(total_))});
    else if (kind_ == "cosine")
      sched_ = std::make_unique<optim::CosineAnnealingLR>(*opt, total_);
    else if (kind_ == "step")
      sched_ = std::make_unique<optim::StepLR>(*opt, std::max<int64_t>(1, total_ / 3), 0.1);
    for (int64_t i = 0; i < start_; ++i) step();
  }
  void on_train_batch_end(int64_t, const keras::Logs&) override { step(); }
  void on_epoch_end(int, keras::Logs& logs) override { logs["lr"] = model().optimizer()->lr(); }

 private:
  void step() {
    // The last batch of the run leaves the schedule at its end rather than one past it.
    if (sched_ && sched_->last_epoch() + 1 < total_) sched_->step();
  }
  std::string kind_;
  double lr_;
  int64_t total_, start_;
  std::unique_ptr<optim::LRScheduler> sched_;
};

// After each epoch: the model (with its optimizer state) to <out>/checkpoint.ravel and the
// history so far to <out>/checkpoint.json, which --resume starts from.
class ResumePoint : public keras::Callback {
 public:
  ResumePoint(std::string out, std::map<std::string, std::vector<double>> history,
              nlohmann::json info)
      : out_(std::move(out)), history_(std::move(history)), info_(std::move(info)) {}

  void on_epoch_end(int epoch, keras::Logs& logs) override {
    for (const auto& [k, v] : logs) history_[k].push_back(v);
    keras::save_model(model(), out_ + "/checkpoint.ravel");
    nlohmann::json j = info_;
    j["epoch"] = epoch + 1;
    j["history"] = history_;
    std::ofstream f(out_ + "/checkpoint.json.tmp");
    f << j.dump(1) << "\n";
    f.close();
    RAVEL_CHECK(f.good(), "train: cannot write ", out_, "/checkpoint.json.tmp");
    fs::rename(out_ + "/checkpoint.json.tmp", out_ + "/checkpoint.json");
  }
  const std::map<std::string, std::vector<double>>& history() const { return history_; }

 private:
  std::string out_;
  std::map<std::string, std::vector<double>> history_;
  nlohmann::json info_;
};

std::string timestamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// A new model for the data: a zoo model for images, a Keras-style MLP with a Normalization
// layer (adapted to the training features) for CSV rows.
std::shared_ptr<keras::Model> new_model(const std::string& name, const LoadedData& d) {
  if (!d.images) {
    if (name != "mlp")
      throw UsageError("--model " + name + " needs images; CSV data trains only --model mlp");
    auto norm = keras::Normalization(-1);
    norm->adapt(materialize(*d.train).first);
    return keras::Sequential({keras::InputLayer(d.input_shape), norm, keras::Dense(512, "relu"),
                              keras::Dense(512, "relu"), keras::Dense(d.num_classes)},
                             "mlp");
  }
  const int64_t h = d.input_shape[1], w = d.input_shape[2];
  if ((name == "mlp" || name == "lenet5") && h != w)
    throw UsageError("--model " + name + " needs square images, the data's are " +
                     std::to_string(h) + "x" + std::to_string(w) + " (use --image-size)");
  auto model = keras::Model::from_zoo(
      name, {.num_classes = d.num_classes, .in_channels = d.input_shape[0], .input_size = h});
  return model;
}

// The training step as run: "compiled" ("compiled bf16"), "eager", or "eager (<why the
// compiled step could not cover the model>)".
std::string training_step(const keras::Model& model, const std::string& kind) {
  const std::string d = model.jit_describe();
  if (d.rfind("eager: ", 0) != 0) return kind;
  return "eager (" + d.substr(7, d.find('\n') - 7) + ")";  // its first line
}

void check_fits(keras::Model& model, const LoadedData& d, const std::string& what) {
  if (!model.is_built()) model.build_input(d.input_shape);
  keras::Shape in = model.input_shapes().at(0), out = model.output_shapes().at(0);
  RAVEL_CHECK(in == d.input_shape, what, " takes inputs of shape ", shape_str(in),
              ", the data's are ", shape_str(d.input_shape));
  RAVEL_CHECK(out.size() == 1 && out[0] >= d.num_classes, what, " has outputs of shape ",
              shape_str(out), ", expected [", d.num_classes, "] for the data's classes");
}

int run_train(TrainArgs a) {
  using clock = std::chrono::steady_clock;
  if (a.threads > 0) set_num_threads(a.threads);
  manual_seed(a.data.seed);
  if (a.resume && a.out.empty()) throw UsageError("--resume needs --out DIR (the run to continue)");
  if (!a.load.empty() && a.resume) throw UsageError("--load and --resume do not go together");
  keras::CompileOptions step_options;  // jit_compile and mixed_precision from --eager, --bf16
  a.step.apply(step_options);

  const auto zoo = models::names();
  if (a.load.empty() && !a.resume && std::find(zoo.begin(), zoo.end(), a.model) == zoo.end())
    throw UsageError("--model: unknown model '" + a.model + "' (see --help for the zoo names)");

  LoadedData d = load_data(a.data, true);
  const std::string model_label = a.load.empty() ? a.model : fs::path(a.load).stem().string();
  if (a.out.empty()) a.out = "runs/" + model_label + "-" + d.name + "-" + timestamp();
  fs::create_directories(a.out);

  // ---- the model: resumed, loaded or new, then compiled
  std::shared_ptr<keras::Model> model;
  int initial_epoch = 0;
  std::map<std::string, std::vector<double>> history;
  if (a.resume) {
    std::ifstream f(a.out + "/checkpoint.json");
    RAVEL_CHECK(f && fs::exists(a.out + "/checkpoint.ravel"), "--resume: no checkpoint in ", a.out,
                " (checkpoint.json and checkpoint.ravel)");
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(f);
      initial_epoch = j.at("epoch").get<int>();
      history = j.at("history").get<std::map<std::string, std::vector<double>>>();
    } catch (const nlohmann::json::exception& e) {
      throw Error("--resume: " + a.out + "/checkpoint.json is damaged: " + e.what());
    }
    model = load_model_file(a.out + "/checkpoint.ravel");
    RAVEL_CHECK(model->is_compiled() && model->optimizer(), "--resume: ", a.out,
                "/checkpoint.ravel holds no optimizer state");
  } else {
    model = a.load.empty() ? new_model(a.model, d) : load_model_file(a.load);
  }
  check_fits(*model, d, a.resume ? "the checkpoint" : a.load.empty() ? "--model" : "--load");

  const bool sgd = a.optimizer == "sgd";
  const double lr = a.lr.value_or(sgd ? 0.1 : 1e-3);
  if (!a.resume) {
    keras::OptimizerSpec opt(a.optimizer, {{"lr", lr}});
    if (sgd) {
      opt.options["momentum"] = a.momentum.value_or(0.9);
      opt.options["nesterov"] = opt.options["momentum"] > 0 ? 1 : 0;
    } else if (a.momentum) {
      opt.options["momentum"] = *a.momentum;  // rmsprop; others say it is unknown
    }
    if (a.weight_decay || sgd) opt.options["weight_decay"] = a.weight_decay.value_or(5e-4);
    // Keep a loaded model's loss (it may end in a softmax); new models output logits.
    keras::Loss loss("sparse_categorical_crossentropy", true);
    if (model->is_compiled()) loss = model->compile_options().loss;
    step_options.optimizer = opt;
    step_options.loss = loss;
    step_options.metrics = {"accuracy"};
    model->compile(step_options);
  } else if (model->compile_options().jit_compile != step_options.jit_compile ||
             model->compile_options().mixed_precision != step_options.mixed_precision) {
    // The checkpoint's run had another training step: this session's flags decide, and the
    // optimizer state carries over.
    keras::CompileOptions o = model->compile_options();
    a.step.apply(o);
    optim::StateDict state = model->optimizer()->state_dict();
    model->compile(o);
    model->optimizer()->load_state_dict(state);
  }

  // ---- fit
  auto train_ds = model_inputs(d.train, d.images, a.augment, d.flip_ok);
  auto val_ds = model_inputs(d.validation ? d.validation : d.test, d.images);
  // Whole batches only (the recipe's drop_last): a last batch of one example would break batch
  // norm, and shuffling gives every example its turn over the epochs.
  const int64_t steps_per_epoch = std::max<int64_t>(1, d.train->size() / a.batch_size);
  nlohmann::json info = {{"model", model_label}, {"data", d.name}};
  auto schedule =
      std::make_shared<BatchSchedule>(a.schedule == "constant" ? "" : a.schedule, lr,
                                      steps_per_epoch * a.epochs, steps_per_epoch * initial_epoch);
  const std::string step_kind = a.step.label();
  auto csv = std::make_shared<keras::CSVLogger>(a.out + "/metrics.csv", ',', a.resume);
  auto resume_point = std::make_shared<ResumePoint>(a.out, history, info);
  if (!a.quiet)
    std::printf("%s (%lld parameters) on %s: %lld training, %lld %s examples, %s step -> %s\n",
                model_label.c_str(), static_cast<long long>(model->module()->num_parameters()),
                d.name.c_str(), static_cast<long long>(d.train->size()),
                static_cast<long long>(val_ds->size()), d.validation ? "validation" : "test",
                step_kind.c_str(), a.out.c_str());
  const auto t0 = clock::now();
  model->fit(train_ds, {.epochs = a.epochs,
                        .batch_size = a.batch_size,
                        .validation_dataset = val_ds,
                        .callbacks = {schedule, csv, resume_point},
                        .verbose = a.quiet ? 0 : 1,
                        .initial_epoch = initial_epoch,
                        .seed = a.data.seed,
                        .workers = a.workers,
                        .steps_per_epoch = steps_per_epoch});
  const double seconds = std::chrono::duration<double>(clock::now() - t0).count();

  // ---- test: loss, accuracy, confusion matrix, worst images
  auto [x_test, y_test] = materialize(*model_inputs(d.test, d.images));
  TestResults t = test_model(*model, x_test, y_test);
  const int64_t n = t.probs.shape()[0];

  train::ReportData r;
  r.title = model_label + " on " + d.name;
  r.history = resume_point->history();
  r.class_names = d.class_names;
  r.confusion = t.confusion;
  if (d.images && n > 0) {
    // Lowest probability of the true class first.
    Tensor p_true = gather(t.probs, 1, y_test.unsqueeze(1)).squeeze(1);
    auto order = argsort(p_true).slice(0, 0, std::min<int64_t>(kWorstImages, n));
    std::vector<Tensor> imgs;
    for (int64_t i : order.to_vector<int64_t>()) {
      const int64_t truth = y_test.index({i}).item<int64_t>();
      const int64_t guess = t.pred.index({i}).item<int64_t>();
      imgs.push_back(d.test->get(i).input);
      r.worst_true.push_back(truth);
      r.worst_pred.push_back(guess);
      r.worst_confidence.push_back(t.probs.index({i, guess}).item<float>());
    }
    r.worst_images = stack(imgs);
  }
  const int64_t trained_epochs =
      static_cast<int64_t>(r.history.count("loss") ? r.history.at("loss").size() : 0);
  r.facts = {
      {"model", model_label},
      {"parameters", std::to_string(model->module()->num_parameters())},
      {"dataset", d.name + " (" + std::to_string(d.train->size()) + " train, " +
                      (d.validation ? std::to_string(d.validation->size()) + " validation, " : "") +
                      std::to_string(n) + " test)"},
      {"epochs", std::to_string(trained_epochs)},
      {"batch size", std::to_string(a.batch_size)},
      {"optimizer", a.optimizer + ", lr " + fixed(lr, 4) + ", " + a.schedule + " schedule"},
      {"augmentation",
       d.images && a.augment ? (d.flip_ok ? "random crop, flip" : "random crop") : "none"},
      {"training step", training_step(*model, step_kind)},
      {"training time", fixed(seconds, 1) + " s" + (a.resume ? " (this session)" : "")},
      {"test accuracy", fixed(100 * t.accuracy, 2) + "%"},
      {"test loss", fixed(t.loss, 4)},
      {"seed", std::to_string(a.data.seed)},
  };

  keras::save_model(*model, a.out + "/model.ravel");
  write_labels(a.out + "/labels.txt", d.class_names);
  std::string index = train::write_report(a.out, r);
  std::printf("test accuracy: %.2f%% (loss %.4f)\n", 100 * t.accuracy, t.loss);
  std::printf("report: %s\n", index.c_str());
  return 0;
}

}  // namespace

void add_train(CLI::App& app, int* status) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* sub = app.add_subcommand("train", "train a model and write a report");
  std::string zoo;
  for (const auto& n : models::names()) zoo += (zoo.empty() ? "" : ", ") + n;
  sub->add_option("--model", a->model, "zoo model: " + zoo)->capture_default_str();
  sub->add_option("--load", a->load, "start from a saved model file instead")
      ->excludes(sub->get_option("--model"));
  add_data_options(*sub, a->data);
  sub->add_option("--validation-split", a->data.validation_split,
                  "fraction of the training data held out for validation (default: validate "
                  "on the test data)")
      ->check(CLI::Range(0.0, 0.9));
  sub->add_option("--epochs", a->epochs)->capture_default_str()->check(CLI::Range(1, 100000));
  sub->add_option("--batch-size", a->batch_size)
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  sub->add_option("--optimizer", a->optimizer)
      ->capture_default_str()
      ->check(CLI::IsMember({"sgd", "adam", "adamw", "rmsprop"}));
  sub->add_option("--lr", a->lr, "peak learning rate (default 0.1 for sgd, else 0.001)")
      ->check(positive());
  sub->add_option("--momentum", a->momentum, "sgd (Nesterov; default 0.9), rmsprop")
      ->check(CLI::Range(0.0, 1.0));
  sub->add_option("--weight-decay", a->weight_decay, "(default 5e-4 for sgd)")
      ->check(CLI::Range(0.0, 1.0));
  sub->add_option("--schedule", a->schedule, "learning rate over the run")
      ->capture_default_str()
      ->check(CLI::IsMember({"onecycle", "cosine", "step", "constant"}));
  sub->add_flag("--augment,!--no-augment", a->augment,
                "random crops (and flips) of training images (default on)");
  sub->add_option("--threads", a->threads, "compute threads (default: all cores)")
      ->check(positive());
  sub->add_option("--workers", a->workers, "data loading threads")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  add_step_options(*sub, a->step);
  sub->add_flag("--resume", a->resume, "continue the run in --out from its last epoch");
  sub->add_option("--out", a->out, "report folder (default runs/<model>-<data>-<time>)");
  sub->add_flag("--quiet,-q", a->quiet, "no progress output");
  sub->callback([a, status] { *status = run_train(*a); });
}

}  // namespace ravel::cli
