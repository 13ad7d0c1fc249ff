#pragma once
/// \file
/// Everything in descent: the optimizers, the learning-rate schedulers and the
/// minibatch sampler.

#include "version.hpp"

#include "eps_placement.hpp"
#include "momentum_form.hpp"
#include "optimizer.hpp"

// Every optimizer, through the one list of them.
#include "detail/registry.hpp"

// Full-batch L-BFGS, whose step takes the function rather than a gradient.
#include "lbfgs.hpp"

#include "clip.hpp"
#include "make_optimizer.hpp"

#include "chained_scheduler.hpp"
#include "constant_lr.hpp"
#include "cosine_annealing_lr.hpp"
#include "exponential_lr.hpp"
#include "lambda_lr.hpp"
#include "linear_lr.hpp"
#include "multi_step_lr.hpp"
#include "one_cycle_lr.hpp"
#include "reduce_lr_on_plateau.hpp"
#include "scheduler.hpp"
#include "sequential_lr.hpp"
#include "step_lr.hpp"

#include "minibatch.hpp"
