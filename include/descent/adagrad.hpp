#pragma once
/// \file
/// AdaGrad (lecture section 6).

#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <string_view>

#include "detail/check.hpp"
#include "detail/kernel.hpp"
#include "detail/optimizer_base.hpp"
#include "nonfinite.hpp"

namespace descent {

/// \brief AdaGrad (lecture section 6): per-coordinate steps that shrink with
/// the sum of the squared gradients seen so far.
///
/// Inputs: lr (α), eps (ε), initial_accumulator (h₀), eps_placement. State:
/// h = h₀. Per step:
///
///     h ← h + g²
///     θ ← θ − lr·g / (√h + ε)      (OutsideSqrt, default)
///     θ ← θ − lr·g / √(h + ε)      (InsideSqrt)
///
/// The lecture writes the step without ε, which is 0/0 for a coordinate whose
/// gradients were all zero; ε makes it 0. The defaults and OutsideSqrt are
/// torch.optim.Adagrad's (lr_decay 0, weight_decay 0), which this reproduces.
/// A step once shrunk never grows again: h only increases.
template <typename Scalar_>
class AdaGrad : public detail::OptimizerBase<AdaGrad<Scalar_>, Scalar_> {
  using Base = detail::OptimizerBase<AdaGrad<Scalar_>, Scalar_>;
  friend Base;

 public:
  using Scalar = Scalar_;
  using Index = Eigen::Index;

  struct Options {
    /// Step size α; finite and >= 0. Default 0.01.
    Scalar lr = Scalar(0.01);
    /// ε in the denominator; finite and >= 0. Default 1e-10.
    Scalar eps = Scalar(1e-10);
    /// Starting value h₀ of every accumulator; finite and >= 0. Default 0.
    Scalar initial_accumulator = Scalar(0);
    /// Where ε enters the denominator. Default OutsideSqrt.
    EpsPlacement eps_placement = EpsPlacement::OutsideSqrt;
    /// What a step does with NaN or ±inf in grad. Default Propagate.
    NonFinite nonfinite = NonFinite::Propagate;
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit AdaGrad(Options options = {}) : Base(checked(options).lr), options_(options) {}

  static constexpr std::string_view kName = "AdaGrad";
  std::string_view name() const noexcept override { return kName; }

 private:
  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    detail::check_nonnegative(kName, "eps", o.eps);
    detail::check_nonnegative(kName, "initial_accumulator", o.initial_accumulator);
    return o;
  }

  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("eps", o.eps);
    f("initial_accumulator", o.initial_accumulator);
    f("eps_placement", o.eps_placement);
    f("nonfinite", o.nonfinite);
  }
  template <typename Self>
  static auto state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.sum_};
  }

  void allocate_state(Index n) override { sum_.setConstant(n, options_.initial_accumulator); }
  void release_state() noexcept override { sum_.resize(0); }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t) noexcept override {
    const Scalar lr = this->lr();
    const Scalar eps = options_.eps;
    Scalar* h = sum_.data();
    detail::with_placement(options_.eps_placement, [&](auto placement) {
      constexpr EpsPlacement P = decltype(placement)::value;
      this->for_each_element(n, [=](auto lanes, Index i) {
        using V = decltype(lanes);
        const V gi = V::load(g + i);
        const V hi = V::load(h + i) + gi * gi;
        hi.store(h + i);
        (V::load(x + i) - V(lr) * gi / detail::denominator<P>(hi, V(eps))).store(x + i);
      });
    });
  }

  Options options_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> sum_;
};

}  // namespace descent
