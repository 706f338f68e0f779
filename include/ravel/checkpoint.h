// Saving and loading models and whole training runs, in the safetensors format (so other tools
// can read ravel's weights).
//
//   ravel::save(*model, "resnet20.safetensors");          // the model's state_dict
//   ravel::load(*model, "resnet20.safetensors");          // strict: names and shapes must match
//
//   // A training checkpoint: model, optimizer, scheduler, epoch, random state -- resuming from it
//   // continues the run exactly as if it had not stopped.
//   ravel::TrainingState st{.model = model.get(), .optimizer = &opt, .scheduler = &sched};
//   st.epoch = epoch + 1;
//   ravel::save_checkpoint("run/last.ckpt", st);
//   ...
//   ravel::load_checkpoint("run/last.ckpt", st);          // fills st.epoch, restores the rest
//   for (int64_t e = st.epoch; e < epochs; ++e) ...
//
// Layout of a checkpoint file: tensors "model.<name>", "optimizer.<name>", "scheduler.<name>",
// "rng.default" (the default Generator's state: int64 [state, inc, has_spare, spare's bits]),
// and metadata {"format": "ravel-checkpoint", "version": "1", "epoch": "<n>", "step": "<n>",
// "optimizer": "SGD", "scheduler": "StepLR" (the parts' types, when saved), plus `extra`}.
// Loading checks the format, version and types, that each part the state points to is in the
// file, and that it holds no tensors outside those parts; each part checks its entries before it
// changes anything, and parts already loaded are restored when a later one fails, so a bad file
// throws and leaves model, optimizer, scheduler, generator and `state` as they were.
// load() reads any safetensors state dict (ravel's model files, checkpoints' "model." part,
// files written by PyTorch's safetensors). Writes go to a temporary file "<path>.tmp.XXXXXX"
// renamed into place: a crash mid-save keeps the old file whole, and leaves the temporary file
// behind (ravel never deletes one: another process may be writing it).
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "ravel/nn/module.h"
#include "ravel/optim/optimizer.h"
#include "ravel/optim/scheduler.h"
#include "ravel/safetensors.h"

namespace ravel {

// A model's state_dict as a safetensors file (names as state_dict gives them, metadata
// {"format": "ravel-model"} plus `metadata`).
void save(const nn::Module& model, const std::string& path,
          const std::map<std::string, std::string>& metadata = {});
// strict as Module::load_state_dict. Also accepts a training checkpoint (its "model." part).
nn::LoadResult load(nn::Module& model, const std::string& path, bool strict = true);

struct TrainingState {
  nn::Module* model = nullptr;            // required
  optim::Optimizer* optimizer = nullptr;  // optional parts: saved/restored when set
  optim::LRScheduler* scheduler = nullptr;
  int64_t epoch = 0;  // the next epoch to run
  int64_t step = 0;   // optimizer steps taken
  // User metadata (best accuracy, command line, ...). "= {}" lets designated initialisers leave
  // it out without -Wmissing-field-initializers.
  std::map<std::string, std::string> extra = {};
};

void save_checkpoint(const std::string& path, const TrainingState& state);
// Restores every part that `state` points to, and epoch, step, extra and the default
// Generator's state.
void load_checkpoint(const std::string& path, TrainingState& state);

}  // namespace ravel
