// Optimizers and learning-rate schedulers (torch.optim): see optim/optimizer.h and
// optim/scheduler.h.
#pragma once
#include "ravel/optim/adadelta.h"
#include "ravel/optim/adagrad.h"
#include "ravel/optim/adam.h"
#include "ravel/optim/lion.h"
#include "ravel/optim/optimizer.h"
#include "ravel/optim/rmsprop.h"
#include "ravel/optim/scheduler.h"
#include "ravel/optim/sgd.h"
