// Trains a CIFAR-style ResNet on Fashion-MNIST (Debian's dataset-fashion-mnist) with
// augmentation, a one-cycle schedule and a progress bar, evaluates it on the 10,000 test images,
// saves it, and prints the test accuracy. This is ./demo.sh's main job.
//
//   fashion_mnist                               # ResNet-20, 15 epochs
//   fashion_mnist --epochs 3                    # the demo's short run
//   fashion_mnist --model resnet56 --width 32 --epochs 40 --label-smoothing 0.1 --erasing 0.5
//   fashion_mnist --resume run/last.ckpt        # continue an interrupted run
//   fashion_mnist --help
//
// Every epoch ends with a training checkpoint (<out>/last.ckpt); the final model is saved as
// <out>/model.safetensors.
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>

#include "ravel/checkpoint.h"
#include "ravel/compile.h"
#include "ravel/data.h"
#include "ravel/models.h"
#include "ravel/nn.h"
#include "ravel/ops.h"
#include "ravel/optim.h"
#include "ravel/parallel.h"
#include "ravel/train/progress.h"

using namespace ravel;
namespace F = ravel::nn::functional;
namespace T = ravel::data::transforms;

namespace {

struct Config {
  std::string model = "resnet20";
  int64_t width = 0;  // first-stage channels, 0: the model's default
  int64_t epochs = 15, batch_size = 128;
  double lr = 0.1, weight_decay = 5e-4, label_smoothing = 0.0, erasing = 0.0;
  bool augment = true;
  int workers = 2, threads = 0;
  uint64_t seed = 0;
  int64_t train_limit = 0, test_limit = 0;  // 0: the whole split
  std::string data_dir = data::kFashionMnistDir, out = "fashion_mnist_run", resume;
  bool bench = false;  // machine-readable TIME/ACCURACY lines for bench/compare
  bool eager = false;  // the modules' own forward instead of ravel::compile's training step
  bool bf16 = false;   // mixed precision (compiled step in bfloat16, fp32 master weights)
};

const char* kUsage = R"(usage: fashion_mnist [options]
  --model NAME           zoo model (default resnet20; resnet32/44/56/110, preact_resnet20, ...)
  --width N              first-stage channels of a CIFAR ResNet (default 16)
  --epochs N             (default 15)
  --batch-size N         (default 128)
  --lr X                 peak learning rate of the one-cycle schedule (default 0.1)
  --weight-decay X       (default 5e-4)
  --label-smoothing X    (default 0)
  --erasing P            random erasing probability (default 0)
  --no-augment           no random crop / flip
  --workers N            data loader threads (default 2)
  --threads N            compute threads (default: all cores)
  --seed N               (default 0)
  --train-limit N        use the first N training images (default all)
  --test-limit N         evaluate on the first N test images (default all)
  --data DIR             Fashion-MNIST directory (default /usr/share/datasets/fashion-mnist)
  --out DIR              where the checkpoint and model go (default fashion_mnist_run)
  --resume FILE          continue from a training checkpoint
  --bench                print TIME/ACCURACY lines for bench/compare
  --eager                train with the eager modules (default: the compiled training step)
  --bf16                 bfloat16 mixed precision in the compiled step
)";

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "fashion_mnist: %s\n(run with --help for the options)\n", msg.c_str());
  std::exit(2);
}

int64_t parse_int(const std::string& flag, const char* text, int64_t min) {
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(text, &end, 10);
  if (errno || end == text || *end || v < min)
    usage_error(flag + " needs an integer >= " + std::to_string(min) + ", got '" + text + "'");
  return v;
}

double parse_double(const std::string& flag, const char* text, double min, double max) {
  char* end = nullptr;
  double v = std::strtod(text, &end);
  if (end == text || *end || !(v >= min && v <= max))
    usage_error(flag + " needs a number in [" + std::to_string(min) + ", " + std::to_string(max) +
                "], got '" + text + "'");
  return v;
}

Config parse_args(int argc, char** argv) {
  Config c;
  std::map<std::string, std::function<void(const char*)>> with_value = {
      {"--model", [&](const char* v) { c.model = v; }},
      {"--width", [&](const char* v) { c.width = parse_int("--width", v, 1); }},
      {"--epochs", [&](const char* v) { c.epochs = parse_int("--epochs", v, 1); }},
      {"--batch-size", [&](const char* v) { c.batch_size = parse_int("--batch-size", v, 1); }},
      {"--lr", [&](const char* v) { c.lr = parse_double("--lr", v, 1e-8, 10); }},
      {"--weight-decay",
       [&](const char* v) { c.weight_decay = parse_double("--weight-decay", v, 0, 1); }},
      {"--label-smoothing",
       [&](const char* v) { c.label_smoothing = parse_double("--label-smoothing", v, 0, 1); }},
      {"--erasing", [&](const char* v) { c.erasing = parse_double("--erasing", v, 0, 1); }},
      {"--workers", [&](const char* v) { c.workers = parse_int("--workers", v, 0); }},
      {"--threads", [&](const char* v) { c.threads = parse_int("--threads", v, 1); }},
      {"--seed", [&](const char* v) { c.seed = parse_int("--seed", v, 0); }},
      {"--train-limit", [&](const char* v) { c.train_limit = parse_int("--train-limit", v, 1); }},
      {"--test-limit", [&](const char* v) { c.test_limit = parse_int("--test-limit", v, 1); }},
      {"--data", [&](const char* v) { c.data_dir = v; }},
      {"--out", [&](const char* v) { c.out = v; }},
      {"--resume", [&](const char* v) { c.resume = v; }},
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--no-augment") {
      c.augment = false;
    } else if (a == "--bench") {
      c.bench = true;
    } else if (a == "--eager") {
      c.eager = true;
    } else if (a == "--bf16") {
      c.bf16 = true;
    } else if (auto it = with_value.find(a); it != with_value.end()) {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      it->second(argv[++i]);
    } else {
      usage_error("unknown option '" + a + "'");
    }
  }
  return c;
}

// The first `limit` examples (all when limit is 0 or larger than the split).
data::LabelledImages head(data::LabelledImages d, int64_t limit) {
  if (limit > 0 && limit < d.images.shape()[0]) {
    d.images = d.images.slice(0, 0, limit);
    d.labels = d.labels.slice(0, 0, limit);
  }
  return d;
}

// Fraction of the test set classified correctly, in eval mode, in batches of 1000.
double evaluate(nn::Module& model, data::DataLoader& loader) {
  NoGradGuard no_grad;
  model.eval();
  int64_t correct = 0, total = 0;
  for (data::Batch& b : loader) {
    Tensor pred = argmax(model(b.input), 1);
    correct += sum(pred == b.target).item<int64_t>();
    total += b.target.shape()[0];
  }
  model.train();
  return total ? static_cast<double>(correct) / total : 0.0;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg = parse_args(argc, argv);
  try {
    if (cfg.threads > 0) set_num_threads(cfg.threads);
    manual_seed(cfg.seed);

    // ---- data: uint8 images, turned into normalised floats by the loader's workers
    auto train_set =
        head(data::load_fashion_mnist(data::Split::Train, cfg.data_dir), cfg.train_limit);
    auto test_set = head(data::load_fashion_mnist(data::Split::Test, cfg.data_dir), cfg.test_limit);
    const std::vector<double> mean = {0.2860}, std = {0.3530};  // of the training images
    std::vector<T::TransformPtr> train_tf = {std::make_shared<T::ToFloat>()};
    if (cfg.augment) {
      train_tf.push_back(std::make_shared<T::RandomCrop>(28, 2));
      train_tf.push_back(std::make_shared<T::RandomHorizontalFlip>());
    }
    train_tf.push_back(std::make_shared<T::Normalize>(mean, std));
    if (cfg.erasing > 0)
      train_tf.push_back(
          std::make_shared<T::RandomErasing>(T::RandomErasingOptions{.p = cfg.erasing}));
    auto test_tf = std::make_shared<T::Compose>(std::vector<T::TransformPtr>{
        std::make_shared<T::ToFloat>(), std::make_shared<T::Normalize>(mean, std)});

    auto train_ds = std::make_shared<data::TransformDataset>(
        std::make_shared<data::TensorDataset>(train_set.images, train_set.labels),
        T::on_input(std::make_shared<T::Compose>(train_tf)));
    auto test_ds = std::make_shared<data::TransformDataset>(
        std::make_shared<data::TensorDataset>(test_set.images, test_set.labels),
        T::on_input(test_tf));
    data::DataLoader train_loader(train_ds, {.batch_size = cfg.batch_size,
                                             .shuffle = true,
                                             .drop_last = true,
                                             .num_workers = cfg.workers,
                                             .seed = cfg.seed});
    data::DataLoader test_loader(test_ds, {.batch_size = 1000, .num_workers = cfg.workers});

    // ---- model, optimizer, schedule
    auto model = models::create(
        cfg.model, {.num_classes = 10, .in_channels = 1, .input_size = 28, .width = cfg.width});
    // No weight decay on biases and batch-norm parameters (1-D tensors), as is usual.
    std::vector<Tensor> decay, no_decay;
    for (const Tensor& p : model->parameters()) (p.ndim() > 1 ? decay : no_decay).push_back(p);
    optim::SGDOptions sgd{
        .lr = cfg.lr, .momentum = 0.9, .weight_decay = cfg.weight_decay, .nesterov = true};
    optim::SGD opt(decay, sgd);
    sgd.weight_decay = 0;
    opt.add_param_group(no_decay, sgd);
    // The training step: compiled (ravel/compile.h: one oneDNN program per step, fp32 or bf16
    // mixed precision) or the modules' own forward; both train the same parameters.
    if (cfg.eager && cfg.bf16) usage_error("--bf16 needs the compiled step (drop --eager)");
    std::shared_ptr<nn::Module> step_model = model;
    if (!cfg.eager)
      step_model = compile(model, zeros({cfg.batch_size, 1, 28, 28}),
                           {.dtype = cfg.bf16 ? DType::BFloat16 : DType::Float32});
    const int64_t steps_per_epoch = train_loader.num_batches();
    RAVEL_CHECK(steps_per_epoch > 0, "the training set (", train_set.images.shape()[0],
                " images) is smaller than one batch (", cfg.batch_size, ")");
    optim::OneCycleLR sched(opt, cfg.lr, cfg.epochs * steps_per_epoch, {.pct_start = 0.25});

    TrainingState state{.model = model.get(), .optimizer = &opt, .scheduler = &sched};
    if (!cfg.resume.empty()) {
      load_checkpoint(cfg.resume, state);
      std::printf("resumed from %s at epoch %lld\n", cfg.resume.c_str(),
                  static_cast<long long>(state.epoch + 1));
    }
    ::mkdir(cfg.out.c_str(), 0755);
    if (!cfg.bench)
      std::printf("%s (%lld parameters) on Fashion-MNIST: %lld training, %lld test images\n",
                  cfg.model.c_str(), static_cast<long long>(model->num_parameters()),
                  static_cast<long long>(train_set.images.shape()[0]),
                  static_cast<long long>(test_set.images.shape()[0]));

    // ---- train
    double acc = 0, train_seconds = 0;
    for (int64_t epoch = state.epoch; epoch < cfg.epochs; ++epoch) {
      train_loader.set_epoch(epoch);
      train::ProgressBar bar(steps_per_epoch, {.title = "epoch " + std::to_string(epoch + 1) + "/" +
                                                        std::to_string(cfg.epochs),
                                               .interactive = cfg.bench ? 0 : -1,
                                               .stream = cfg.bench ? stderr : stdout});
      for (data::Batch& b : train_loader) {
        opt.zero_grad();
        Tensor logits = (*step_model)(b.input);
        Tensor loss = F::cross_entropy(logits, b.target, {.label_smoothing = cfg.label_smoothing});
        loss.backward();
        opt.step();
        sched.step();
        ++state.step;
        bar.update(b.input.shape()[0], {{"loss", loss.item<double>()}});
      }
      train_seconds += bar.elapsed_seconds();
      acc = evaluate(*model, test_loader);
      bar.finish({{"test_acc", acc}});
      state.epoch = epoch + 1;
      state.extra["test_accuracy"] = std::to_string(acc);
      save_checkpoint(cfg.out + "/last.ckpt", state);
    }
    save(*model, cfg.out + "/model.safetensors", {{"model", cfg.model}});
    if (cfg.bench) {
      std::printf("TIME fmnist_resnet20_epoch %.6f\n", train_seconds / cfg.epochs);
      std::printf("ACCURACY fmnist_resnet20_epoch %.6f\n", acc);
    } else {
      std::printf("model saved to %s/model.safetensors\n", cfg.out.c_str());
      std::printf("test accuracy: %.2f%%\n", 100 * acc);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fashion_mnist: %s\n", e.what());
    return 1;
  }
}
