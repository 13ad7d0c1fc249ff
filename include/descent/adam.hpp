#pragma once
/// \file
/// Adam (lecture section 8).

#include <Eigen/Core>
#include <array>
#include <cmath>
#include <cstdint>
#include <string_view>

#include "detail/check.hpp"
#include "detail/kernel.hpp"
#include "detail/optimizer_base.hpp"
#include "nonfinite.hpp"

namespace descent {

/// \brief Adam (lecture section 8; Kingma & Ba, arXiv:1412.6980): RMSprop plus
/// a moving average of the gradient itself, both bias-corrected.
///
/// Inputs: lr (α), beta1 (β₁), beta2 (β₂), eps (ε), eps_placement. State:
/// m₀ = v₀ = 0. Per step t = 1, 2, …:
///
///     m ← β₁·m + (1 − β₁)·g
///     v ← β₂·v + (1 − β₂)·g²
///     m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
///     θ ← θ − lr·m̂ / √(v̂ + ε)      (InsideSqrt, the lecture's; default)
///     θ ← θ − lr·m̂ / (√v̂ + ε)      (OutsideSqrt, the paper's and PyTorch's)
///
/// The bias corrections are computed once per step in double, as
/// lr/(1 − β₁ᵗ) and 1/(1 − β₂ᵗ) (or 1/√(1 − β₂ᵗ)), so m̂ and v̂ are never
/// stored. With OutsideSqrt this reproduces torch.optim.Adam (amsgrad false,
/// weight_decay 0) to rounding.
template <typename Scalar_>
class Adam : public detail::OptimizerBase<Adam<Scalar_>, Scalar_> {
  using Base = detail::OptimizerBase<Adam<Scalar_>, Scalar_>;
  friend Base;

 public:
  using Scalar = Scalar_;
  using Index = Eigen::Index;

  struct Options {
    /// Step size α; finite and >= 0. Default 0.001.
    Scalar lr = Scalar(0.001);
    /// Decay β₁ of the first-moment average; in [0, 1). Default 0.9.
    Scalar beta1 = Scalar(0.9);
    /// Decay β₂ of the second-moment average; in [0, 1). Default 0.999.
    Scalar beta2 = Scalar(0.999);
    /// ε in the denominator; finite and >= 0. Default 1e-8.
    Scalar eps = Scalar(1e-8);
    /// Where ε enters the denominator. Default InsideSqrt.
    EpsPlacement eps_placement = EpsPlacement::InsideSqrt;
    /// What a step does with NaN or ±inf in grad. Default Propagate.
    NonFinite nonfinite = NonFinite::Propagate;
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit Adam(Options options = {}) : Base(checked(options).lr), options_(options) {}

  static constexpr std::string_view kName = "Adam";
  std::string_view name() const noexcept override { return kName; }

 private:
  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    detail::check_unit_interval(kName, "beta1", o.beta1);
    detail::check_unit_interval(kName, "beta2", o.beta2);
    detail::check_nonnegative(kName, "eps", o.eps);
    return o;
  }

  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("beta1", o.beta1);
    f("beta2", o.beta2);
    f("eps", o.eps);
    f("eps_placement", o.eps_placement);
    f("nonfinite", o.nonfinite);
  }
  template <typename Self>
  static auto state_arrays([[maybe_unused]] Self& s) {
    return std::array{&s.m_, &s.v_};
  }

  void allocate_state(Index n) override {
    m_.setZero(n);
    v_.setZero(n);
  }
  void release_state() noexcept override {
    m_.resize(0);
    v_.resize(0);
  }

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t t) noexcept override {
    const Options& o = options_;
    const double bias1 = 1.0 - std::pow(double(o.beta1), double(t));
    const double bias2 = 1.0 - std::pow(double(o.beta2), double(t));
    const Scalar beta1 = o.beta1, one_minus_beta1 = Scalar(1) - o.beta1;
    const Scalar beta2 = o.beta2, one_minus_beta2 = Scalar(1) - o.beta2;
    const Scalar eps = o.eps;
    const auto step_size = static_cast<Scalar>(double(this->lr()) / bias1);
    Scalar* m = m_.data();
    Scalar* v = v_.data();
    // x ← x − step_size·m / denominator, where v_scale = 1/(1 − β₂ᵗ) scales v
    // inside the root (InsideSqrt) and 1/√(1 − β₂ᵗ) scales √v (OutsideSqrt).
    detail::with_placement(o.eps_placement, [&](auto placement) {
      constexpr bool inside = decltype(placement)::value == EpsPlacement::InsideSqrt;
      const auto v_scale = static_cast<Scalar>(inside ? 1.0 / bias2 : 1.0 / std::sqrt(bias2));
      this->for_each_element(n, [=](auto lanes, Index i) {
        using V = decltype(lanes);
        const V gi = V::load(g + i);
        const V mi = V(beta1) * V::load(m + i) + V(one_minus_beta1) * gi;
        const V vi = V(beta2) * V::load(v + i) + V(one_minus_beta2) * gi * gi;
        mi.store(m + i);
        vi.store(v + i);
        const V denom = inside ? sqrt(vi * V(v_scale) + V(eps)) : sqrt(vi) * V(v_scale) + V(eps);
        (V::load(x + i) - V(step_size) * mi / denom).store(x + i);
      });
    });
  }

  Options options_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> m_;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> v_;
};

}  // namespace descent
