#pragma once
/// \file
/// The machinery Momentum and Nesterov share: the lecture's dampened
/// velocity Δ ← β·Δ − (1 − β)·lr·g, applied as a heavy-ball or a look-ahead
/// step.

#include "../nonfinite.hpp"
#include "../state_storage.hpp"
#include "bf16_state.hpp"
#include "check.hpp"
#include "kernel.hpp"
#include "optimizer_base.hpp"

#include <array>
#include <cstdint>
#include <string_view>

#include <Eigen/Core>

namespace descent::detail {

template <typename Scalar_, bool kNesterov>
class DampenedMomentum : public OptimizerBase<DampenedMomentum<Scalar_, kNesterov>, Scalar_> {
  using Base = OptimizerBase<DampenedMomentum<Scalar_, kNesterov>, Scalar_>;
  friend Base;

 public:
  using Scalar = Scalar_;
  using Index = Eigen::Index;

  struct Options {
    /// Step size α; finite and >= 0. Default 0.01.
    Scalar lr = Scalar(0.01);
    /// Inertia β; in [0, 1). Default 0.9.
    Scalar beta = Scalar(0.9);
    /// L2 penalty λ added to the gradient as λ·θ; finite and >= 0. Default 0.
    Scalar weight_decay = Scalar(0);
    /// Apply weight decay as θ ← (1 − lr·λ)·θ before the step instead of
    /// adding λ·θ to the gradient (Loshchilov & Hutter's decoupled form, as
    /// every Keras optimizer does). Default false.
    bool decoupled_weight_decay = false;
    /// Ascend instead of descend (the gradient enters as −g). Default false.
    bool maximize = false;
    /// The type of Δ: Same (Scalar) or BFloat16 (float only).
    /// Default Same.
    StateStorage state_storage = StateStorage::Same;
    /// Round the bfloat16 state stochastically instead of to nearest even;
    /// needs BFloat16. Default false.
    bool stochastic_rounding = false;
    /// Seed of the stochastic rounding's bits, any 32-bit value. Default 0.
    std::uint32_t rounding_seed = 0;
    /// What a step does with NaN or ±inf in grad. Default Propagate.
    NonFinite nonfinite = NonFinite::Propagate;

    /// The lecture's defaults (the default-constructed Options). Neither
    /// PyTorch nor Keras has this dampened form: their momentum is SGD's.
    static Options lecture() { return {}; }
  };

  /// Calls f(name, field) for every option of o, in the order declared.
  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("beta", o.beta);
    for_each_common_option(o, f);
  }

 protected:
  explicit DampenedMomentum(const Options& options)
      : Base(checked(options).lr), options_(options) {}

 private:
  static const Options& checked(const Options& o) {
    const std::string_view name = kNesterov ? "Nesterov" : "Momentum";
    check_nonnegative(name, "lr", o.lr);
    check_unit_interval(name, "beta", o.beta);
    check_storage_options<Scalar>(name, o);
    check_common_options(name, o);
    return o;
  }
  template <typename Self>
  static auto state_arrays(Self& s) {
    return std::array{&s.delta_};
  }
  static constexpr std::array<StateArray, 1> kStateArrays{{{"delta", false}}};

  template <typename Self>
  static auto bf16_state_arrays(Self& s) {
    return std::array{&s.delta16_};
  }

  void allocate_state(Index n) override {
    if (stores_bf16(options_)) {
      delta16_.setZero(n);
    } else {
      delta_.setZero(n);
    }
  }
  void release_state() noexcept override {
    delta_.resize(0);
    delta16_.resize(0);
  }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t t) noexcept override {
    const Scalar beta = options_.beta;
    const Scalar a = (Scalar(1) - beta) * this->lr();
    const auto adjust = GradientAdjust<Scalar>::from(options_, this->lr());
    with_storage<Scalar>(options_, t, this->element_offset(), [&](auto storage) {
      const auto delta = storage(0, delta_, delta16_);
      with_flag(adjust.active(), [&](auto active) {
        this->for_each_element(n, velocity_body<kNesterov, active()>(x, g, delta, beta, a, adjust));
      });
    });
  }

  Options options_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> delta_;
  Bf16Vector delta16_;  // the same, with state_storage BFloat16
};

}  // namespace descent::detail
