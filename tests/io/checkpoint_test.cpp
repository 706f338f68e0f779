// Model files and training checkpoints: save/load of a model and its strictness, a training run
// that resumes bit-exactly from a checkpoint (SGD with momentum and Adam, with a StepLR and
// dropout drawing from the default generator), bad files that must leave everything unchanged,
// and saves killed at random moments that must leave a whole file.
#include "ravel/checkpoint.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <set>

#include "ravel/nn/activation.h"
#include "ravel/nn/container.h"
#include "ravel/nn/conv.h"
#include "ravel/nn/dropout.h"
#include "ravel/nn/functional/loss.h"
#include "ravel/nn/linear.h"
#include "ravel/nn/norm.h"
#include "ravel/ops.h"
#include "ravel/optim/adam.h"
#include "ravel/optim/sgd.h"
#include "ravel/parallel.h"
#include "ravel/random.h"
#include "support/expect_error.h"
#include "support/temp_dir.h"

namespace ravel {
namespace {

namespace fs = std::filesystem;
namespace F = nn::functional;
using testing::expect_error;

class CheckpointTest : public testing::TempDirTest {};

// Conv2d + BatchNorm2d (buffers) + Dropout (draws from the default generator) + Linear, on
// [N, 2, 6, 6] inputs.
std::shared_ptr<nn::Sequential> small_cnn(int64_t classes = 3) {
  return std::make_shared<nn::Sequential>(
      std::make_shared<nn::Conv2d>(2, 4, 3), std::make_shared<nn::BatchNorm2d>(4),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::Dropout>(0.25),
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(4 * 4 * 4, classes));
}

// Same names, dtypes, shapes and bytes.
::testing::AssertionResult same_dict(const std::vector<std::pair<std::string, Tensor>>& a,
                                     const std::vector<std::pair<std::string, Tensor>>& b) {
  if (a.size() != b.size())
    return ::testing::AssertionFailure() << a.size() << " vs " << b.size() << " entries";
  for (size_t i = 0; i < a.size(); ++i) {
    const Tensor x = a[i].second.contiguous(), y = b[i].second.contiguous();
    if (a[i].first != b[i].first || x.dtype() != y.dtype() || x.shape() != y.shape() ||
        std::memcmp(x.raw_data(), y.raw_data(), x.nbytes()) != 0)
      return ::testing::AssertionFailure() << "entry '" << a[i].first << "' differs";
  }
  return ::testing::AssertionSuccess();
}

nn::StateDict cloned(nn::StateDict d) {
  for (auto& [name, t] : d) t = t.clone();
  return d;
}

// A model, its optimizer and a StepLR, built from a seed (of the default generator, which the
// initialisers use).
struct TrainRun {
  std::shared_ptr<nn::Sequential> model;
  std::unique_ptr<optim::Optimizer> opt;
  std::unique_ptr<optim::StepLR> sched;
  TrainingState state;

  TrainRun(const std::string& optimizer, uint64_t seed) {
    manual_seed(seed);
    model = small_cnn();
    if (optimizer == "sgd")
      opt = std::make_unique<optim::SGD>(
          model->parameters(), optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-3});
    else
      opt = std::make_unique<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 0.01});
    sched = std::make_unique<optim::StepLR>(*opt, 2, 0.5);
    state = {.model = model.get(), .optimizer = opt.get(), .scheduler = sched.get()};
  }

  // Steps [from, to): batch i comes from its own generator, the dropout masks from the default
  // one -- so resuming exactly needs the default generator's state too.
  void train(int from, int to) {
    for (int i = from; i < to; ++i) {
      Generator gen(100 + i);
      Tensor x = randn({4, 2, 6, 6}, gen), y = randint(0, 3, {4}, gen);
      opt->zero_grad();
      F::cross_entropy((*model)(x), y).backward();
      opt->step();
      sched->step();
      state.step = i + 1;
    }
  }

  struct Snapshot {
    nn::StateDict model;
    optim::StateDict opt, sched;
    GeneratorState rng;
    int64_t epoch, step;
  };
  Snapshot snapshot() const {
    return {cloned(model->state_dict()), opt->state_dict(), sched->state_dict(),
            default_generator().state(), state.epoch,       state.step};
  }
  ::testing::AssertionResult unchanged_since(const Snapshot& s) const {
    auto r = same_dict(s.model, model->state_dict());
    if (!r) return r << " (model)";
    r = same_dict(s.opt, opt->state_dict());
    if (!r) return r << " (optimizer)";
    r = same_dict(s.sched, sched->state_dict());
    if (!r) return r << " (scheduler)";
    if (!(s.rng == default_generator().state()))
      return ::testing::AssertionFailure() << "the default generator changed";
    if (s.epoch != state.epoch || s.step != state.step)
      return ::testing::AssertionFailure() << "epoch or step changed";
    return ::testing::AssertionSuccess();
  }
};

TEST_F(CheckpointTest, SaveAndLoadAModel) {
  manual_seed(1);
  auto a = small_cnn();
  (*a)(randn({3, 2, 6, 6}));  // training-mode forward: the running statistics move
  save(*a, path("m.safetensors"), {{"note", "hello"}});
  SafetensorsFile f = load_safetensors(path("m.safetensors"));
  EXPECT_EQ(f.metadata.at("format"), "ravel-model");
  EXPECT_EQ(f.metadata.at("note"), "hello");
  EXPECT_TRUE(same_dict(f.tensors, a->state_dict()));  // names as state_dict gives them

  manual_seed(2);
  auto b = small_cnn();
  nn::LoadResult r = load(*b, path("m.safetensors"));
  EXPECT_TRUE(r.missing_keys.empty() && r.unexpected_keys.empty());
  EXPECT_TRUE(same_dict(a->state_dict(), b->state_dict()));
  a->eval();
  b->eval();
  Tensor x = randn({2, 2, 6, 6});
  EXPECT_TRUE(array_equal((*a)(x), (*b)(x)));

  // A checkpoint's model part loads as a model file does.
  TrainingState st{.model = a.get()};
  save_checkpoint(path("c.ckpt"), st);
  manual_seed(3);
  auto c = small_cnn();
  load(*c, path("c.ckpt"));
  EXPECT_TRUE(same_dict(a->state_dict(), c->state_dict()));
}

TEST_F(CheckpointTest, ModelLoadIsStrict) {
  manual_seed(1);
  auto a = small_cnn();
  save(*a, path("m.safetensors"));

  // Other shapes: an error naming the key and both shapes; the model is unchanged.
  auto other = small_cnn(/*classes=*/4);
  const nn::StateDict before = cloned(other->state_dict());
  expect_error([&] { load(*other, path("m.safetensors")); },
               {"load: '", "m.safetensors", "size mismatch for 5.weight", "[3, 64]", "[4, 64]"});
  EXPECT_TRUE(same_dict(before, other->state_dict()));

  // Missing and unexpected keys: strict throws naming them; non-strict loads the rest.
  auto longer = small_cnn();
  longer->push_back(std::make_shared<nn::Linear>(3, 2));
  const nn::StateDict longer_before = cloned(longer->state_dict());
  expect_error([&] { load(*longer, path("m.safetensors")); },
               {"missing key(s)", "6.weight", "6.bias"});
  EXPECT_TRUE(same_dict(longer_before, longer->state_dict()));
  nn::LoadResult r = load(*longer, path("m.safetensors"), /*strict=*/false);
  EXPECT_EQ(r.missing_keys, (std::vector<std::string>{"6.weight", "6.bias"}));
  EXPECT_TRUE(r.unexpected_keys.empty());
  EXPECT_TRUE(array_equal(longer->state_dict()[0].second, a->state_dict()[0].second));

  expect_error(
      [&] {
        save(*a, path("x"), {{"format", "mine"}});
      },
      {"save: '", "metadata key 'format' is reserved"});
  expect_error([&] { load(*a, path("missing")); }, {"load_safetensors", "cannot open"});
}

// Training 6 steps straight, and 3 steps + checkpoint + everything built anew + 3 steps, give
// bit-identical parameters, buffers, optimizer state and learning rate.
TEST_F(CheckpointTest, TrainingResumesExactly) {
  for (const std::string kind : {"sgd", "adam"}) {
    SCOPED_TRACE(kind);
    TrainRun straight(kind, 1);
    straight.train(0, 6);

    TrainRun first(kind, 1);
    first.train(0, 3);
    first.state.epoch = 3;
    first.state.extra = {{"best_accuracy", "0.5"}, {"command", "train --resume"}};
    save_checkpoint(path(kind + ".ckpt"), first.state);

    TrainRun resumed(kind, 2);  // other initial weights, another default generator state
    load_checkpoint(path(kind + ".ckpt"), resumed.state);
    EXPECT_EQ(resumed.state.epoch, 3);
    EXPECT_EQ(resumed.state.step, 3);
    EXPECT_EQ(resumed.state.extra, first.state.extra);
    EXPECT_EQ(resumed.sched->get_last_lr(), first.sched->get_last_lr());
    resumed.train(3, 6);

    EXPECT_TRUE(same_dict(straight.model->state_dict(), resumed.model->state_dict()));
    EXPECT_TRUE(same_dict(straight.opt->state_dict(), resumed.opt->state_dict()));
    EXPECT_TRUE(same_dict(straight.sched->state_dict(), resumed.sched->state_dict()));
    EXPECT_EQ(straight.opt->lr(), resumed.opt->lr());
  }
}

TEST_F(CheckpointTest, BadFilesThrowAndChangeNothing) {
  TrainRun source("sgd", 1);
  source.train(0, 2);
  source.state.epoch = 2;
  const std::string good = path("good.ckpt");
  save_checkpoint(good, source.state);
  // Variants of the good file: f(tensors, metadata) edits them.
  auto variant = [&](const std::string& name, auto&& edit) {
    SafetensorsFile f = load_safetensors(good);
    edit(f.tensors, f.metadata);
    save_safetensors(path(name), f.tensors, f.metadata);
    return path(name);
  };
  auto drop = [](NamedTensors& t, const std::string& prefix) {
    std::erase_if(t, [&](const auto& e) { return e.first.rfind(prefix, 0) == 0; });
  };
  auto replace = [](NamedTensors& t, const std::string& name, Tensor v) {
    for (auto& [n, x] : t)
      if (n == name) x = v;
  };
  using Meta = std::map<std::string, std::string>;

  struct Case {
    std::string file;
    std::vector<std::string> fragments;
  };
  std::vector<Case> cases;
  save(*source.model, path("model.safetensors"));
  cases.push_back({path("model.safetensors"),
                   {"load_checkpoint: '", "not a ravel training checkpoint",
                    "format is 'ravel-model'", "ravel::load"}});
  cases.push_back({variant("format", [](NamedTensors&, Meta& m) { m["format"] = "other"; }),
                   {"format is 'other', expected 'ravel-checkpoint'"}});
  cases.push_back({variant("version", [](NamedTensors&, Meta& m) { m["version"] = "2"; }),
                   {"checkpoint version '2' is not supported"}});
  cases.push_back({variant("epoch", [](NamedTensors&, Meta& m) { m["epoch"] = "3x"; }),
                   {"metadata 'epoch' is '3x', expected an integer"}});
  cases.push_back({variant("no_opt",
                           [&](NamedTensors& t, Meta& m) {
                             drop(t, "optimizer.");
                             m.erase("optimizer");
                           }),
                   {"the checkpoint has no optimizer state ('optimizer.' entries), but "
                    "TrainingState.optimizer is set (SGD)"}});
  cases.push_back({variant("no_sched", [&](NamedTensors& t, Meta&) { drop(t, "scheduler."); }),
                   {"the checkpoint has no scheduler state"}});
  cases.push_back({variant("no_rng", [&](NamedTensors& t, Meta&) { drop(t, "rng."); }),
                   {"'rng.default' is missing"}});
  cases.push_back(
      {variant("bad_rng", [&](NamedTensors& t, Meta&) { replace(t, "rng.default", zeros({4})); }),
       {"'rng.default' has dtype float32 and shape [4], expected int64 [4]"}});
  cases.push_back(
      {variant("stray", [](NamedTensors& t, Meta&) { t.emplace_back("stray", zeros({1})); }),
       {"unexpected tensor 'stray'"}});
  cases.push_back({variant("model_shape", [&](NamedTensors& t,
                                              Meta&) { replace(t, "model.0.weight", zeros({1})); }),
                   {"size mismatch for 0.weight"}});
  cases.push_back({variant("no_model", [&](NamedTensors& t, Meta&) { drop(t, "model."); }),
                   {"missing key(s)", "0.weight"}});
  // These pass every check until the optimizer (loaded last), after the scheduler and the model
  // were loaded: those must be rolled back.
  cases.push_back({variant("opt_shape",
                           [&](NamedTensors& t, Meta&) {
                             replace(t, "optimizer.state.0.momentum_buffer", zeros({2}));
                           }),
                   {"SGD: load_state_dict", "state.0.momentum_buffer"}});
  cases.push_back(
      {variant("opt_key", [&](NamedTensors& t,
                              Meta&) { t.emplace_back("optimizer.state.0.exp_avg", zeros({1})); }),
       {"unknown state 'state.0.exp_avg'"}});
  cases.push_back(
      {variant("sched_key", [&](NamedTensors& t, Meta&) { drop(t, "scheduler.last_epoch"); }),
       {"StepLR: load_state_dict: missing key 'last_epoch'"}});
  {
    TrainRun adam("adam", 1);
    adam.train(0, 1);
    save_checkpoint(path("adam.ckpt"), adam.state);
    cases.push_back({path("adam.ckpt"),
                     {"the checkpoint holds Adam optimizer state, but the TrainingState's "
                      "optimizer is SGD"}});
  }
  fs::copy_file(good, path("truncated.ckpt"));
  fs::resize_file(path("truncated.ckpt"), fs::file_size(good) / 2);
  cases.push_back({path("truncated.ckpt"), {"load_safetensors", "truncated.ckpt"}});

  TrainRun live("sgd", 3);  // a different run, mid-training
  live.train(0, 1);
  live.state.epoch = 7;
  const TrainRun::Snapshot before = live.snapshot();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    expect_error([&] { load_checkpoint(c.file, live.state); }, c.fragments);
    EXPECT_TRUE(live.unchanged_since(before));
  }
  // And the good file still loads into it.
  load_checkpoint(good, live.state);
  EXPECT_TRUE(same_dict(live.model->state_dict(), source.model->state_dict()));
  EXPECT_EQ(live.state.epoch, 2);
}

TEST_F(CheckpointTest, SaveErrors) {
  TrainRun run("sgd", 1);
  run.state.extra = {{"epoch", "5"}};
  expect_error([&] { save_checkpoint(path("a"), run.state); },
               {"save_checkpoint: '", "metadata key 'epoch' is reserved"});
  TrainingState none;
  expect_error([&] { save_checkpoint(path("a"), none); }, "TrainingState.model is null");
  expect_error([&] { load_checkpoint(path("a"), none); }, "TrainingState.model is null");
  run.state.extra.clear();
  expect_error([&] { save_checkpoint(path("no/dir/a"), run.state); }, "cannot create");
}

// A child process saves a checkpoint of a few MB over and over and is SIGKILLed at a random
// moment (0.2 to 4 times the time one save takes: about 5 to 50 ms here); the target must always
// load and be one complete save. Killed writes leave their temporary files ("<path>.tmp.XXXXXX"):
// nothing else can remove them, and a later save leaves them alone (another process may be writing
// one); they are counted here, then removed.
TEST_F(CheckpointTest, SavesKilledMidWayLeaveAWholeFile) {
  auto model = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(512, 512),
                                                std::make_shared<nn::Linear>(512, 512));
  optim::SGD opt(model->parameters(), {.lr = 0.1, .momentum = 0.9});
  (*model)(ones({2, 512})).sum().backward();
  opt.step();  // momentum buffers exist: the file is ~4.2 MB
  const optim::StateDict opt_state = opt.state_dict();
  TrainingState st{.model = model.get(), .optimizer = &opt};
  const std::string target = path("run.ckpt");
  auto fill = [&](int64_t v) {
    NoGradGuard ng;
    for (Tensor& p : model->parameters()) p.fill_(static_cast<double>(v));
    st.step = v;
  };
  fill(0);
  // Kill delays scale with how long a save takes here (sanitizer builds are slower), so some
  // kills land mid-write and some children complete saves first.
  const auto t0 = std::chrono::steady_clock::now();
  save_checkpoint(target, st);
  const double save_us = std::max<double>(
      1000.0,
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());

  auto reader = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(512, 512),
                                                 std::make_shared<nn::Linear>(512, 512));
  optim::SGD reader_opt(reader->parameters(), {.lr = 0.1, .momentum = 0.9});
  TrainingState loaded{.model = reader.get(), .optimizer = &reader_opt};
  std::mt19937 rng(42);
  std::set<int64_t> steps_seen;
  int leftovers = 0;
  for (int round = 1; round <= 8; ++round) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // The child only saves, then _exits (no gtest, no exit handlers). One thread: OpenMP's
      // thread pool does not survive fork.
      try {
        set_num_threads(1);
        for (int64_t k = 1; k < 1000; ++k) {
          fill(round * 1000 + k);
          save_checkpoint(target, st);
        }
      } catch (...) {
        _exit(1);
      }
      _exit(0);
    }
    usleep(static_cast<useconds_t>(save_us * std::uniform_real_distribution<>(0.2, 4.0)(rng)));
    kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;

    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_NO_THROW(load_checkpoint(target, loaded));
    // One complete save: every weight holds the step the metadata names.
    const int64_t step = loaded.step;
    steps_seen.insert(step);
    EXPECT_TRUE(step == 0 || step / 1000 <= round) << step;
    for (const Tensor& p : reader->parameters())
      EXPECT_TRUE(array_equal(p, full_like(p, static_cast<double>(step))));
    EXPECT_TRUE(same_dict(reader_opt.state_dict(), opt_state));
    for (const auto& e : fs::directory_iterator(dir_))
      if (e.path().filename().string().rfind("run.ckpt.tmp.", 0) == 0) {
        ++leftovers;
        fs::remove(e.path());
      }
  }
  EXPECT_GE(steps_seen.size(), 2u);  // the children did complete saves
  RecordProperty("distinct_steps_seen", static_cast<int>(steps_seen.size()));
  RecordProperty("leftover_temp_files", leftovers);
  RecordProperty("one_save_us", static_cast<int>(save_us));
}

}  // namespace
}  // namespace ravel
