#pragma once
/// \file
/// descent::CheckpointError, and the checkpoint format every optimizer and
/// scheduler writes with save() and reads with load().
///
/// A checkpoint is one little-endian byte string:
///
///     offset  size  field
///     0       8     magic "DESCENT\x1a"
///     8       4     format version, u32 (this library writes and reads 1)
///     12      1     object: 1 = optimizer, 2 = scheduler, 3 = weight average,
///                       4 = optimizer wrapper, 5 = loss scaler
///     13      1     scalar size in bytes: 4 = float, 8 = double
///     14      2     length K of the kind name, u16
///     16      K     kind name, ASCII: the class's name(), e.g. "Adam"
///     16+K    8     length P of the payload, u64
///     24+K    P     payload (below)
///     24+K+P  4     CRC-32 (IEEE 802.3, as zlib's crc32) of every byte before it
///
/// Optimizer payload: iterations i64, skipped steps i64, lr f64, state size
/// i64 (−1: no state yet), the options as a count u32 and that many
/// (name length u16, name, value f64) records (enums and bools as their
/// numeric value), then the state arrays as a count u32 and, per array,
/// its length u64 and its elements in the scalar type, then, only for an
/// optimizer that keeps state values (numbers, not arrays: NAdam's
/// mu_product), their count u32 and that many (name length u16, name, value
/// f64) records.
///
/// LBFGS (lbfgs.hpp) writes an optimizer record of kind "LBFGS" with the
/// same fields: iterations is torch's n_iter (L-BFGS iterations), the
/// options are lr, max_iter, max_eval, tolerance_grad, tolerance_change,
/// history_size, min_curvature, line_search and nonfinite; then 3 + 2k
/// state arrays: d and prev_flat_grad (the state size, or empty before the
/// first iteration), ro (k elements, one per stored pair) and the k pairs
/// y, s, oldest first (k <= history_size); then 4 state values: func_evals,
/// t, H_diag and prev_loss.
///
/// Scheduler payload: epoch i64, base lr f64, last lr f64 (of the first
/// optimizer), then the scheduler's own parameters, then, only for a
/// scheduler that drives n > 1 optimizers, n u32 and the base lr f64 and last
/// lr f64 of optimizers 2..n (so a one-optimizer checkpoint is as it always
/// was). The parameters:
///
///     StepLR             step_size i64, gamma f64
///     LambdaLR           none: its function is code, not data, and is given
///                        again at construction
///     MultiStepLR        gamma f64, count u32, milestones i64 each
///     ExponentialLR      gamma f64
///     CosineAnnealingLR  T_max i64, eta_min f64
///     LinearLR           start_factor f64, end_factor f64, total_iters i64
///     ConstantLR         factor f64, total_iters i64
///     SWALR              anneal_epochs i64, anneal_strategy u32 (0 cos,
///                        1 linear), count u32, swa_lr f64 per optimizer
///     OneCycleLR         total_steps i64, pct_start f64, anneal_strategy u32
///                        (0 cos, 1 linear), div_factor f64, final_div_factor
///                        f64, three_phase u32 (0, 1), count u32, max_lr f64
///                        per optimizer
///     SequentialLR       count u32, milestones i64 each, then the children
///     ChainedScheduler   the children
///
/// Children: count u32, then per child its kind name (length u16, ASCII) and
/// its scheduler payload as above (from epoch on). ReduceLROnPlateau, a
/// scheduler record of kind "ReduceLROnPlateau", has a payload of its own:
/// epoch i64, best f64, num_bad_epochs i64, cooldown_counter i64, mode u32
/// (0 min, 1 max), factor f64, patience i64, threshold f64, threshold_mode
/// u32 (0 rel, 1 abs), cooldown i64, eps f64, count n u32, then per
/// optimizer min_lr f64 and last lr f64.
///
/// ScheduleFree (schedule_free.hpp) writes an optimizer record of kind
/// "ScheduleFree" with the same fields: iterations (k), skipped steps, lr,
/// state size; the options method, beta1, beta2, eps, weight_decay,
/// warmup_steps, r, weight_lr_power and nonfinite; 2 state arrays z and v (v
/// empty for SGD); then 3 state values lr_max, weight_sum and train_mode.
///
/// Weight average payload (object 3, kind "WeightAverage"): count i64
/// (updates taken in), size i64 (−1 before the first update), kind u32 (0
/// Ema, 1 Swa), decay f64, overwrite_frequency i64, then the average as
/// length u64 (0 or size) and its elements in the scalar type.
///
/// Optimizer wrapper payload (object 4): the wrapper's state, then the
/// wrapped optimizer's whole checkpoint as length u64 and bytes.
///
///     Lookahead             sync_period i64, slow_step_size f64,
///                           reset_state u32, steps since sync i64, size i64
///                           (−1: none yet), slow weights (length u64: 0 or
///                           size, elements)
///     GradientAccumulation  steps i64, mean u32 (0 SumThenDivide, 1
///                           RunningMean), micro-steps i64, size i64 (−1:
///                           none yet), accumulator (length u64: size if
///                           micro-steps > 0, else 0; elements)
///     MixedPrecision<half>, MixedPrecision<bfloat16> (the low type is in
///                           the kind name) size i64 (−1: none yet), the
///                           float master copy (length u64: 0 or size,
///                           elements as floats)
///
/// Loss scaler payload (object 5, kind "LossScaler", scalar size 4: its
/// scale is a float): init_scale f64, growth_factor f64, backoff_factor f64,
/// growth_interval i64, scale f64 (a float's value), growth tracker i64.

#include <stdexcept>
#include <string>

namespace descent {

/// \brief A checkpoint that cannot be read into the object asked to load it:
/// another kind or scalar type, another format version, truncated or
/// corrupt bytes, or contents that are invalid or do not fit. The object is
/// then left exactly as it was.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace descent
