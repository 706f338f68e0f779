// Helpers shared by the keras layer sources (not installed).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "ravel/keras/layers.h"

namespace ravel::keras::layer_detail {

nlohmann::json size2_json(Size2 s);              // [h, w]
Size2 size2_from_json(const nlohmann::json& j);  // [h, w] or one number
std::string shape_str(const Shape& s);           // "[2, 3]"
// Throws "<type>: input shape [..] (batch included) has n dimensions, expected <expected>".
void check_rank(const Layer& layer, const Shape& shape, size_t min_rank, size_t max_rank,
                const char* expected);
// Throws unless x.size(axis) == expected, naming the shape the layer was built for.
void check_dim(const Layer& layer, const Tensor& x, int64_t axis, int64_t expected,
               const char* what);

}  // namespace ravel::keras::layer_detail
