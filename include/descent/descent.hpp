#pragma once
/// \file
/// Everything in descent: the optimizers, gradient clipping, make_optimizer,
/// the learning-rate schedulers and the minibatch sampler.

#include "version.hpp"

#include "eps_placement.hpp"
#include "momentum_form.hpp"
#include "optimizer.hpp"

#include "adagrad.hpp"
#include "adam.hpp"
#include "adamw.hpp"
#include "gradient_descent.hpp"
#include "momentum.hpp"
#include "nesterov.hpp"
#include "rmsprop.hpp"
#include "sgd.hpp"

#include "clip.hpp"
#include "make_optimizer.hpp"

#include "lambda_lr.hpp"
#include "scheduler.hpp"
#include "step_lr.hpp"

#include "minibatch.hpp"
