#pragma once
/// \file
/// LARS: SGD with momentum whose step is scaled per tensor by the trust
/// ratio η·‖θ‖/‖g + λ·θ‖ (optax.lars).

#include "detail/check.hpp"
#include "detail/kernel.hpp"
#include "detail/optimizer_base.hpp"
#include "detail/trust_ratio.hpp"
#include "nonfinite.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <Eigen/Core>

namespace descent {

/// \brief LARS (You, Gitman & Ginsburg, "Large Batch Training of
/// Convolutional Networks", arXiv:1708.03888, Algorithm 1), as optax.lars
/// computes it: the gradient plus λ·θ, scaled by the local learning rate
/// η·‖θ‖/‖d‖ of the whole tensor, then by lr, then accumulated in a momentum
/// trace.
///
/// Inputs: lr (α), momentum (μ), nesterov, trust_coefficient (η), eps (ε),
/// trust_ratio_mask, weight_decay (λ), weight_decay_mask, maximize. State:
/// the trace b₀ = 0. Per step, over the step's tensor θ:
///
///     d ← g  (−g with maximize)
///     d ← d + λ·θ                          (weight_decay_mask)
///     r ← η·‖θ‖ / (‖d‖ + ε), or 1 where ‖θ‖ = 0 or ‖d‖ = 0
///     d ← r·d                              (trust_ratio_mask)
///     u ← −lr·d
///     b ← u + μ·b
///     θ ← θ + b                            (nesterov false)
///     θ ← θ + (u + μ·b)                    (nesterov true)
///
/// The masks are optax's weight_decay_mask and trust_ratio_mask for one
/// tensor (a step is one tensor): the paper and optax's examples leave
/// biases and normalization scales out of both; give them their own
/// optimizer, or their own parameter group, with the masks off.
///
/// This is optax.lars(learning_rate, weight_decay, weight_decay_mask,
/// trust_coefficient, eps, trust_ratio_mask, momentum, nesterov)
/// (optax/_src/alias.py: chain(add_decayed_weights,
/// masked(scale_by_trust_ratio), scale_by_learning_rate, trace)), whose
/// defaults these are but for lr, which optax requires and descent sets
/// to 0.1 (a step of lr·η·‖θ‖ = 1e-4·‖θ‖ by default; without the trust
/// ratio, SGD's step). Since the trace accumulates −lr·d, a change of lr affects only the
/// later steps' contributions, as in Keras-form SGD. The weight decay is
/// always added to the gradient, inside the trust ratio (the paper's
/// ∇L + λθ): decoupled_weight_decay must be false. The lecture does not
/// cover LARS.
///
/// With the trust ratio on, a step makes two passes over the tensor: the
/// first sums θ² and d² (in groups of 64 elements, in an order that does not
/// depend on set_threads; see detail/trust_ratio.hpp), the second forms d
/// again and applies the step. It moves 7 scalars per element (read θ, g;
/// read θ, g, b, write b, θ), against SGD-momentum's 5, and no scratch
/// vector of the parameters' size. Without it, one pass of those 5.
///
/// Since r is a norm of the whole step, LARS cannot be stepped in pieces:
/// stepping a concatenation is not stepping its parts (descent::mpi::Sharded
/// refuses it; mpi::DataParallel works).
template <typename Scalar_>
class LARS : public detail::OptimizerBase<LARS<Scalar_>, Scalar_> {
  using Base = detail::OptimizerBase<LARS<Scalar_>, Scalar_>;
  friend Base;

 public:
  /// float or double.
  using Scalar = Scalar_;
  /// Eigen's signed size type.
  using Index = Eigen::Index;

  /// \brief The hyperparameters, in the order declared; the constructor
  /// checks them. The defaults are optax.lars's (but lr, see the class).
  struct Options {
    /// Step size α; finite and >= 0. Default 0.1.
    Scalar lr = Scalar(0.1);
    /// Decay μ of the momentum trace; in [0, 1]. Default 0.9.
    Scalar momentum = Scalar(0.9);
    /// Step from b's look-ahead, u + μ·b. Default false.
    bool nesterov = false;
    /// Trust coefficient η, the ratio's multiplier; finite and >= 0.
    /// Default 0.001.
    Scalar trust_coefficient = Scalar(0.001);
    /// ε added to ‖d‖ in the ratio; finite and >= 0. Default 0.
    Scalar eps = Scalar(0);
    /// Whether this tensor's step is scaled by the trust ratio (optax's
    /// trust_ratio_mask, for one tensor). Default true.
    bool trust_ratio_mask = true;
    /// Weight decay λ, added to the gradient; finite and >= 0. Default 0.
    Scalar weight_decay = Scalar(0);
    /// Must be false: the decay is part of d, inside the trust ratio.
    bool decoupled_weight_decay = false;
    /// Whether this tensor is decayed (optax's weight_decay_mask, for one
    /// tensor). Default true.
    bool weight_decay_mask = true;
    /// Ascend instead of descend (d = −g). Default false.
    bool maximize = false;
    /// What a step does with NaN or ±inf in grad. Default Propagate.
    NonFinite nonfinite = NonFinite::Propagate;

    /// optax.lars(learning_rate=0.1): the defaults.
    static Options optax() { return {}; }
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit LARS(Options options = {}) : Base(checked(options).lr), options_(options) {}

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "LARS";
  /// The class name, kName.
  std::string_view name() const noexcept override { return kName; }

  /// The update of an element depends on the whole tensor (its norms), so
  /// the tensor cannot be stepped in pieces.
  static constexpr bool kWholeTensor = true;

  /// Calls f(name, field) for every option of o, in the order declared.
  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("momentum", o.momentum);
    f("nesterov", o.nesterov);
    f("trust_coefficient", o.trust_coefficient);
    f("eps", o.eps);
    f("trust_ratio_mask", o.trust_ratio_mask);
    f("weight_decay_mask", o.weight_decay_mask);
    detail::for_each_common_option(o, f);
  }

 private:
  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    detail::check_closed_unit_interval(kName, "momentum", o.momentum);
    detail::check_nonnegative(kName, "trust_coefficient", o.trust_coefficient);
    detail::check_nonnegative(kName, "eps", o.eps);
    detail::check_common_options(kName, o);
    if (o.decoupled_weight_decay) {
      detail::throw_invalid_combination(
          kName,
          "decoupled_weight_decay must be false (LARS adds the decay to the gradient, inside the "
          "trust ratio), got true");
    }
    return o;
  }

  template <typename Self>
  static auto state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.trace_};
  }
  static constexpr std::array<detail::StateArray, 1> kStateArrays{{{"trace", false}}};

  void allocate_state(Index n) override {
    trace_.setZero(n);
    sums_.resize(2 * detail::norm_groups(n));
  }
  void release_state() noexcept override {
    trace_.resize(0);
    sums_.resize(0);
  }

  // The sums are not in a checkpoint: after load() they are sized here,
  // before a step changes anything, so that a failed allocation throws from
  // the step.
  std::string shape_error(const TensorShape& s) const override {
    const Index n = s.rows * s.cols;
    if (sums_.size() != 2 * detail::norm_groups(n)) sums_.resize(2 * detail::norm_groups(n));
    return {};
  }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t) noexcept override {
    const Options& o = options_;
    const Scalar decay = o.weight_decay_mask ? o.weight_decay : Scalar(0);
    const detail::GradientAdjust<Scalar> adjust{o.maximize ? Scalar(-1) : Scalar(1), decay,
                                                Scalar(1)};
    Scalar ratio = Scalar(1);
    if (o.trust_ratio_mask) {
      const detail::SquareSums<Scalar> sums(sums_.data(), n);
      detail::with_flag(adjust.active(), [&](auto active) {
        this->for_each_element(n, [=](auto lanes, Index i) {
          using V = decltype(lanes);
          V xi = V::load(x + i);
          const V di = adjust.template operator()<active()>(V::load(g + i), xi);
          sums.add(i, xi, di);
        });
      });
      const Scalar sign = adjust.sign;
      const bool active = adjust.active();
      const detail::Norms norms = detail::norms_of(
          sums_.data(), n, [x](Index i) { return x[i]; },
          [x, g, sign, decay, active](Index i) {
            return active ? sign * g[i] + decay * x[i] : g[i];
          });
      ratio = static_cast<Scalar>(
          detail::trust_ratio(norms.a, norms.b, double(o.trust_coefficient), double(o.eps)));
    }
    const Scalar minus_lr = -this->lr();
    const Scalar mu = o.momentum;
    Scalar* b = trace_.data();
    detail::with_flag(adjust.active(), [&](auto active) {
      detail::with_flag(o.nesterov, [&](auto nesterov) {
        this->for_each_element(n, [=](auto lanes, Index i) {
          using V = decltype(lanes);
          V xi = V::load(x + i);
          const V di = adjust.template operator()<active()>(V::load(g + i), xi);
          const V ui = V(minus_lr) * (V(ratio) * di);
          const V bi = ui + V(mu) * V::load(b + i);
          bi.store(b + i);
          if constexpr (nesterov()) {
            (xi + (ui + V(mu) * bi)).store(x + i);
          } else {
            (xi + bi).store(x + i);
          }
        });
      });
    });
  }

  Options options_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> trace_;
  // Scratch: the groups' sums of θ² and d².
  mutable Eigen::Matrix<double, Eigen::Dynamic, 1> sums_;
};

}  // namespace descent
