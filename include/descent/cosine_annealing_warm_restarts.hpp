#pragma once
/// \file
/// CosineAnnealingWarmRestarts, SGDR (lecture section 9).

#include "detail/check.hpp"
#include "scheduler.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace descent {

/// \brief lr = η_min + (base_lr − η_min)·(1 + cos(π·T_cur / T_i)) / 2, with
/// T_cur the epochs since the last restart and T_i the length of the current
/// run, T_0 at first and T_mult times longer after each restart, as
/// torch.optim.lr_scheduler.CosineAnnealingWarmRestarts (SGDR, Loshchilov &
/// Hutter 2017).
///
/// PyTorch's defaults: T_mult 1, η_min 0; T_0 has none. step() advances
/// T_cur by one and restarts (T_cur − T_i, T_i·T_mult) when it reaches T_i,
/// in integers, so the sequence is PyTorch's bit for bit. step(epoch) with a
/// fractional epoch (PyTorch's `scheduler.step(epoch + i / iters)`, once per
/// batch) sets T_cur and T_i by PyTorch's own formula:
///
///     epoch < T_0:   T_i = T_0, T_cur = epoch
///     T_mult = 1:    T_cur = epoch mod T_0
///     otherwise:     n = ⌊log(epoch/T_0·(T_mult − 1) + 1) / log(T_mult)⌋,
///                    T_cur = epoch − T_0·(T_mult^n − 1)/(T_mult − 1),
///                    T_i = T_0·T_mult^n
///
/// and epoch() becomes ⌊epoch⌋; a step() after it adds one to that
/// fractional T_cur, as PyTorch's does. lr_at(e) is the lr of step() at the
/// current epoch and the next; of any other epoch, that of integer steps from
/// epoch 0. Not a ChainedScheduler link (PyTorch's form adds η_min). The
/// optimizers must outlive the scheduler.
template <typename Scalar_>
class CosineAnnealingWarmRestarts : public LRScheduler<Scalar_> {
 public:
  /// The Scalar of the optimizers it drives: float or double.
  using Scalar = Scalar_;

  /// \param optimizers one optimizer or several (OptimizerList).
  /// \param T_0 epochs until the first restart; >= 1.
  /// \param T_mult factor of each next run's length; >= 1. Default 1.
  /// \param eta_min the lowest lr; finite and >= 0. Default 0.
  /// \throws std::invalid_argument if an argument is out of range (the
  ///   optimizers are then unchanged).
  CosineAnnealingWarmRestarts(const OptimizerList<Scalar>& optimizers, std::int64_t T_0,
                              std::int64_t T_mult = 1, double eta_min = 0)
      : LRScheduler<Scalar>(kName, optimizers),
        T_0_(T_0),
        T_mult_(T_mult),
        eta_min_(eta_min),
        t_i_(double(T_0)) {
    check(T_0_, T_mult_, eta_min_);
    this->apply(0);
  }

  using LRScheduler<Scalar_>::step;

  /// \brief Sets every optimizer's lr for the fractional epoch `epoch`, by
  /// PyTorch's formula (see the class); epoch() becomes ⌊epoch⌋.
  /// \param epoch the epoch, e.g. epoch + batch / batches; finite, >= 0
  ///   and below 2^63.
  /// \throws std::invalid_argument if epoch is out of range or the schedule
  ///   gives an invalid lr; the scheduler and optimizers are then unchanged.
  void step(double epoch) {
    if (!(epoch >= 0) || !(epoch < 9223372036854775807.0)) {
      detail::throw_invalid(kName, "epoch", "finite, >= 0 and < 2^63", epoch);
    }
    Position p{epoch, double(T_0_)};
    if (epoch >= double(T_0_)) {
      if (T_mult_ == 1) {
        p.t_cur = std::fmod(epoch, double(T_0_));
      } else {
        const double m = double(T_mult_);
        const double n = std::trunc(std::log(epoch / double(T_0_) * (m - 1) + 1) / std::log(m));
        const double power = std::pow(m, n);  // an integer, exact below 2^53
        p.t_cur = epoch - double(T_0_) * (power - 1) / (m - 1);
        p.t_i = double(T_0_) * power;
      }
    }
    std::vector<double> lrs;
    for (std::size_t i = 0; i < this->num_optimizers(); ++i) lrs.push_back(lr_of(p, i));
    pending_ = p;
    has_pending_ = true;
    try {
      this->set_epoch(static_cast<std::int64_t>(std::floor(epoch)), lrs, {});
    } catch (...) {
      has_pending_ = false;
      throw;
    }
  }

  /// Epochs until the first restart.
  std::int64_t T_0() const noexcept { return T_0_; }
  /// Factor of each next run's length.
  std::int64_t T_mult() const noexcept { return T_mult_; }
  /// The lowest lr, η_min.
  double eta_min() const noexcept { return eta_min_; }
  /// Epochs since the last restart (fractional after step(double)).
  double T_cur() const noexcept { return t_cur_; }
  /// The length of the current run.
  double T_i() const noexcept { return t_i_; }

  /// The class name, as name() returns it and checkpoints record it.
  static constexpr std::string_view kName = "CosineAnnealingWarmRestarts";
  std::string_view name() const noexcept override { return kName; }

 protected:
  double compute_lr(std::int64_t e, std::size_t i) const override { return lr_of(position(e), i); }

  void commit_epoch(std::int64_t e) noexcept override {
    const Position p = has_pending_ ? pending_ : position(e);
    has_pending_ = false;
    t_cur_ = p.t_cur;
    t_i_ = p.t_i;
  }

  void write_params(detail::Writer& w) const override {
    w.i64(T_0_);
    w.i64(T_mult_);
    w.f64(eta_min_);
    w.f64(t_cur_);
    w.f64(t_i_);
  }

  std::function<void()> stage_params(detail::Reader& r) override {
    const std::int64_t T_0 = r.i64("T_0"), T_mult = r.i64("T_mult");
    const double eta_min = r.f64("eta_min"), t_cur = r.f64("T_cur"), t_i = r.f64("T_i");
    r.validate([&] { check(T_0, T_mult, eta_min); });
    // T_i is T_0·T_mult^n, and T_cur in [0, T_i).
    double run = double(T_0);
    while (T_mult > 1 && run < t_i) run *= double(T_mult);
    if (run != t_i || !std::isfinite(t_i)) {
      r.fail("T_i " + detail::to_text(t_i) + " is not T_0·T_mult^n");
    }
    if (!(t_cur >= 0 && t_cur < t_i)) {
      r.fail("T_cur " + detail::to_text(t_cur) + " is not in [0, T_i = " + detail::to_text(t_i) +
             ")");
    }
    return [this, T_0, T_mult, eta_min, t_cur, t_i] {
      T_0_ = T_0;
      T_mult_ = T_mult;
      eta_min_ = eta_min;
      t_cur_ = t_cur;
      t_i_ = t_i;
    };
  }

 private:
  static constexpr double kPi = 3.141592653589793;  // math.pi

  struct Position {
    double t_cur;
    double t_i;
  };

  /// The one check of the constructor and the checkpoint loader.
  static void check(std::int64_t T_0, std::int64_t T_mult, double eta_min) {
    detail::check_at_least(kName, "T_0", T_0, 1);
    detail::check_at_least(kName, "T_mult", T_mult, 1);
    detail::check_nonnegative(kName, "eta_min", eta_min);
  }

  /// T_cur and T_i at epoch e: from the current ones for the current epoch
  /// and the next (PyTorch's step()), else by integer steps from epoch 0.
  Position position(std::int64_t e) const {
    const std::int64_t now = this->epoch();
    if (e == now) return {t_cur_, t_i_};
    if (e == now + 1) {
      Position p{t_cur_ + 1, t_i_};
      if (p.t_cur >= p.t_i) {
        p.t_cur -= p.t_i;
        p.t_i *= double(T_mult_);
      }
      return p;
    }
    // Integer runs: T_0, T_0·T_mult, …; a run longer than the rest of e ends
    // the loop before T_i can overflow.
    if (T_mult_ == 1) return {double(e % T_0_), double(T_0_)};
    std::int64_t cur = e, t_i = T_0_;
    while (cur >= t_i) {
      cur -= t_i;
      if (t_i > std::numeric_limits<std::int64_t>::max() / T_mult_) {
        return {double(cur), double(t_i) * double(T_mult_)};
      }
      t_i *= T_mult_;
    }
    return {double(cur), double(t_i)};
  }

  double lr_of(const Position& p, std::size_t i) const {
    const double base = double(this->base_lr(i));
    return eta_min_ + (base - eta_min_) * (1 + std::cos(kPi * p.t_cur / p.t_i)) / 2;
  }

  std::int64_t T_0_;
  std::int64_t T_mult_;
  double eta_min_;
  double t_cur_ = 0;  // PyTorch's T_cur
  double t_i_;        // PyTorch's T_i (an integer, held in double)
  Position pending_{0, 1};
  bool has_pending_ = false;
};

}  // namespace descent
