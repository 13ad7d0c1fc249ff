#pragma once
/// \file
/// Naive Eigen: each optimizer's update as a user would write it without
/// descent, one Eigen array statement per array. Each statement is one
/// vectorized pass, so an update of three arrays sweeps memory three times.
/// Hyperparameters come from the same Options struct descent is given, so
/// both compute the same thing.
///
/// Note that with Eigen's default EIGEN_FAST_MATH=1 a float sqrt() on AVX-512
/// is an approximation (rsqrt plus a Newton step), not the correctly rounded
/// root descent computes; that is what a user gets by default.

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <descent/descent.hpp>

#include "stepper.hpp"

namespace bench {

/// Naive<Optimizer>::state_arrays(options) is the number of arrays besides
/// params and grad that the update reads and writes; Naive<Optimizer>::step
/// is step t (1 for the first) written in Eigen, with the state in s0, s1.
template <typename Optimizer>
struct Naive;

template <typename S>
struct Naive<descent::GradientDescent<S>> {
  using Options = typename descent::GradientDescent<S>::Options;
  static int state_arrays(const Options&) { return 0; }
  static void step(const Options& o, Buffers<S>& b, std::int64_t) { b.x -= o.lr * b.g; }
};

template <typename S>
struct Naive<descent::SGD<S>> {
  using Options = typename descent::SGD<S>::Options;
  static int state_arrays(const Options& o) { return o.momentum > 0 ? 1 : 0; }
  static void step(const Options& o, Buffers<S>& b, std::int64_t t) {
    const S lr_t = S(double(o.lr) / (1 + double(o.decay) * double(t - 1)));
    if (o.momentum == 0) {
      b.x -= lr_t * b.g;
      return;
    }
    auto& v = b.s0;
    v = o.momentum * v - lr_t * b.g;
    if (o.nesterov) {
      b.x += o.momentum * v - lr_t * b.g;
    } else {
      b.x += v;
    }
  }
};

/// The lecture's dampened momentum, Momentum (heavy ball) or Nesterov.
template <typename Optimizer, bool kNesterov>
struct NaiveDampened {
  using S = typename Optimizer::Scalar;
  using Options = typename Optimizer::Options;
  static int state_arrays(const Options&) { return 1; }
  static void step(const Options& o, Buffers<S>& b, std::int64_t) {
    const S a = (1 - o.beta) * o.lr;
    auto& d = b.s0;
    d = o.beta * d - a * b.g;
    if constexpr (kNesterov) {
      b.x += o.beta * d - a * b.g;
    } else {
      b.x += d;
    }
  }
};

template <typename S>
struct Naive<descent::Momentum<S>> : NaiveDampened<descent::Momentum<S>, false> {};

template <typename S>
struct Naive<descent::Nesterov<S>> : NaiveDampened<descent::Nesterov<S>, true> {};

template <typename S>
struct Naive<descent::AdaGrad<S>> {
  using Options = typename descent::AdaGrad<S>::Options;
  static int state_arrays(const Options&) { return 1; }
  static void step(const Options& o, Buffers<S>& b, std::int64_t) {
    auto& h = b.s0;
    h += b.g.square();
    if (o.eps_placement == descent::EpsPlacement::InsideSqrt) {
      b.x -= o.lr * b.g / (h + o.eps).sqrt();
    } else {
      b.x -= o.lr * b.g / (h.sqrt() + o.eps);
    }
  }
};

template <typename S>
struct Naive<descent::RMSprop<S>> {
  using Options = typename descent::RMSprop<S>::Options;
  static int state_arrays(const Options&) { return 1; }
  static void step(const Options& o, Buffers<S>& b, std::int64_t) {
    auto& v = b.s0;
    v = o.rho * v + (1 - o.rho) * b.g.square();
    if (o.eps_placement == descent::EpsPlacement::InsideSqrt) {
      b.x -= o.lr * b.g / (v + o.eps).sqrt();
    } else {
      b.x -= o.lr * b.g / (v.sqrt() + o.eps);
    }
  }
};

template <typename S>
struct Naive<descent::Adam<S>> {
  using Options = typename descent::Adam<S>::Options;
  static int state_arrays(const Options&) { return 2; }
  static void step(const Options& o, Buffers<S>& b, std::int64_t t) {
    const double bias1 = 1 - std::pow(double(o.beta1), double(t));
    const double bias2 = 1 - std::pow(double(o.beta2), double(t));
    const S step_size = S(double(o.lr) / bias1);
    auto &m = b.s0, &v = b.s1;
    m = o.beta1 * m + (1 - o.beta1) * b.g;
    v = o.beta2 * v + (1 - o.beta2) * b.g.square();
    if (o.eps_placement == descent::EpsPlacement::InsideSqrt) {
      b.x -= step_size * m / (v * S(1 / bias2) + o.eps).sqrt();
    } else {
      b.x -= step_size * m / (v.sqrt() * S(1 / std::sqrt(bias2)) + o.eps);
    }
  }
};

}  // namespace bench
