// save_model / load_model (architecture, compile settings, weights and optimizer state in one
// safetensors file), save_weights / load_weights, and rebuilding models from configs.
//
// File layout: tensors "model.<state_dict key>" and "optimizer.<optimizer state key>"; metadata
// {"format": "ravel-keras-model", "version": "1", "model_config": to_config() as JSON,
//  "compile_config": JSON (when compiled), "optimizer": the optimizer's type (when its state is
//  saved), "warnings": JSON list of what could not be saved (custom losses, metric objects,
//  optimizer factories)}.
#include <cctype>
#include <iostream>
#include <mutex>
#include <new>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "keras/model_internal.h"
#include "ravel/checkpoint.h"
#include "ravel/keras/metrics.h"
#include "ravel/models/zoo.h"
#include "ravel/safetensors.h"

namespace ravel::keras {

using nlohmann::json;

namespace {
constexpr const char* kFormat = "ravel-keras-model";
constexpr const char* kVersion = "1";
constexpr const char* kModelPrefix = "model.";
constexpr const char* kOptimizerPrefix = "optimizer.";

std::string field(const json& c, const char* key) { return c.at(key).get<std::string>(); }

DType dtype_field(const json& c, const char* key) {
  return c.contains(key) ? dtype_from_name(field(c, key)) : DType::Float32;
}

// ---------------------------------------------------------------- models from configs

std::shared_ptr<Layer> sequential_from_config(const json& c) {
  auto m =
      std::make_shared<SequentialModel>(std::vector<std::shared_ptr<Layer>>{}, field(c, "name"));
  const bool has_input_layer = c.contains("input_name");
  if (has_input_layer)
    m->add(std::make_shared<layers::InputLayer>(
        c.at("input_shape").get<Shape>(), dtype_field(c, "input_dtype"), field(c, "input_name")));
  for (const json& l : c.at("layers")) m->add(layer_from_config(l));
  if (c.contains("input_shape") && !has_input_layer)  // built by its first batch
    m->build_inputs({c.at("input_shape").get<Shape>()}, {dtype_field(c, "input_dtype")});
  return m;
}

std::shared_ptr<Layer> functional_from_config(const json& c) {
  const std::string name = field(c, "name");
  std::vector<Symbol> symbols, inputs, outputs;  // symbols by node number
  for (const json& in : c.at("inputs")) {
    inputs.push_back(
        Input(in.at("shape").get<Shape>(), dtype_field(in, "dtype"), field(in, "name")));
    symbols.push_back(inputs.back());
  }
  std::map<std::string, std::shared_ptr<Layer>> layers;
  for (const json& l : c.at("layers")) {
    auto layer = layer_from_config(l);
    RAVEL_CHECK(layers.emplace(layer->name(), layer).second, "Functional \"", name,
                "\": two layers are named \"", layer->name(), "\"");
  }
  auto node_ref = [&](const json& id, const std::string& where) {
    RAVEL_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0 &&
                    id.get<int64_t>() < static_cast<int64_t>(symbols.size()),
                "Functional \"", name, "\": ", where, " refers to node ", id.dump(),
                ", expected the number of an input or of an earlier node (0..", symbols.size(),
                ")");
    return symbols[id.get<size_t>()];
  };
  for (const json& n : c.at("nodes")) {
    const std::string where = "node " + std::to_string(symbols.size());
    auto it = layers.find(field(n, "layer"));
    RAVEL_CHECK(it != layers.end(), "Functional \"", name, "\": ", where, " calls layer \"",
                field(n, "layer"), "\", which is not in \"layers\"");
    std::vector<Symbol> reads;
    for (const json& id : n.at("inputs")) reads.push_back(node_ref(id, where));
    symbols.push_back((*it->second)(reads));
  }
  for (const json& id : c.at("outputs")) outputs.push_back(node_ref(id, "an output"));
  return std::make_shared<detail::FunctionalModel>(inputs, outputs, name);
}

std::shared_ptr<Layer> zoo_from_config(const json& c) {
  const json& o = c.at("options");
  models::ZooOptions z;
  z.num_classes = o.at("num_classes").get<int64_t>();
  z.in_channels = o.at("in_channels").get<int64_t>();
  z.input_size = o.at("input_size").get<int64_t>();
  z.width = o.at("width").get<int64_t>();
  z.zero_init_residual = o.at("zero_init_residual").get<bool>();
  std::optional<Shape> shape;
  if (c.contains("input_shape")) shape = c.at("input_shape").get<Shape>();
  const std::string zoo = field(c, "zoo");
  return std::make_shared<detail::WrappedModel>(models::create(zoo, z), shape, zoo, z,
                                                field(c, "name"));
}

std::shared_ptr<Layer> input_layer_from_config(const json& c) {
  const json& batch_shape = c.at("batch_input_shape");
  RAVEL_CHECK(batch_shape.is_array() && !batch_shape.empty() && batch_shape[0].is_null(),
              "InputLayer: batch_input_shape ", batch_shape.dump(),
              " should be [null, d1, d2, ...] (null: the batch)");
  Shape shape;
  for (size_t i = 1; i < batch_shape.size(); ++i) shape.push_back(batch_shape[i].get<int64_t>());
  return std::make_shared<layers::InputLayer>(shape, dtype_field(c, "dtype"), field(c, "name"));
}

}  // namespace

void detail::register_model_layers() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_layer("Sequential", sequential_from_config);
    register_layer("Functional", functional_from_config);
    register_layer("ZooModel", zoo_from_config);
    register_layer("InputLayer", input_layer_from_config);
  });
}

// ---------------------------------------------------------------- compile settings

namespace {

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

json loss_to_json(const Loss& l, const std::string& what, std::vector<std::string>& warnings) {
  if (l.fn) {
    warnings.push_back(what + " is a custom function (\"" + l.name +
                       "\"), which cannot be saved; the model loads uncompiled");
    return nullptr;
  }
  return {{"name", l.name}, {"from_logits", l.from_logits}, {"label_smoothing", l.label_smoothing}};
}

json compile_to_json(const Model& model, std::vector<std::string>& warnings) {
  const CompileOptions& o = model.compile_options();
  json c;
  // The optimizer by name with its current options (the option reflection, so a learning rate
  // a callback changed is kept, as Keras' get_config); a factory cannot be saved, but the named
  // optimizer it made can.
  const optim::Optimizer* opt = model.optimizer();
  const bool reflect = opt && opt->num_param_groups() == 1;
  if (!o.optimizer.factory || reflect) {
    std::map<std::string, double> options = o.optimizer.options;
    if (reflect) {
      options.clear();
      for (const auto& n : opt->option_names()) options[n] = opt->option(0, n);
    }
    const std::string name = o.optimizer.factory ? lower(opt->name()) : o.optimizer.name;
    c["optimizer"] = {{"name", name}, {"options", options}};
    if (o.optimizer.factory)
      warnings.push_back("the optimizer factory cannot be saved; saved as \"" + name +
                         "\" with its current options");
  } else {
    c["optimizer"] = nullptr;
    warnings.push_back(
        "the optimizer factory cannot be saved (its optimizer has several parameter groups or "
        "was not created yet); the model loads with Keras' default optimizer and no optimizer "
        "state");
  }
  c["loss"] = loss_to_json(o.loss, "the loss", warnings);
  c["losses"] = json::array();
  for (size_t i = 0; i < o.losses.size(); ++i)
    c["losses"].push_back(loss_to_json(o.losses[i], "loss " + std::to_string(i), warnings));
  c["loss_weights"] = o.loss_weights;
  c["metrics"] = json::array();
  for (const auto& m : o.metrics) {
    if (m.metric) {
      warnings.push_back("metric object \"" + m.metric->name() +
                         "\" cannot be saved; the model loads without it");
      continue;
    }
    c["metrics"].push_back(m.name);
  }
  c["jit_compile"] = o.jit_compile;
  c["mixed_precision"] = dtype_name(o.mixed_precision);
  return c;
}

Loss loss_from_json(const json& j) {
  return Loss(field(j, "name"), j.at("from_logits").get<bool>(),
              j.at("label_smoothing").get<double>());
}

// The compile options a saved config describes; nullopt when a custom loss was left out.
std::optional<CompileOptions> compile_from_json(const json& c) {
  CompileOptions o;
  const json& opt = c.at("optimizer");
  if (!opt.is_null())
    o.optimizer =
        OptimizerSpec(field(opt, "name"), opt.at("options").get<std::map<std::string, double>>());
  if (c.at("loss").is_null()) return std::nullopt;
  o.loss = loss_from_json(c.at("loss"));
  for (const json& l : c.at("losses")) {
    if (l.is_null()) return std::nullopt;
    o.losses.push_back(loss_from_json(l));
  }
  o.loss_weights = c.at("loss_weights").get<std::vector<double>>();
  for (const json& m : c.at("metrics")) o.metrics.emplace_back(m.get<std::string>());
  // Files from before jit_compile have neither: eager, float32.
  o.jit_compile = c.value("jit_compile", false);
  o.mixed_precision = dtype_from_name(c.value("mixed_precision", std::string("float32")));
  return o;
}

std::string meta(const SafetensorsFile& f, const std::string& key) {
  auto it = f.metadata.find(key);
  return it == f.metadata.end() ? "" : it->second;
}

json parse_meta(const SafetensorsFile& f, const std::string& key) {
  RAVEL_CHECK(f.metadata.count(key), "metadata '", key, "' is missing");
  try {
    return json::parse(meta(f, key));
  } catch (const json::exception& e) {
    ravel::detail::throw_error("metadata '", key, "' is not valid JSON (", e.what(), ")");
  }
}

// The entries under `prefix`, with the prefix removed.
NamedTensors part(const NamedTensors& tensors, const std::string& prefix) {
  NamedTensors out;
  for (const auto& [name, t] : tensors)
    if (name.compare(0, prefix.size(), prefix) == 0)
      out.emplace_back(name.substr(prefix.size()), t);
  return out;
}

// Models nest models; a hostile file could nest them deep enough to overflow the stack while
// they are rebuilt (one frame chain per level), so the depth of the JSON is bounded first.
void check_depth(const json& j, const std::string& key) {
  constexpr int kMaxDepth = 256;
  std::vector<std::pair<const json*, int>> todo{{&j, 1}};
  while (!todo.empty()) {
    auto [node, depth] = todo.back();
    todo.pop_back();
    RAVEL_CHECK(depth <= kMaxDepth, "metadata '", key, "' nests deeper than ", kMaxDepth,
                " levels");
    if (node->is_structured())
      for (const json& child : *node) todo.emplace_back(&child, depth + 1);
  }
}

void check_built(const Model& model, const std::string& what) {
  RAVEL_CHECK(model.is_built(), what, ": model \"", model.name(),
              "\" is not built, so it has no weights yet; build it (build_input(shape)), start it "
              "with an InputLayer, or call it on a batch first");
}

}  // namespace

// ---------------------------------------------------------------- save / load

void save_model(Model& model, const std::string& path, bool include_optimizer) {
  const std::string what = "save_model: '" + path + "'";
  check_built(model, what);
  std::map<std::string, std::string> m{{"format", kFormat}, {"version", kVersion}};
  std::vector<std::string> warnings;
  try {
    m["model_config"] = model.to_config().dump();
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
  NamedTensors tensors;
  for (const auto& [name, t] : model.state_dict()) tensors.emplace_back(kModelPrefix + name, t);
  if (model.is_compiled()) {
    json c = compile_to_json(model, warnings);
    m["compile_config"] = c.dump();
    if (include_optimizer && model.optimizer() && !c["optimizer"].is_null()) {
      for (const auto& [name, t] : model.optimizer()->state_dict())
        tensors.emplace_back(kOptimizerPrefix + name, t);
      m["optimizer"] = model.optimizer()->name();
    }
  }
  if (!warnings.empty()) {
    m["warnings"] = json(warnings).dump();
    for (const auto& w : warnings) std::cerr << what << ": warning: " << w << "\n";
  }
  save_safetensors(path, tensors, m);
}

std::shared_ptr<Model> load_model(const std::string& path) {
  const std::string what = "load_model: '" + path + "'";
  detail::register_model_layers();
  SafetensorsFile f = load_safetensors(path);
  try {
    const std::string format = meta(f, "format");
    RAVEL_CHECK(format == kFormat, "not a saved Keras-level model (metadata 'format' is '", format,
                "', expected '", kFormat, "'",
                format == "ravel-model" ? "; a weights file loads with load_weights" : "", ")");
    RAVEL_CHECK(meta(f, "version") == kVersion, "metadata 'version' is '", meta(f, "version"),
                "', this ravel reads version ", kVersion);
    for (const auto& [name, t] : f.tensors)
      RAVEL_CHECK(name.rfind(kModelPrefix, 0) == 0 || name.rfind(kOptimizerPrefix, 0) == 0,
                  "unexpected tensor '", name, "' (a model file holds ", kModelPrefix, "* and ",
                  kOptimizerPrefix, "*)");

    std::shared_ptr<Model> model;
    const json config = parse_meta(f, "model_config");
    check_depth(config, "model_config");
    try {
      model = std::dynamic_pointer_cast<Model>(layer_from_config(config));
      RAVEL_CHECK(model != nullptr, "the config describes a ", config.value("type", "?"),
                  " layer, not a model");
      check_built(*model, "the rebuilt model");
    } catch (const Error& e) {
      throw Error(std::string("metadata 'model_config': ") + e.what());
    }
    try {
      model->load_state_dict(part(f.tensors, kModelPrefix), /*strict=*/true);
    } catch (const Error& e) {
      throw Error(std::string("weights: ") + e.what());
    }

    const NamedTensors opt_state = part(f.tensors, kOptimizerPrefix);
    if (f.metadata.count("compile_config")) {
      std::optional<CompileOptions> options;
      try {
        options = compile_from_json(parse_meta(f, "compile_config"));
      } catch (const json::exception& e) {
        ravel::detail::throw_error("metadata 'compile_config': ", e.what());
      } catch (const Error& e) {  // an unknown mixed_precision dtype
        ravel::detail::throw_error("metadata 'compile_config': ", e.what());
      }
      if (options) {
        try {
          model->compile(*options);
        } catch (const Error& e) {
          throw Error(std::string("metadata 'compile_config': ") + e.what());
        }
        if (!opt_state.empty()) {
          optim::Optimizer* opt = model->optimizer();
          RAVEL_CHECK(opt != nullptr, "compile() made no optimizer to load the state into");
          RAVEL_CHECK(meta(f, "optimizer") == opt->name(), "metadata 'optimizer' is '",
                      meta(f, "optimizer"), "', but compiling made a ", opt->name(), " optimizer");
          try {
            opt->load_state_dict(opt_state);
          } catch (const Error& e) {
            throw Error(std::string("optimizer state: ") + e.what());
          }
        }
      }
    } else {
      RAVEL_CHECK(opt_state.empty(), "optimizer state without metadata 'compile_config'");
    }
    return model;
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  } catch (const json::exception& e) {
    throw Error(what + ": " + e.what());
  } catch (const std::bad_alloc&) {
    // A hostile config can ask for layers or inputs far larger than memory.
    throw Error(what +
                ": the model it describes does not fit in memory (a corrupt or hostile "
                "config: check its shapes and layer sizes)");
  } catch (const std::length_error& e) {
    throw Error(what + ": the model it describes is too large (" + e.what() + ")");
  }
}

void save_weights(Model& model, const std::string& path) {
  check_built(model, "save_weights: '" + path + "'");
  save(model, path);
}

void load_weights(Model& model, const std::string& path) {
  const std::string what = "load_weights: '" + path + "'";
  check_built(model, what);
  SafetensorsFile f = load_safetensors(path);
  if (meta(f, "format") != kFormat) {
    load(model, path);  // a weights file, a checkpoint, or any safetensors state dict
    return;
  }
  try {
    model.load_state_dict(part(f.tensors, kModelPrefix), /*strict=*/true);
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
}

}  // namespace ravel::keras
