#pragma once
/// \file
/// Steepest descent (lecture section 2).

#include <cstdint>
#include <string_view>

#include "detail/check.hpp"
#include "detail/kernel.hpp"
#include "optimizer.hpp"

namespace descent {

/// \brief Steepest descent, the plain gradient step (lecture section 2).
///
/// Input: lr (α). No state. Per step:
///
///     θ ← θ − lr·g
///
/// Equals torch.optim.SGD(lr) and SGD<S> with momentum 0 and decay 0.
template <typename Scalar_>
class GradientDescent : public Optimizer<Scalar_> {
 public:
  using Scalar = Scalar_;
  using Index = Eigen::Index;

  struct Options {
    /// Step size α; finite and >= 0. Default 0.01.
    Scalar lr = Scalar(0.01);
  };

  /// \throws std::invalid_argument if an option is out of range.
  explicit GradientDescent(Options options = {})
      : Optimizer<Scalar>(checked(options).lr), options_(options) {}

  static constexpr std::string_view kName = "GradientDescent";
  std::string_view name() const noexcept override { return kName; }

  /// The options, with lr as currently set.
  Options options() const { return this->with_current_lr(options_); }

 private:
  static const Options& checked(const Options& o) {
    detail::check_nonnegative(kName, "lr", o.lr);
    return o;
  }

  void allocate_state(Index) override {}
  void release_state() noexcept override {}

  void update(Scalar* x, const Scalar* g, Index n, std::int64_t) noexcept override {
    this->for_each_element(n, detail::gradient_body(x, g, this->lr()));
  }

  Options options_;
};

}  // namespace descent
