#pragma once
/// \file
/// WarmupCosineLR: a linear warm-up, then a cosine decay, in one scheduler
/// (optax's warmup_cosine_decay_schedule, Keras's CosineDecay with warm-up).

#include "detail/check.hpp"
#include "scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace descent {

/// \brief A linear warm-up from init_value to peak_value over warmup_steps
/// steps, then a cosine decay from peak_value to end_value over decay_steps
/// more, then end_value; step() once per optimizer step. Made by optax() as
/// optax.warmup_cosine_decay_schedule or by keras() as
/// keras.optimizers.schedules.CosineDecay with a warm-up, each reproducing
/// its framework's arithmetic.
///
/// With s the step, W = warmup_steps, T = decay_steps (after the warm-up),
/// I = init_value, P = peak_value, α the end as a fraction of P and p the
/// exponent:
///
///     optax: s < W:  lr = (I − P)·(1 − s/W) + P
///            s >= W: c = min(s − W, T), d = ½·(1 + cos(π·c / T)),
///                    lr = P·((1 − α)·d^p + α),  α = end_value / P (0 if P = 0)
///     keras: s < W:  lr = (P − I)·(s/W) + I
///            s >= W: c = min(s − W, T), d = ½·(1 + cos(π·(c/T))),
///                    lr = P·((1 − α)·d + α)
///
/// optax's decay_steps counts the warm-up (the cosine lasts decay_steps −
/// warmup_steps); Keras's does not; optax() and keras() take each
/// framework's own. The optimizers' lr is ignored: every optimizer gets
/// this lr (base_lr() is init_value). Not a SequentialLR or
/// ChainedScheduler child. The optimizers must outlive the scheduler.
template <typename Scalar_>
class WarmupCosineLR : public LRScheduler<Scalar_> {
 public:
  /// The Scalar of the optimizers it drives: float or double.
  using Scalar = Scalar_;

  /// Whose arithmetic the schedule follows.
  enum class Form {
    optax,  ///< optax.warmup_cosine_decay_schedule.
    keras   ///< keras.optimizers.schedules.CosineDecay with warmup_target.
  };

  /// \brief The schedule: optax's warmup_cosine_decay_schedule(init_value,
  /// peak_value, warmup_steps, decay_steps, end_value, exponent).
  /// \param optimizers one optimizer or several (OptimizerList).
  /// \param init_value the lr at step 0; finite and >= 0.
  /// \param peak_value the lr at the end of the warm-up; finite and >= 0.
  /// \param warmup_steps steps of the warm-up; >= 0.
  /// \param decay_steps steps of the whole schedule, warm-up included; >
  ///   warmup_steps.
  /// \param end_value the lr after the decay; finite and >= 0. Default 0.
  /// \param exponent the power p of the cosine; finite and >= 0. Default 1.
  /// \throws std::invalid_argument if an argument is out of range (the
  ///   optimizers are then unchanged).
  static WarmupCosineLR optax(const OptimizerList<Scalar>& optimizers, double init_value,
                              double peak_value, std::int64_t warmup_steps,
                              std::int64_t decay_steps, double end_value = 0.0,
                              double exponent = 1.0) {
    detail::check_at_least(kName, "warmup_steps", warmup_steps, 0);
    if (!(decay_steps > warmup_steps)) {
      detail::throw_invalid(
          kName, "decay_steps",
          "> warmup_steps = " + std::to_string(warmup_steps) + " (optax's counts the warm-up)",
          decay_steps);
    }
    detail::check_nonnegative(kName, "end_value", end_value);
    const double alpha = peak_value == 0.0 ? 0.0 : end_value / peak_value;
    return WarmupCosineLR(optimizers, {Form::optax, init_value, peak_value, warmup_steps,
                                       decay_steps - warmup_steps, alpha, exponent});
  }

  /// \brief The schedule: Keras's CosineDecay(initial_learning_rate,
  /// decay_steps, alpha, warmup_target=peak_value, warmup_steps).
  /// \param optimizers one optimizer or several (OptimizerList).
  /// \param initial_learning_rate the lr at step 0; finite and >= 0.
  /// \param decay_steps steps of the decay, after the warm-up; >= 1.
  /// \param alpha the end lr as a fraction of warmup_target; finite and >= 0.
  /// \param warmup_target the lr at the end of the warm-up; finite and >= 0.
  /// \param warmup_steps steps of the warm-up; >= 0.
  /// \throws std::invalid_argument if an argument is out of range (the
  ///   optimizers are then unchanged).
  static WarmupCosineLR keras(const OptimizerList<Scalar>& optimizers, double initial_learning_rate,
                              std::int64_t decay_steps, double alpha, double warmup_target,
                              std::int64_t warmup_steps) {
    return WarmupCosineLR(optimizers, {Form::keras, initial_learning_rate, warmup_target,
                                       warmup_steps, decay_steps, alpha, 1.0});
  }

  /// Whose arithmetic the schedule follows.
  Form form() const noexcept { return p_.form; }
  /// The lr at step 0.
  double init_value() const noexcept { return p_.init; }
  /// The lr at the end of the warm-up.
  double peak_value() const noexcept { return p_.peak; }
  /// Steps of the warm-up.
  std::int64_t warmup_steps() const noexcept { return p_.warmup; }
  /// Steps of the cosine decay, after the warm-up (optax's decay_steps −
  /// warmup_steps, Keras's decay_steps).
  std::int64_t decay_steps() const noexcept { return p_.decay; }
  /// The end lr as a fraction of peak_value().
  double alpha() const noexcept { return p_.alpha; }
  /// The power of the cosine.
  double exponent() const noexcept { return p_.exponent; }

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "WarmupCosineLR";
  std::string_view name() const noexcept override { return kName; }

 protected:
  bool own_base_lrs() const noexcept override { return true; }

  double compute_lr(std::int64_t e, std::size_t) const override {
    const Params& p = p_;
    const double W = double(p.warmup), T = double(p.decay), s = double(e);
    if (e < p.warmup) {
      if (p.form == Form::optax) return (p.init - p.peak) * (1 - s / W) + p.peak;
      return (p.peak - p.init) * (s / W) + p.init;
    }
    const double c = double(std::min(e - p.warmup, p.decay));
    if (p.form == Form::optax) {
      const double d = 0.5 * (1 + std::cos(kPi * c / T));
      return p.peak * ((1 - p.alpha) * std::pow(d, p.exponent) + p.alpha);
    }
    const double d = 0.5 * (1.0 + std::cos(kPi * (c / T)));
    return p.peak * ((1 - p.alpha) * d + p.alpha);
  }

  void write_params(detail::Writer& w) const override {
    w.u32(static_cast<std::uint32_t>(p_.form));
    w.f64(p_.init);
    w.f64(p_.peak);
    w.i64(p_.warmup);
    w.i64(p_.decay);
    w.f64(p_.alpha);
    w.f64(p_.exponent);
  }

  std::function<void()> stage_params(detail::Reader& r) override {
    const std::uint32_t form = r.u32("form");
    Params p;
    p.init = r.f64("init_value");
    p.peak = r.f64("peak_value");
    p.warmup = r.i64("warmup_steps");
    p.decay = r.i64("decay_steps");
    p.alpha = r.f64("alpha");
    p.exponent = r.f64("exponent");
    r.validate([&] {
      check_form(form);
      p.form = static_cast<Form>(form);
      check(p);
    });
    return [this, p] { p_ = p; };
  }

 private:
  static constexpr double kPi = 3.141592653589793;  // math.pi, jnp.pi

  struct Params {
    Form form = Form::optax;
    double init = 0, peak = 0;
    std::int64_t warmup = 0, decay = 1;
    double alpha = 0, exponent = 1;
  };

  WarmupCosineLR(const OptimizerList<Scalar>& optimizers, const Params& p)
      : LRScheduler<Scalar>(kName, optimizers), p_(p) {
    check(p_);
    this->set_base_lrs(std::vector<Scalar>(this->num_optimizers(), static_cast<Scalar>(p_.init)));
    this->apply(0);
  }

  /// The one check of the constructor and the checkpoint loader (optax()
  /// checks before it what its own arguments add: end_value, and decay_steps
  /// against warmup_steps).
  static void check(const Params& p) {
    check_form(p.form);
    detail::check_nonnegative(kName, "init_value", p.init);
    detail::check_nonnegative(kName, "peak_value", p.peak);
    detail::check_at_least(kName, "warmup_steps", p.warmup, 0);
    detail::check_at_least(kName, "decay_steps", p.decay, 1);
    detail::check_nonnegative(kName, "alpha", p.alpha);
    detail::check_nonnegative(kName, "exponent", p.exponent);
  }

  /// A Form, or the number that stands for one in a checkpoint.
  template <typename T>
  static void check_form(T form) {
    detail::check_enum(kName, "form", form, {"optax", "keras"});
  }

  Params p_;
};

}  // namespace descent
