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

#include "stepper.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <Eigen/Core>
#include <descent/adamw.hpp>
#include <descent/descent.hpp>

namespace bench {

/// Calls body(d) with d the gradient as the optimizer adjusts it (PyTorch's
/// order): g itself for the plain options; otherwise −g with maximize, plus
/// λ·x with (L2) weight decay λ, as an Eigen expression that every statement
/// using it evaluates again, as a user's `auto d = g + wd * x;` would.
template <typename S, typename Body>
void with_direction(bool maximize, S weight_decay, Buffers<S>& b, Body&& body) {
  if (!maximize && weight_decay == S(0)) {
    body(b.g);
  } else {
    body((maximize ? S(-1) : S(1)) * b.g + weight_decay * b.x);
  }
}

/// Calls body(denominator) with (u + eps).sqrt() (InsideSqrt) or u.sqrt() + eps
/// (otherwise).
template <typename U, typename S, typename Body>
void with_denominator(descent::EpsPlacement p, const U& u, S eps, Body&& body) {
  if (p == descent::EpsPlacement::InsideSqrt) {
    body((u + eps).sqrt());
  } else {
    body(u.sqrt() + eps);
  }
}

/// The same with u scaled: (u * scale + eps).sqrt() or u.sqrt() * scale + eps.
template <typename U, typename S, typename Body>
void with_denominator(descent::EpsPlacement p, const U& u, S eps, S scale, Body&& body) {
  if (p == descent::EpsPlacement::InsideSqrt) {
    body((u * scale + eps).sqrt());
  } else {
    body(u.sqrt() * scale + eps);
  }
}

/// Naive<Optimizer>::state_arrays(options) is the number of arrays besides
/// params and grad that the update reads and writes; Naive<Optimizer>::step
/// is step t (1 for the first) written in Eigen, with the state in s0, s1, s2.
template <typename Optimizer>
struct Naive;

template <typename S>
struct Naive<descent::GradientDescent<S>> {
  using Options = typename descent::GradientDescent<S>::Options;
  static int state_arrays(const Options&) { return 0; }
  static void step(const Options& o, Buffers<S>& b, std::int64_t) {
    with_direction(o.maximize, o.weight_decay, b, [&](const auto& d) { b.x -= o.lr * d; });
  }
};

template <typename S>
struct Naive<descent::SGD<S>> {
  using Options = typename descent::SGD<S>::Options;
  static int state_arrays(const Options& o) { return o.momentum > 0 ? 1 : 0; }
  static void step(const Options& o, Buffers<S>& b, std::int64_t t) {
    const S lr_t = S(double(o.lr) / (1 + double(o.decay) * double(t - 1)));
    with_direction(o.maximize, o.weight_decay, b, [&](const auto& d) {
      if (o.momentum == 0) {
        b.x -= lr_t * d;
        return;
      }
      auto& v = b.s0;
      if (o.momentum_form == descent::MomentumForm::Keras) {
        v = o.momentum * v - lr_t * d;
        if (o.nesterov) {
          b.x += o.momentum * v - lr_t * d;
        } else {
          b.x += v;
        }
        return;
      }
      // PyTorch's buffer: b = d on the first step (where it is zero).
      const S c = t == 1 ? S(1) : S(1) - o.dampening;
      v = o.momentum * v + c * d;
      if (o.nesterov) {
        b.x -= lr_t * (d + o.momentum * v);
      } else {
        b.x -= lr_t * v;
      }
    });
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
    auto& dv = b.s0;
    with_direction(o.maximize, o.weight_decay, b, [&](const auto& d) {
      dv = o.beta * dv - a * d;
      if constexpr (kNesterov) {
        b.x += o.beta * dv - a * d;
      } else {
        b.x += dv;
      }
    });
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
  static void step(const Options& o, Buffers<S>& b, std::int64_t t) {
    const S lr_t = S(double(o.lr) / (1 + double(t - 1) * double(o.lr_decay)));
    auto& h = b.s0;
    with_direction(o.maximize, o.weight_decay, b, [&](const auto& d) {
      h += d.square();
      with_denominator(o.eps_placement, h, o.eps,
                       [&](const auto& denominator) { b.x -= lr_t * d / denominator; });
    });
  }
};

template <typename S>
struct Naive<descent::RMSprop<S>> {
  using Options = typename descent::RMSprop<S>::Options;
  static int state_arrays(const Options& o) { return 1 + int(o.centered) + int(o.momentum > 0); }
  static void step(const Options& o, Buffers<S>& b, std::int64_t) {
    auto& v = b.s0;
    auto& a = b.s1;                           // ḡ, centered
    auto& buffer = o.centered ? b.s2 : b.s1;  // momentum
    const bool keras = o.momentum_form == descent::MomentumForm::Keras;
    const S in = keras ? o.lr : S(1), out = keras ? S(1) : o.lr;
    with_direction(o.maximize, o.weight_decay, b, [&](const auto& d) {
      v = o.rho * v + (1 - o.rho) * d.square();
      const auto finish = [&](const auto& denominator) {
        if (o.momentum > 0) {
          buffer = o.momentum * buffer + in * d / denominator;
          b.x -= out * buffer;
        } else {
          b.x -= o.lr * d / denominator;
        }
      };
      if (o.centered) {
        a = o.rho * a + (1 - o.rho) * d;
        with_denominator(o.eps_placement, v - a.square(), o.eps, finish);
      } else {
        with_denominator(o.eps_placement, v, o.eps, finish);
      }
    });
  }
};

/// Adam and AdamW (Opt), whose Options are of different types.
template <typename Opt>
struct NaiveAdam {
  using S = typename Opt::Scalar;
  using Options = typename Opt::Options;
  static int state_arrays(const Options& o) { return 2 + int(o.amsgrad); }
  static void step(const Options& o, Buffers<S>& b, std::int64_t t) {
    using descent::EpsPlacement;
    const double lr = double(o.lr);
    const double bias1 = 1 - std::pow(double(o.beta1), double(t));
    const double bias2 = 1 - std::pow(double(o.beta2), double(t));
    const bool hat = o.eps_placement == EpsPlacement::EpsHat;
    const S step_size = S(hat ? lr * std::sqrt(bias2) / bias1 : lr / bias1);
    const S scale = S(o.eps_placement == EpsPlacement::InsideSqrt ? 1 / bias2
                      : hat                                       ? 1.0
                                                                  : 1 / std::sqrt(bias2));
    const bool decoupled = o.decoupled_weight_decay && o.weight_decay != S(0);
    const S keep = S(1 - lr * double(o.weight_decay));
    auto &m = b.s0, &v = b.s1, &v_max = b.s2;
    with_direction(o.maximize, decoupled ? S(0) : o.weight_decay, b, [&](const auto& d) {
      m = o.beta1 * m + (1 - o.beta1) * d;
      v = o.beta2 * v + (1 - o.beta2) * d.square();
      if (o.amsgrad) v_max = v_max.max(v);
      with_denominator(o.eps_placement, o.amsgrad ? v_max : v, o.eps, scale,
                       [&](const auto& denominator) {
                         if (decoupled) {
                           b.x = keep * b.x - step_size * m / denominator;
                         } else {
                           b.x -= step_size * m / denominator;
                         }
                       });
    });
  }
};

template <typename S>
struct Naive<descent::Adam<S>> : NaiveAdam<descent::Adam<S>> {};

template <typename S>
struct Naive<descent::AdamW<S>> : NaiveAdam<descent::AdamW<S>> {};

template <typename S>
struct Naive<descent::Adamax<S>> {
  using Options = typename descent::Adamax<S>::Options;
  static int state_arrays(const Options&) { return 2; }
  static void step(const Options& o, Buffers<S>& b, std::int64_t t) {
    const S step_size = S(double(o.lr) / (1 - std::pow(double(o.beta1), double(t))));
    auto &m = b.s0, &u = b.s1;
    with_direction(o.maximize, o.weight_decay, b, [&](const auto& d) {
      m = o.beta1 * m + (1 - o.beta1) * d;
      u = (o.beta2 * u).max(d.abs() + o.eps);
      b.x -= step_size * m / u;
    });
  }
};

template <typename S>
struct Naive<descent::NAdam<S>> {
  using Options = typename descent::NAdam<S>::Options;
  static int state_arrays(const Options&) { return 2; }
  static void step(const Options& o, Buffers<S>& b, std::int64_t t) {
    // The product of the μ_t, carried from step to step (the stepper counts
    // t from 1 and never goes back).
    static thread_local double product = 1;
    if (t == 1) product = 1;
    const auto mu = [&o](std::int64_t k) {
      return double(o.beta1) * (1 - 0.5 * std::pow(0.96, double(k) * double(o.momentum_decay)));
    };
    product *= mu(t);
    const double lr = double(o.lr);
    const S c_grad = S(lr * (1 - mu(t)) / (1 - product));
    const S c_m = S(lr * mu(t + 1) / (1 - product * mu(t + 1)));
    const S scale = S(1 / std::sqrt(1 - std::pow(double(o.beta2), double(t))));
    auto &m = b.s0, &v = b.s1;
    with_direction(o.maximize, o.weight_decay, b, [&](const auto& d) {
      m = o.beta1 * m + (1 - o.beta1) * d;
      v = o.beta2 * v + (1 - o.beta2) * d.square();
      b.x -= (c_grad * d + c_m * m) / (v.sqrt() * scale + o.eps);
    });
  }
};

template <typename S>
struct Naive<descent::RAdam<S>> {
  using Options = typename descent::RAdam<S>::Options;
  static int state_arrays(const Options&) { return 2; }
  static void step(const Options& o, Buffers<S>& b, std::int64_t t) {
    const double beta2_t = std::pow(double(o.beta2), double(t));
    const double bias2 = 1 - beta2_t;
    const double rho_inf = 2 / (1 - double(o.beta2)) - 1;
    const double rho_t = rho_inf - 2 * double(t) * beta2_t / bias2;
    double a = double(o.lr) / (1 - std::pow(double(o.beta1), double(t)));
    const bool rectified = rho_t > double(o.threshold);
    if (rectified) {
      a *=
          std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) *
          std::sqrt(bias2);
    }
    auto &m = b.s0, &v = b.s1;
    with_direction(o.maximize, o.weight_decay, b, [&](const auto& d) {
      m = o.beta1 * m + (1 - o.beta1) * d;
      v = o.beta2 * v + (1 - o.beta2) * d.square();
      if (rectified) {
        b.x -= S(a) * m / (v.sqrt() + o.eps);
      } else {
        b.x -= S(a) * m;
      }
    });
  }
};

template <typename S>
struct Naive<descent::Adadelta<S>> {
  using Options = typename descent::Adadelta<S>::Options;
  static int state_arrays(const Options&) { return 2; }
  static void step(const Options& o, Buffers<S>& b, std::int64_t) {
    auto &v = b.s0, &u = b.s1;
    with_direction(o.maximize, o.weight_decay, b, [&](const auto& d) {
      v = o.rho * v + (1 - o.rho) * d.square();
      // Δ with the old u, in both statements (x first, then u).
      b.x -= o.lr * ((u + o.eps).sqrt() / (v + o.eps).sqrt() * d);
      u = o.rho * u + (1 - o.rho) * ((u + o.eps).sqrt() / (v + o.eps).sqrt() * d).square();
    });
  }
};

template <typename S>
struct Naive<descent::Rprop<S>> {
  using Options = typename descent::Rprop<S>::Options;
  static int state_arrays(const Options&) { return 2; }
  static void step(const Options& o, Buffers<S>& b, std::int64_t t) {
    auto &prev = b.s0, &size = b.s1;
    if (t == 1) size.setConstant(o.lr);
    with_direction(o.maximize, o.weight_decay, b, [&](const auto& d) {
      const auto product = d * prev;
      size = (product > 0)
                 .select(size * o.eta_plus, (product < 0).select(size * o.eta_minus, size))
                 .max(o.step_size_min)
                 .min(o.step_size_max);
      b.x -= (product < 0).select(S(0), d.sign()) * size;
      prev = (product < 0).select(S(0), d);
    });
  }
};

template <typename S>
struct Naive<descent::Lion<S>> {
  using Options = typename descent::Lion<S>::Options;
  static int state_arrays(const Options&) { return 1; }
  static void step(const Options& o, Buffers<S>& b, std::int64_t) {
    auto& m = b.s0;
    const bool decoupled = o.decoupled_weight_decay && o.weight_decay != S(0);
    if (decoupled) b.x *= S(1 - double(o.lr) * double(o.weight_decay));
    with_direction(o.maximize, decoupled ? S(0) : o.weight_decay, b, [&](const auto& d) {
      b.x -= o.lr * (o.beta1 * m + (1 - o.beta1) * d).sign();
      m = o.beta2 * m + (1 - o.beta2) * d;
    });
  }
};

template <typename S>
struct Naive<descent::AdaBelief<S>> {
  using Options = typename descent::AdaBelief<S>::Options;
  static int state_arrays(const Options&) { return 2; }
  static void step(const Options& o, Buffers<S>& b, std::int64_t t) {
    const S step_size = S(double(o.lr) / (1 - std::pow(double(o.beta1), double(t))));
    const S scale = S(1 / std::sqrt(1 - std::pow(double(o.beta2), double(t))));
    auto &m = b.s0, &s = b.s1;
    with_direction(o.maximize, o.weight_decay, b, [&](const auto& d) {
      m = o.beta1 * m + (1 - o.beta1) * d;
      s = o.beta2 * s + (1 - o.beta2) * (d - m).square() + o.eps_root;
      b.x -= step_size * m / (s.sqrt() * scale + o.eps);
    });
  }
};

/// LAMB: the raw update as a temporary, its norm and θ's, then the step.
template <typename S>
struct Naive<descent::LAMB<S>> {
  using Options = typename descent::LAMB<S>::Options;
  static int state_arrays(const Options&) { return 2; }
  static void step(const Options& o, Buffers<S>& b, std::int64_t t) {
    auto &m = b.s0, &v = b.s1;
    const S decay = o.weight_decay_mask ? o.weight_decay : S(0);
    const S bias1 = S(1 - std::pow(double(o.beta1), double(t)));
    const S bias2 = S(1 - std::pow(double(o.beta2), double(t)));
    with_direction(o.maximize, o.decoupled_weight_decay ? S(0) : decay, b, [&](const auto& d) {
      m = (1 - o.beta1) * d + o.beta1 * m;
      v = (1 - o.beta2) * d.square() + o.beta2 * v;
    });
    const S after = o.decoupled_weight_decay ? decay : S(0);
    const Eigen::Array<S, Eigen::Dynamic, 1> u =
        (m / bias1) / ((v / bias2 + o.eps_root).sqrt() + o.eps) + after * b.x;
    const S pn = b.x.matrix().norm(), un = u.matrix().norm();
    const S ratio = pn == S(0) || un == S(0) ? S(1) : pn / un;
    b.x -= o.lr * (ratio * u);
  }
};

/// LARS: the norms of θ and of the direction, then the trace and the step.
template <typename S>
struct Naive<descent::LARS<S>> {
  using Options = typename descent::LARS<S>::Options;
  static int state_arrays(const Options&) { return 1; }
  static void step(const Options& o, Buffers<S>& b, std::int64_t) {
    auto& trace = b.s0;
    const S decay = o.weight_decay_mask ? o.weight_decay : S(0);
    with_direction(o.maximize, decay, b, [&](const auto& d) {
      S ratio = S(1);
      if (o.trust_ratio_mask) {
        const S pn = b.x.matrix().norm(), dn = d.matrix().norm();
        ratio = pn == S(0) || dn == S(0) ? S(1) : o.trust_coefficient * pn / (dn + o.eps);
      }
      trace = o.momentum * trace - (o.lr * ratio) * d;
      if (o.nesterov) {
        b.x += o.momentum * trace - (o.lr * ratio) * d;
      } else {
        b.x += trace;
      }
    });
  }
};

template <typename S>
struct Naive<descent::SparseAdam<S>> {
  using Options = typename descent::SparseAdam<S>::Options;
  static int state_arrays(const Options&) { return 2; }
  static void step(const Options& o, Buffers<S>& b, std::int64_t t) {
    const double bias1 = 1 - std::pow(double(o.beta1), double(t));
    const double bias2 = 1 - std::pow(double(o.beta2), double(t));
    const S step_size = S(double(o.lr) * std::sqrt(bias2) / bias1);
    auto &m = b.s0, &v = b.s1;
    with_direction(o.maximize, o.weight_decay, b, [&](const auto& d) {
      m += (1 - o.beta1) * (d - m);
      v += (1 - o.beta2) * (d.square() - v);
      b.x -= step_size * m / (v.sqrt() + o.eps);
    });
  }
};

template <typename S>
struct Naive<descent::Adafactor<S>> {  // a vector: one full second moment V
  using Options = typename descent::Adafactor<S>::Options;
  static int state_arrays(const Options&) { return 1; }
  static void step(const Options& o, Buffers<S>& b, std::int64_t t) {
    const double n = double(b.x.size());
    const S w = S(std::pow(double(t), double(o.beta2_decay)));
    const double rho = std::min(double(o.lr), 1 / std::sqrt(double(t)));
    const double alpha = std::max(double(o.eps2), double(b.x.matrix().norm()) / std::sqrt(n)) * rho;
    auto& v = b.s0;
    with_direction(o.maximize, o.weight_decay, b, [&](const auto& d) {
      v += w * (d.square() - v);
      // max(v, ε₁²) as a select: Eigen's packet max trips GCC 12's
      // -Wuninitialized at -march=native with AVX-512.
      const S floor = o.eps1 * o.eps1;
      const auto root = (v < floor).select(floor, v).sqrt();
      const double rms_u = double((d / root).matrix().norm()) / std::sqrt(n);
      const S a = S(alpha / std::max(1.0, rms_u / double(o.d)));
      b.x -= a * d / root;
    });
  }
};

template <typename S>
struct Naive<descent::ASGD<S>> {
  using Options = typename descent::ASGD<S>::Options;
  static int state_arrays(const Options&) { return 1; }
  static void step(const Options& o, Buffers<S>& b, std::int64_t t) {
    const double lr = double(o.lr), done = double(t - 1);
    const double eta = lr / std::pow(1 + double(o.lambd) * lr * done, double(o.alpha));
    const double mu = 1 / std::max(1.0, done - double(o.t0));
    auto& ax = b.s0;
    with_direction(o.maximize, o.weight_decay, b, [&](const auto& d) {
      b.x = S(1 - double(o.lambd) * eta) * b.x - S(eta) * d;
      if (mu == 1) {
        ax = b.x;
      } else {
        ax += S(mu) * (b.x - ax);
      }
    });
  }
};

}  // namespace bench
