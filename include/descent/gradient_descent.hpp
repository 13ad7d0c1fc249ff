#pragma once
/// \file
/// Steepest descent (lecture section 2).

#include <array>
#include <cstdint>
#include <string_view>

#include "detail/check.hpp"
#include "detail/kernel.hpp"
#include "detail/optimizer_base.hpp"
#include "nonfinite.hpp"

namespace descent {

/// \brief Steepest descent, the plain gradient step (lecture section 2).
///
/// Input: lr (α). No state. Per step:
///
///     θ ← θ − lr·g
///
/// Equals torch.optim.SGD(lr) and SGD<S> with momentum 0 and decay 0.
template <typename Scalar_>
class GradientDescent : public detail::OptimizerBase<GradientDescent<Scalar_>, Scalar_> {
  using Base = detail::OptimizerBase<GradientDescent<Scalar_>, Scalar_>;
  friend Base;

 public:
  using Scalar = Scalar_;
  using Index = Eigen::Index;

  struct Options {
    /// Step size α; finite and >= 0. Default 0.01.
    Scalar lr = Scalar(0.01);
    /// What a step does with NaN or ±inf in grad. Default Propagate.
    NonFinite nonfinite = NonFinite::Propagate;
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit GradientDescent(Options options = {}) : Base(checked(options).lr), options_(options) {}

  static constexpr std::string_view kName = "GradientDescent";
  std::string_view name() const noexcept override { return kName; }

 private:
  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    return o;
  }

  template <typename O, typename F>
  static void for_each_option(O& o, F&& f) {
    f("lr", o.lr);
    f("nonfinite", o.nonfinite);
  }
  template <typename Self>
  static auto state_arrays([[maybe_unused]] Self& s) {
    return std::array<typename Base::Vector*, 0>{};
  }

  void allocate_state(Index) override {}
  void release_state() noexcept override {}

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t) noexcept override {
    this->for_each_element(n, detail::gradient_body(x, g, this->lr()));
  }

  Options options_;
};

}  // namespace descent
