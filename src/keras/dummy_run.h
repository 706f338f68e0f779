// Private to the Keras sources: running a layer or model on a dummy batch to learn shapes, as
// Layer's symbolic calls and the models' build both do.
#pragma once
#include <cstdint>
#include <functional>

#include "ravel/keras/layer.h"

namespace ravel::keras::detail {

// Runs fn with every module under m in eval mode and grad mode off (a dummy batch must neither
// update batch statistics nor record a graph), then gives each module its own mode back.
void run_in_eval(nn::Module& m, const std::function<void()>& fn);

ravel::Shape with_batch(const Shape& s, int64_t n = 1);
Shape without_batch(const ravel::Shape& s);

}  // namespace ravel::keras::detail
