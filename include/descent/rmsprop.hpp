#pragma once
/// \file
/// RMSprop (lecture section 7).

#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <string_view>

#include "detail/check.hpp"
#include "detail/kernel.hpp"
#include "detail/optimizer_base.hpp"
#include "nonfinite.hpp"

namespace descent {

/// \brief RMSprop (lecture section 7): AdaGrad with the sum of squared
/// gradients replaced by an exponential moving average, so that recent
/// gradients matter most.
///
/// Inputs: lr (α), rho (ρ), eps (ε), eps_placement. State: v₀ = 0. Per step:
///
///     v ← ρ·v + (1 − ρ)·g²
///     θ ← θ − lr·g / √(v + ε)      (InsideSqrt, the lecture's; default)
///     θ ← θ − lr·g / (√v + ε)      (OutsideSqrt)
///
/// The defaults are the lecture's (α = 0.1, ρ = 0.99, ε = 1e-8). With
/// OutsideSqrt this reproduces torch.optim.RMSprop(lr, alpha = ρ, eps)
/// (centered false, momentum 0, weight_decay 0), whose default lr is 0.01.
template <typename Scalar_>
class RMSprop : public detail::OptimizerBase<RMSprop<Scalar_>, Scalar_> {
  using Base = detail::OptimizerBase<RMSprop<Scalar_>, Scalar_>;
  friend Base;

 public:
  using Scalar = Scalar_;
  using Index = Eigen::Index;

  struct Options {
    /// Step size α; finite and >= 0. Default 0.1.
    Scalar lr = Scalar(0.1);
    /// Decay ρ of the moving average; in [0, 1). Default 0.99.
    Scalar rho = Scalar(0.99);
    /// ε in the denominator; finite and >= 0. Default 1e-8.
    Scalar eps = Scalar(1e-8);
    /// Where ε enters the denominator. Default InsideSqrt.
    EpsPlacement eps_placement = EpsPlacement::InsideSqrt;
    /// What a step does with NaN or ±inf in grad. Default Propagate.
    NonFinite nonfinite = NonFinite::Propagate;
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit RMSprop(Options options = {}) : Base(checked(options).lr), options_(options) {}

  static constexpr std::string_view kName = "RMSprop";
  std::string_view name() const noexcept override { return kName; }

 private:
  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    detail::check_unit_interval(kName, "rho", o.rho);
    detail::check_nonnegative(kName, "eps", o.eps);
    return o;
  }

  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("rho", o.rho);
    f("eps", o.eps);
    f("eps_placement", o.eps_placement);
    f("nonfinite", o.nonfinite);
  }
  template <typename Self>
  static auto state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.square_avg_};
  }

  void allocate_state(Index n) override { square_avg_.setZero(n); }
  void release_state() noexcept override { square_avg_.resize(0); }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t) noexcept override {
    const Scalar lr = this->lr();
    const Scalar rho = options_.rho;
    const Scalar one_minus_rho = Scalar(1) - rho;
    const Scalar eps = options_.eps;
    Scalar* v = square_avg_.data();
    detail::with_placement(options_.eps_placement, [&](auto placement) {
      constexpr EpsPlacement P = decltype(placement)::value;
      this->for_each_element(n, [=](auto lanes, Index i) {
        using V = decltype(lanes);
        const V gi = V::load(g + i);
        const V vi = V(rho) * V::load(v + i) + V(one_minus_rho) * gi * gi;
        vi.store(v + i);
        (V::load(x + i) - V(lr) * gi / detail::denominator<P>(vi, V(eps))).store(x + i);
      });
    });
  }

  Options options_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> square_avg_;
};

}  // namespace descent
