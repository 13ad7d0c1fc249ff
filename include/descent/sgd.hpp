#pragma once
/// \file
/// Keras-style SGD: plain, momentum or Nesterov, with time-based decay
/// (lecture sections 3 to 5).

#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <string_view>

#include "detail/check.hpp"
#include "detail/kernel.hpp"
#include "detail/optimizer_base.hpp"
#include "nonfinite.hpp"

namespace descent {

/// \brief Stochastic gradient descent with the options of
/// keras.optimizers.SGD(lr, momentum, decay, nesterov), the signature the
/// lecture shows.
///
/// Inputs: lr (α), momentum (μ), nesterov, decay. State: velocity v₀ = 0,
/// allocated only when momentum > 0. Per step t = 1, 2, …:
///
///     lr_t ← lr / (1 + decay·(t − 1))
///     v    ← μ·v − lr_t·g
///     θ    ← θ + v                 (nesterov = false)
///     θ    ← θ + μ·v − lr_t·g      (nesterov = true)
///
/// Keras's form keeps the step inside v. torch.optim.SGD keeps
/// b ← μ·b + g and steps θ ← θ − lr·b (θ ← θ − lr·(g + μ·b) with
/// nesterov); at a constant lr, v = −lr·b, so both give the same iterates
/// up to rounding (dampening 0). They part when lr changes during a run:
/// here the velocity remembers the old rates, in PyTorch it does not.
/// "Minibatch SGD" (lecture section 3) is any optimizer fed the gradient of
/// the mean loss over a minibatch, see MinibatchSampler.
template <typename Scalar_>
class SGD : public detail::OptimizerBase<SGD<Scalar_>, Scalar_> {
  using Base = detail::OptimizerBase<SGD<Scalar_>, Scalar_>;
  friend Base;

 public:
  using Scalar = Scalar_;
  using Index = Eigen::Index;

  struct Options {
    /// Step size α; finite and >= 0. Default 0.01.
    Scalar lr = Scalar(0.01);
    /// Momentum μ; in [0, 1). 0 (the default) is plain SGD.
    Scalar momentum = Scalar(0);
    /// Nesterov's look-ahead form of momentum. Default false.
    bool nesterov = false;
    /// Time-based decay of the step size; finite and >= 0. Default 0.
    Scalar decay = Scalar(0);
    /// What a step does with NaN or ±inf in grad. Default Propagate.
    NonFinite nonfinite = NonFinite::Propagate;
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit SGD(Options options = {}) : Base(checked(options).lr), options_(options) {}

  static constexpr std::string_view kName = "SGD";
  std::string_view name() const noexcept override { return kName; }

 private:
  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    detail::check_unit_interval(kName, "momentum", o.momentum);
    detail::check_nonnegative(kName, "decay", o.decay);
    return o;
  }

  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("momentum", o.momentum);
    f("nesterov", o.nesterov);
    f("decay", o.decay);
    f("nonfinite", o.nonfinite);
  }
  template <typename Self>
  static auto state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.velocity_};
  }
  static bool uses_state(const Options& o) { return o.momentum > Scalar(0); }

  bool has_velocity() const noexcept { return options_.momentum > Scalar(0); }

  void allocate_state(Index n) override {
    if (has_velocity()) velocity_.setZero(n);
  }
  void release_state() noexcept override { velocity_.resize(0); }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t t) noexcept override {
    const Scalar lr_t = static_cast<Scalar>(
        double(this->lr()) / (1.0 + double(options_.decay) * static_cast<double>(t - 1)));
    if (!has_velocity()) {
      this->for_each_element(n, detail::gradient_body(x, g, lr_t));
    } else if (options_.nesterov) {
      this->for_each_element(
          n, detail::velocity_body<true>(x, g, velocity_.data(), options_.momentum, lr_t));
    } else {
      this->for_each_element(
          n, detail::velocity_body<false>(x, g, velocity_.data(), options_.momentum, lr_t));
    }
  }

  Options options_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> velocity_;
};

}  // namespace descent
