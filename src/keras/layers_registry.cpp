// Registers every built-in layer type for layer_from_config (run once, from its first call).
// Each factory reads the keys config() writes; a missing key takes the constructor's default.
#include <nlohmann/json.hpp>

#include "layers_internal.h"
#include "ravel/keras/layers.h"

namespace ravel::keras::layer_detail {

namespace {
using json = nlohmann::json;
std::string name_of(const json& c) { return c.value("name", std::string()); }
uint64_t seed_of(const json& c) { return c.value("seed", uint64_t{0}); }
RandomOptions random_options(const json& c, const char* fill_mode) {
  RandomOptions o;
  o.fill_mode = c.value("fill_mode", std::string(fill_mode));
  o.interpolation = c.value("interpolation", o.interpolation);
  o.fill_value = c.value("fill_value", o.fill_value);
  return o;
}
}  // namespace

void register_builtin_layers() {
  register_layer("Dense", [](const json& c) {
    return std::make_shared<layers::Dense>(
        c.at("units").get<int64_t>(), c.value("activation", std::string()),
        DenseOptions{.use_bias = c.value("use_bias", true)}, name_of(c));
  });
  register_layer("Dropout", [](const json& c) {
    return std::make_shared<layers::Dropout>(c.at("rate").get<double>(), name_of(c));
  });
  register_layer("Flatten",
                 [](const json& c) { return std::make_shared<layers::Flatten>(name_of(c)); });
  register_layer("Reshape", [](const json& c) {
    return std::make_shared<layers::Reshape>(c.at("target_shape").get<Shape>(), name_of(c));
  });
  register_layer("Activation", [](const json& c) {
    return std::make_shared<layers::Activation>(c.at("activation").get<std::string>(), name_of(c));
  });
  register_layer("Add", [](const json& c) { return std::make_shared<layers::Add>(name_of(c)); });
  register_layer("Multiply",
                 [](const json& c) { return std::make_shared<layers::Multiply>(name_of(c)); });
  register_layer("Average",
                 [](const json& c) { return std::make_shared<layers::Average>(name_of(c)); });
  register_layer("Concatenate", [](const json& c) {
    return std::make_shared<layers::Concatenate>(c.value("axis", int64_t{-1}), name_of(c));
  });
  register_layer("Rescaling", [](const json& c) {
    return std::make_shared<layers::Rescaling>(c.at("scale").get<double>(), c.value("offset", 0.0),
                                               name_of(c));
  });
  register_layer("Conv2D", [](const json& c) {
    Conv2DOptions o;
    o.strides = size2_from_json(c.value("strides", json(1)));
    o.padding = c.value("padding", std::string("valid"));
    o.activation = c.value("activation", std::string());
    o.use_bias = c.value("use_bias", true);
    o.dilation_rate = size2_from_json(c.value("dilation_rate", json(1)));
    o.groups = c.value("groups", int64_t{1});
    return std::make_shared<layers::Conv2D>(c.at("filters").get<int64_t>(),
                                            size2_from_json(c.at("kernel_size")), o, name_of(c));
  });
  auto pool_options = [](const json& c) {
    PoolOptions o;
    if (c.contains("strides")) o.strides = size2_from_json(c["strides"]);
    o.padding = c.value("padding", std::string("valid"));
    return o;
  };
  register_layer("MaxPooling2D", [pool_options](const json& c) {
    return std::make_shared<layers::MaxPooling2D>(size2_from_json(c.value("pool_size", json(2))),
                                                  pool_options(c), name_of(c));
  });
  register_layer("AveragePooling2D", [pool_options](const json& c) {
    return std::make_shared<layers::AveragePooling2D>(
        size2_from_json(c.value("pool_size", json(2))), pool_options(c), name_of(c));
  });
  register_layer("GlobalAveragePooling2D", [](const json& c) {
    return std::make_shared<layers::GlobalAveragePooling2D>(c.value("keepdims", false), name_of(c));
  });
  register_layer("GlobalMaxPooling2D", [](const json& c) {
    return std::make_shared<layers::GlobalMaxPooling2D>(c.value("keepdims", false), name_of(c));
  });
  register_layer("BatchNormalization", [](const json& c) {
    BatchNormalizationOptions o;
    o.axis = c.value("axis", o.axis);
    o.momentum = c.value("momentum", o.momentum);
    o.epsilon = c.value("epsilon", o.epsilon);
    o.center = c.value("center", o.center);
    o.scale = c.value("scale", o.scale);
    return std::make_shared<layers::BatchNormalization>(o, name_of(c));
  });
  register_layer("Embedding", [](const json& c) {
    return std::make_shared<layers::Embedding>(c.at("input_dim").get<int64_t>(),
                                               c.at("output_dim").get<int64_t>(), name_of(c));
  });
  auto recurrent_options = [](const json& c) {
    RecurrentOptions o;
    o.return_sequences = c.value("return_sequences", false);
    o.go_backwards = c.value("go_backwards", false);
    o.use_bias = c.value("use_bias", true);
    return o;
  };
  register_layer("LSTM", [recurrent_options](const json& c) {
    return std::make_shared<layers::LSTM>(c.at("units").get<int64_t>(), recurrent_options(c),
                                          name_of(c));
  });
  register_layer("GRU", [recurrent_options](const json& c) {
    return std::make_shared<layers::GRU>(c.at("units").get<int64_t>(), recurrent_options(c),
                                         name_of(c));
  });
  register_layer("Normalization", [](const json& c) {
    return std::make_shared<layers::Normalization>(c.value("axis", int64_t{-1}), name_of(c));
  });
  register_layer("RandomFlip", [](const json& c) {
    return std::make_shared<layers::RandomFlip>(
        c.value("mode", std::string("horizontal_and_vertical")), seed_of(c), name_of(c));
  });
  register_layer("RandomCrop", [](const json& c) {
    return std::make_shared<layers::RandomCrop>(
        c.at("height").get<int64_t>(), c.at("width").get<int64_t>(), seed_of(c), name_of(c));
  });
  register_layer("RandomTranslation", [](const json& c) {
    return std::make_shared<layers::RandomTranslation>(
        c.at("height_factor").get<double>(), c.at("width_factor").get<double>(),
        random_options(c, "reflect"), seed_of(c), name_of(c));
  });
  register_layer("RandomRotation", [](const json& c) {
    return std::make_shared<layers::RandomRotation>(
        c.at("factor").get<double>(), random_options(c, "constant"), seed_of(c), name_of(c));
  });
}

}  // namespace ravel::keras::layer_detail
