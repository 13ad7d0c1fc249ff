#pragma once
/// \file
/// LAMB: Adam's direction, plus weight decay, scaled per tensor by the trust
/// ratio ‖θ‖/‖u‖ (optax.lamb).

#include "detail/check.hpp"
#include "detail/kernel.hpp"
#include "detail/optimizer_base.hpp"
#include "detail/trust_ratio.hpp"
#include "nonfinite.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include <Eigen/Core>

namespace descent {

/// \brief LAMB (You et al., "Large Batch Optimization for Deep Learning:
/// Training BERT in 76 minutes", arXiv:1904.00962, Algorithm 2), as optax.lamb
/// computes it: Adam's bias-corrected direction plus λ·θ, scaled by the
/// ratio of the parameters' norm to that direction's norm over the whole
/// tensor, so that every tensor moves by about lr·‖θ‖ per step whatever its
/// gradient's scale.
///
/// Inputs: lr (α), beta1 (β₁), beta2 (β₂), eps (ε), eps_root (ε̄),
/// weight_decay (λ), decoupled_weight_decay, weight_decay_mask, maximize.
/// State: m₀ = v₀ = 0. Per step t = 1, 2, …, over the step's tensor θ:
///
///     d ← g  (−g with maximize)
///     d ← d + λ·θ                     (L2: decoupled_weight_decay false)
///     m ← (1 − β₁)·d + β₁·m
///     v ← (1 − β₂)·d² + β₂·v
///     u ← (m/(1 − β₁ᵗ)) / (√(v/(1 − β₂ᵗ) + ε̄) + ε)
///     u ← u + λ·θ                     (decoupled_weight_decay: the default)
///     r ← ‖θ‖ / ‖u‖, or 1 where ‖θ‖ = 0 or ‖u‖ = 0
///     θ ← θ − lr·(r·u)
///
/// Both decays apply only where weight_decay_mask is true (optax's `mask`,
/// here one flag per optimizer: a step is one tensor; give a bias or a norm
/// layer's scale its own optimizer, or its own parameter group, with the
/// mask off).
///
/// This is optax.lamb(learning_rate, b1, b2, eps, eps_root, weight_decay,
/// mask) (optax/_src/alias.py: chain(scale_by_adam, add_decayed_weights,
/// scale_by_trust_ratio, scale_by_learning_rate)), whose defaults these are
/// but for lr, which optax requires and descent sets to 0.001. optax computes
/// m̂ = m/(1 − β₁ᵗ) and v̂ = v/(1 − β₂ᵗ) by division; descent forms
/// 1/(1 − β₁ᵗ) and 1/(1 − β₂ᵗ) once per step in double and multiplies, so
/// each element costs one root and one division: the results agree to
/// rounding (tests/test_lamb_lars.cpp). The L2 form is optax's chain with
/// add_decayed_weights first. The lecture does not cover LAMB.
///
/// A step makes two passes over the tensor: the first updates m and v,
/// writes u into a scratch vector and sums θ² and u² (in groups of 64
/// elements, in an order that does not depend on set_threads; see
/// detail/trust_ratio.hpp); the second applies θ ← θ − lr·(r·u). It moves
/// 10 scalars per element (read θ, g, m, v, write m, v, u; read θ, u, write
/// θ), against Adam's 7, and keeps 3 vectors (m, v, u) of the parameters'
/// size; only m and v are in a checkpoint.
///
/// Since r is a norm of the whole step, LAMB cannot be stepped in pieces:
/// stepping a concatenation is not stepping its parts (descent::mpi::Sharded
/// refuses it; mpi::DataParallel works).
template <typename Scalar_>
class LAMB : public detail::OptimizerBase<LAMB<Scalar_>, Scalar_> {
  using Base = detail::OptimizerBase<LAMB<Scalar_>, Scalar_>;
  friend Base;

 public:
  /// float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;

  /// \brief The hyperparameters, in the order declared; the constructor
  /// checks them. The defaults are optax.lamb's (but lr, see the class).
  struct Options {
    /// Step size α; finite and >= 0. Default 0.001.
    Scalar lr = Scalar(0.001);
    /// Decay β₁ of the first-moment average; in [0, 1). Default 0.9.
    Scalar beta1 = Scalar(0.9);
    /// Decay β₂ of the second-moment average; in [0, 1). Default 0.999.
    Scalar beta2 = Scalar(0.999);
    /// ε added to the root; finite and >= 0. Default 1e-6.
    Scalar eps = Scalar(1e-6);
    /// ε̄ added to v̂ under the root; finite and >= 0. Default 0.
    Scalar eps_root = Scalar(0);
    /// Weight decay λ; finite and >= 0. Default 0.
    Scalar weight_decay = Scalar(0);
    /// Add λ·θ to Adam's direction, inside the trust ratio (optax's and the
    /// paper's) rather than to the gradient. Default true.
    bool decoupled_weight_decay = true;
    /// Whether this tensor is decayed at all (optax's mask, for one
    /// tensor). Default true.
    bool weight_decay_mask = true;
    /// Ascend instead of descend (d = −g). Default false.
    bool maximize = false;
    /// What a step does with NaN or ±inf in grad. Default Propagate.
    NonFinite nonfinite = NonFinite::Propagate;

    /// optax.lamb(learning_rate=0.001): the defaults.
    static Options optax() { return {}; }
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit LAMB(Options options = {}) : Base(checked(options).lr), options_(options) {}

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "LAMB";
  /// The class name, kName.
  std::string_view name() const noexcept override { return kName; }

  /// The update of an element depends on the whole tensor (its norms), so
  /// the tensor cannot be stepped in pieces.
  static constexpr bool kWholeTensor = true;

  /// Calls f(name, field) for every option of o, in the order declared.
  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("beta1", o.beta1);
    f("beta2", o.beta2);
    f("eps", o.eps);
    f("eps_root", o.eps_root);
    f("weight_decay_mask", o.weight_decay_mask);
    detail::for_each_common_option(o, f);
  }

 private:
  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    detail::check_unit_interval(kName, "beta1", o.beta1);
    detail::check_unit_interval(kName, "beta2", o.beta2);
    detail::check_nonnegative(kName, "eps", o.eps);
    detail::check_nonnegative(kName, "eps_root", o.eps_root);
    detail::check_common_options(kName, o);
    return o;
  }

  template <typename Self>
  static auto state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.m_, &s.v_};
  }
  static constexpr std::array<detail::StateArray, 2> kStateArrays{{{"m", false}, {"v", true}}};

  void allocate_state(Index n) override {
    m_.setZero(n);
    v_.setZero(n);
    u_.resize(n);
    sums_.resize(2 * detail::norm_groups(n));
  }
  void release_state() noexcept override {
    m_.resize(0);
    v_.resize(0);
    u_.resize(0);
    sums_.resize(0);
  }

  // The scratch vectors are not in a checkpoint: after load() they are
  // sized here, before a step changes anything, so that a failed allocation
  // throws from the step.
  std::string shape_error(const TensorShape& s) const override {
    const Index n = s.rows * s.cols;
    if (u_.size() != n) u_.resize(n);
    if (sums_.size() != 2 * detail::norm_groups(n)) sums_.resize(2 * detail::norm_groups(n));
    return {};
  }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t t) noexcept override {
    const Options& o = options_;
    const double bias1 = 1.0 - detail::power(double(o.beta1), double(t));
    const double bias2 = 1.0 - detail::power(double(o.beta2), double(t));
    const auto k1 = static_cast<Scalar>(1.0 / bias1);
    const auto k2 = static_cast<Scalar>(1.0 / bias2);
    const Scalar beta1 = o.beta1, one_minus_beta1 = Scalar(1) - o.beta1;
    const Scalar beta2 = o.beta2, one_minus_beta2 = Scalar(1) - o.beta2;
    const Scalar eps = o.eps, eps_root = o.eps_root;
    const Scalar decay = o.weight_decay_mask ? o.weight_decay : Scalar(0);
    const bool decoupled = o.decoupled_weight_decay && decay != Scalar(0);
    const detail::GradientAdjust<Scalar> adjust{o.maximize ? Scalar(-1) : Scalar(1),
                                                o.decoupled_weight_decay ? Scalar(0) : decay,
                                                Scalar(1)};
    Scalar* m = m_.data();
    Scalar* v = v_.data();
    Scalar* u = u_.data();
    const detail::SquareSums<Scalar> sums(sums_.data(), n);
    detail::with_flag(adjust.active(), [&](auto active) {
      detail::with_flag(decoupled, [&](auto add_decay) {
        this->for_each_element(n, [=](auto lanes, Index i) {
          using V = decltype(lanes);
          V xi = V::load(x + i);
          const V di = adjust.template operator()<active()>(V::load(g + i), xi);
          const V mi = V(one_minus_beta1) * di + V(beta1) * V::load(m + i);
          const V vi = V(one_minus_beta2) * (di * di) + V(beta2) * V::load(v + i);
          mi.store(m + i);
          vi.store(v + i);
          V ui = (mi * V(k1)) / (sqrt(vi * V(k2) + V(eps_root)) + V(eps));
          if constexpr (add_decay()) ui = ui + V(decay) * xi;
          ui.store(u + i);
          sums.add(i, xi, ui);
        });
      });
    });
    const detail::Norms norms = detail::norms_of(
        sums_.data(), n, [x](Index i) { return x[i]; }, [u](Index i) { return u[i]; });
    const auto ratio = static_cast<Scalar>(detail::trust_ratio(norms.a, norms.b, 1.0, 0.0));
    const Scalar lr = this->lr();
    this->for_each_element(n, [=](auto lanes, Index i) {
      using V = decltype(lanes);
      (V::load(x + i) - V(lr) * (V(ratio) * V::load(u + i))).store(x + i);
    });
  }

  Options options_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> m_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> v_;
  // Scratch: the step's raw update u, and the groups' sums of θ² and u².
  mutable Eigen::Matrix<Scalar, Eigen::Dynamic, 1> u_;
  mutable Eigen::Matrix<double, Eigen::Dynamic, 1> sums_;
};

}  // namespace descent
