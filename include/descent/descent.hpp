#pragma once
/// \file
/// Everything in descent: the optimizers, the learning-rate schedulers, the
/// wrappers (mixed precision with its loss scaler among them) and the
/// minibatch sampler.

#include "chained_scheduler.hpp"
#include "clip.hpp"
#include "constant_lr.hpp"
#include "cosine_annealing_lr.hpp"
#include "cosine_annealing_warm_restarts.hpp"
#include "cyclic_lr.hpp"
#include "detail/registry.hpp"  // every first-order optimizer, through the one list
#include "eps_placement.hpp"
#include "exponential_lr.hpp"
#include "gradient_accumulation.hpp"
#include "lambda_lr.hpp"
#include "lbfgs.hpp"  // full-batch L-BFGS, whose step takes the function
#include "linear_lr.hpp"
#include "lookahead.hpp"
#include "loss_scaler.hpp"
#include "make_optimizer.hpp"
#include "minibatch.hpp"
#include "mixed_precision.hpp"
#include "momentum_form.hpp"
#include "multi_step_lr.hpp"
#include "multiplicative_lr.hpp"
#include "one_cycle_lr.hpp"
#include "optimizer.hpp"
#include "param_groups.hpp"
#include "polynomial_lr.hpp"
#include "reduce_lr_on_plateau.hpp"
#include "row_sparse.hpp"
#include "schedule_free.hpp"
#include "scheduler.hpp"
#include "sequential_lr.hpp"
#include "state_storage.hpp"
#include "step_lr.hpp"
#include "swalr.hpp"
#include "version.hpp"
#include "warmup_cosine_lr.hpp"
#include "weight_average.hpp"
