#pragma once
/// \file
/// What a step does with a gradient that holds NaN or ±inf.

namespace descent {

/// \brief The `nonfinite` option of every optimizer.
///
/// - Propagate (default): no check, no cost; the NaN or inf flows into params
///   and state as the formulas say.
/// - Throw: std::domain_error naming the first bad index; params and state
///   are untouched.
/// - Skip: the step does nothing (params, state and iterations() untouched)
///   and counts itself in skipped_steps().
///
/// Throw and Skip read the gradient once more before the update.
enum class NonFinite { Propagate, Throw, Skip };

}  // namespace descent
