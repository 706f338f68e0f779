// Model files and training checkpoints, as safetensors files (layout in
// include/ravel/checkpoint.h).
#include "ravel/checkpoint.h"

#include <algorithm>
#include <bit>
#include <charconv>

#include "ravel/random.h"

namespace ravel {
namespace {

constexpr const char* kModelFormat = "ravel-model";
constexpr const char* kCheckpointFormat = "ravel-checkpoint";
constexpr const char* kVersion = "1";
// Metadata keys ravel writes itself; user metadata (`extra`) may not use them.
constexpr const char* kReserved[] = {"format", "version",   "epoch",
                                     "step",   "optimizer", "scheduler"};
constexpr const char* kRngKey = "rng.default";

bool is_reserved(const std::string& key) {
  return std::any_of(std::begin(kReserved), std::end(kReserved),
                     [&](const char* r) { return key == r; });
}

void check_user_metadata(const std::map<std::string, std::string>& m, const std::string& what) {
  for (const auto& [k, v] : m)
    RAVEL_CHECK(!is_reserved(k), what, ": metadata key '", k,
                "' is reserved (ravel writes format, version, epoch, step, optimizer, scheduler)");
}

void add_part(NamedTensors& out, const std::string& prefix,
              const std::vector<std::pair<std::string, Tensor>>& dict) {
  for (const auto& [name, t] : dict) out.emplace_back(prefix + name, t);
}

std::string meta(const SafetensorsFile& f, const std::string& key) {
  auto it = f.metadata.find(key);
  return it == f.metadata.end() ? "" : it->second;
}

int64_t parse_int(const SafetensorsFile& f, const std::string& key, const std::string& what) {
  const std::string s = meta(f, key);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  RAVEL_CHECK(!s.empty() && ec == std::errc() && end == s.data() + s.size(), what, ": metadata '",
              key, "' is '", s.substr(0, 40), "', expected an integer");
  return v;
}

// The default generator's state as four int64 words: state, inc, has_spare, spare's bits.
Tensor rng_tensor(const GeneratorState& s) {
  return from_vector(std::vector<int64_t>{std::bit_cast<int64_t>(s.state),
                                          std::bit_cast<int64_t>(s.inc), s.has_spare_normal ? 1 : 0,
                                          std::bit_cast<int64_t>(s.spare_normal)});
}

GeneratorState rng_state(const Tensor& t, const std::string& what) {
  RAVEL_CHECK(t.dtype() == DType::Int64 && t.shape() == Shape{4}, what, ": '", kRngKey,
              "' has dtype ", t.dtype(), " and shape ", t.shape(), ", expected int64 [4]");
  const auto w = t.to_vector<int64_t>();
  return {std::bit_cast<uint64_t>(w[0]), std::bit_cast<uint64_t>(w[1]), w[2] != 0,
          std::bit_cast<double>(w[3])};
}

void check_checkpoint_format(const SafetensorsFile& f, const std::string& what) {
  const std::string format = meta(f, "format");
  RAVEL_CHECK(format == kCheckpointFormat, what, ": not a ravel training checkpoint (metadata ",
              "format is '", format, "', expected '", kCheckpointFormat, "'",
              format == kModelFormat ? "; a model file loads with ravel::load" : "", ")");
  RAVEL_CHECK(meta(f, "version") == kVersion, what, ": checkpoint version '", meta(f, "version"),
              "' is not supported (this ravel reads version ", kVersion, ")");
}

// A checkpoint's parts: the tensors under each prefix, with the prefix removed.
struct Parts {
  nn::StateDict model;
  optim::StateDict optimizer, scheduler;
  const Tensor* rng = nullptr;
};

Parts split_parts(const SafetensorsFile& f, const std::string& what) {
  Parts p;
  auto strip = [](const std::string& name, const std::string& prefix, auto& dict, const Tensor& t) {
    if (name.compare(0, prefix.size(), prefix) != 0) return false;
    dict.emplace_back(name.substr(prefix.size()), t);
    return true;
  };
  for (const auto& [name, t] : f.tensors) {
    if (name == kRngKey) {
      p.rng = &t;
      continue;
    }
    if (!strip(name, "model.", p.model, t) && !strip(name, "optimizer.", p.optimizer, t) &&
        !strip(name, "scheduler.", p.scheduler, t))
      detail::throw_error(what, ": unexpected tensor '", name,
                          "' (a checkpoint holds model.*, optimizer.*, scheduler.* and ", kRngKey,
                          ")");
  }
  return p;
}

// That the file holds a part the state will load, saved from the same kind of object.
void check_part(bool wanted, const std::string& saved_name, const char* live_name, bool has_entries,
                const char* part, const std::string& what) {
  if (!wanted) return;
  RAVEL_CHECK(has_entries && !saved_name.empty(), what, ": the checkpoint has no ", part,
              " state ('", part, ".' entries), but TrainingState.", part, " is set (", live_name,
              ")");
  RAVEL_CHECK(saved_name == live_name, what, ": the checkpoint holds ", saved_name, " ", part,
              " state, but the TrainingState's ", part, " is ", live_name);
}

}  // namespace

void save(const nn::Module& model, const std::string& path,
          const std::map<std::string, std::string>& metadata) {
  check_user_metadata(metadata, "save: '" + path + "'");
  auto m = metadata;
  m["format"] = kModelFormat;
  save_safetensors(path, model.state_dict(), m);
}

nn::LoadResult load(nn::Module& model, const std::string& path, bool strict) {
  const std::string what = "load: '" + path + "'";
  SafetensorsFile f = load_safetensors(path);
  nn::StateDict dict;
  if (meta(f, "format") == kCheckpointFormat) {
    check_checkpoint_format(f, what);
    dict = split_parts(f, what).model;
  } else {  // a model file, ravel's or another tool's (any safetensors state dict)
    dict = std::move(f.tensors);
  }
  try {
    return model.load_state_dict(dict, strict);
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
}

void save_checkpoint(const std::string& path, const TrainingState& state) {
  const std::string what = "save_checkpoint: '" + path + "'";
  RAVEL_CHECK(state.model != nullptr, what, ": TrainingState.model is null");
  check_user_metadata(state.extra, what);
  NamedTensors tensors;
  add_part(tensors, "model.", state.model->state_dict());
  std::map<std::string, std::string> m = state.extra;
  if (state.optimizer) {
    add_part(tensors, "optimizer.", state.optimizer->state_dict());
    m["optimizer"] = state.optimizer->name();
  }
  if (state.scheduler) {
    add_part(tensors, "scheduler.", state.scheduler->state_dict());
    m["scheduler"] = state.scheduler->name();
  }
  tensors.emplace_back(kRngKey, rng_tensor(default_generator().state()));
  m["format"] = kCheckpointFormat;
  m["version"] = kVersion;
  m["epoch"] = std::to_string(state.epoch);
  m["step"] = std::to_string(state.step);
  save_safetensors(path, tensors, m);
}

void load_checkpoint(const std::string& path, TrainingState& state) {
  const std::string what = "load_checkpoint: '" + path + "'";
  RAVEL_CHECK(state.model != nullptr, what, ": TrainingState.model is null");
  SafetensorsFile f = load_safetensors(path);
  check_checkpoint_format(f, what);
  const int64_t epoch = parse_int(f, "epoch", what);
  const int64_t step = parse_int(f, "step", what);
  Parts parts = split_parts(f, what);
  RAVEL_CHECK(parts.rng != nullptr, what, ": '", kRngKey, "' is missing");
  const GeneratorState rng = rng_state(*parts.rng, what);
  check_part(state.optimizer != nullptr, meta(f, "optimizer"),
             state.optimizer ? state.optimizer->name() : "", !parts.optimizer.empty(), "optimizer",
             what);
  check_part(state.scheduler != nullptr, meta(f, "scheduler"),
             state.scheduler ? state.scheduler->name() : "", !parts.scheduler.empty(), "scheduler",
             what);

  // The model and the optimizer check their whole dict before changing anything (a chained
  // scheduler may not), and the optimizer loads last: the scheduler and the model are restored
  // from copies when a later part fails, so a bad file leaves the whole state as it was. The
  // model's copy costs one model's memory while loading.
  optim::StateDict scheduler_backup;
  if (state.scheduler) scheduler_backup = state.scheduler->state_dict();
  nn::StateDict model_backup = state.model->state_dict();
  for (auto& [name, t] : model_backup) t = t.clone();
  auto roll_back = [&] {
    state.model->load_state_dict(model_backup);
    if (state.scheduler) state.scheduler->load_state_dict(scheduler_backup);
  };
  try {
    if (state.scheduler) state.scheduler->load_state_dict(parts.scheduler);
    state.model->load_state_dict(parts.model, /*strict=*/true);
    if (state.optimizer) state.optimizer->load_state_dict(parts.optimizer);
  } catch (const Error& e) {
    roll_back();
    throw Error(what + ": " + e.what());
  } catch (...) {
    roll_back();
    throw;
  }
  default_generator().set_state(rng);
  state.epoch = epoch;
  state.step = step;
  state.extra.clear();
  for (const auto& [k, v] : f.metadata)
    if (!is_reserved(k)) state.extra[k] = v;
}

}  // namespace ravel
