// The Keras level of ravel: layers that infer their input sizes, Sequential and functional
// models, compile / fit / evaluate / predict, callbacks and metrics.
//
//   #include <ravel/keras.h>
//   using namespace ravel::keras;
//   auto model = Sequential({InputLayer({784}), Dense(128, "relu"), Dense(10, "softmax")});
//   model->compile({.optimizer = "adam", .loss = "sparse_categorical_crossentropy",
//                   .metrics = {"accuracy"}});
//   model->fit(x, y, {.epochs = 5});
#pragma once
#include "ravel/keras/callbacks.h"
#include "ravel/keras/layer.h"
#include "ravel/keras/layers.h"
#include "ravel/keras/metrics.h"
#include "ravel/keras/model.h"
