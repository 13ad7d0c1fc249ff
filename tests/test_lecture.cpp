// The fused kernels against the lecture's formulas written the plain way
// (support.hpp), over long trajectories and at sizes that hit every
// vector-loop tail.

#include "support.hpp"

#include <descent/descent.hpp>

using descent::EpsPlacement;
using support::Bowl;
using support::Vec;

namespace {

constexpr int kSteps = 300;

/// Runs the library optimizer and the reference side by side from the same
/// start, each on its own iterate, and returns the worst gap seen at any
/// step, relative to max(|x|, 1): the iterates are of order 1.
template <typename S, typename Opt, typename Ref>
double trajectory_gap(Opt& opt, Ref& ref, Eigen::Index n) {
  const Bowl<S> bowl(n);
  Vec<S> x = bowl.start();
  Vec<S> y = x;
  double worst = 0;
  for (int t = 0; t < kSteps; ++t) {
    opt.step(x, bowl.grad(x));
    ref.step(y, bowl.grad(y));
    worst = std::max(worst, support::max_rel_error(x, y, 1.0));
  }
  if (n == 0) {
    // A step on empty vectors does nothing: no count, no state.
    REQUIRE(opt.iterations() == 0);
    REQUIRE(opt.state_size() == -1);
    return worst;
  }
  REQUIRE(opt.iterations() == kSteps);
  // The run must actually have moved: compare against the start.
  REQUIRE(support::max_rel_error(x, bowl.start(), 1e-3) > 1e-3);
  return worst;
}

template <typename S, typename MakeOpt, typename MakeRef>
void check_all_sizes(MakeOpt make_opt, MakeRef make_ref) {
  for (const Eigen::Index n : support::tail_sizes()) {
    auto opt = make_opt();
    auto ref = make_ref();
    INFO("n = " << n);
    CHECK(trajectory_gap<S>(opt, ref, n) <= support::trajectory_tol<S>());
  }
}

}  // namespace

TEMPLATE_TEST_CASE("lecture: GradientDescent follows section 2", "[lecture]", float, double) {
  using S = TestType;
  check_all_sizes<S>(
      [] {
        return support::with_options<descent::GradientDescent<S>>([](auto& o) { o.lr = S(0.05); });
      },
      [] { return support::RefGradientDescent<S>{S(0.05)}; });
}

TEMPLATE_TEST_CASE("lecture: SGD follows Keras's momentum, nesterov and decay", "[lecture]", float,
                   double) {
  using S = TestType;
  for (const bool nesterov : {false, true}) {
    for (const S decay : {S(0), S(0.01)}) {
      INFO("nesterov = " << nesterov << ", decay = " << decay);
      check_all_sizes<S>(
          [&] {
            return support::with_options<descent::SGD<S>>([&](auto& o) {
              o.lr = S(0.02);
              o.momentum = S(0.9);
              o.nesterov = nesterov;
              o.decay = decay;
            });
          },
          [&] {
            return support::RefKerasSGD<S>{S(0.02), S(0.9), nesterov, decay, {}};
          });
    }
  }
}

TEMPLATE_TEST_CASE("lecture: Momentum follows section 4", "[lecture]", float, double) {
  using S = TestType;
  check_all_sizes<S>(
      [] {
        return support::with_options<descent::Momentum<S>>([](auto& o) {
          o.lr = S(0.1);
          o.beta = S(0.9);
        });
      },
      [] {
        return support::RefMomentum<S>{S(0.1), S(0.9), {}};
      });
}

TEMPLATE_TEST_CASE("lecture: AdaGrad follows section 6 in both eps placements", "[lecture]", float,
                   double) {
  using S = TestType;
  for (const auto p : {EpsPlacement::OutsideSqrt, EpsPlacement::InsideSqrt}) {
    INFO("placement = " << int(p));
    check_all_sizes<S>(
        [&] {
          return support::with_options<descent::AdaGrad<S>>([&](auto& o) {
            o.lr = S(0.3);
            o.eps = S(1e-6);
            o.initial_accumulator = S(0.1);
            o.eps_placement = p;
          });
        },
        [&] {
          return support::RefAdaGrad<S>{S(0.3), S(1e-6), S(0.1), p, {}};
        });
  }
}

TEMPLATE_TEST_CASE("lecture: RMSprop follows section 7 in both eps placements", "[lecture]", float,
                   double) {
  using S = TestType;
  for (const auto p : {EpsPlacement::InsideSqrt, EpsPlacement::OutsideSqrt}) {
    INFO("placement = " << int(p));
    check_all_sizes<S>(
        [&] {
          return support::with_options<descent::RMSprop<S>>([&](auto& o) {
            o.lr = S(0.01);
            o.rho = S(0.99);
            o.eps = S(1e-8);
            o.eps_placement = p;
          });
        },
        [&] {
          return support::RefRMSprop<S>{S(0.01), S(0.99), S(1e-8), p, {}};
        });
  }
}

TEMPLATE_TEST_CASE("lecture: Adam follows section 8 in both eps placements", "[lecture]", float,
                   double) {
  using S = TestType;
  for (const auto p : {EpsPlacement::InsideSqrt, EpsPlacement::OutsideSqrt}) {
    INFO("placement = " << int(p));
    check_all_sizes<S>(
        [&] {
          return support::with_options<descent::Adam<S>>([&](auto& o) {
            o.lr = S(0.02);
            o.beta1 = S(0.9);
            o.beta2 = S(0.999);
            o.eps = S(1e-8);
            o.eps_placement = p;
          });
        },
        [&] { return support::RefAdam<S>{S(0.02), S(0.9), S(0.999), S(1e-8), p, {}, {}}; });
  }
}

TEMPLATE_TEST_CASE(
    "lecture: Nesterov's params are the look-ahead points theta_t + beta*Delta_{t-1} of section 5",
    "[lecture]", float, double) {
  using S = TestType;
  for (const Eigen::Index n : {Eigen::Index(1), Eigen::Index(17)}) {
    const Bowl<S> bowl(n);
    auto nag = support::with_options<descent::Nesterov<S>>([](auto& o) {
      o.lr = S(0.1);
      o.beta = S(0.9);
    });
    support::RefNesterov<S> ref{S(0.1), S(0.9), bowl.start(), {}};
    Vec<S> phi = bowl.start();
    double worst = 0;
    double separation = 0;  // how far the look-ahead point is from θ
    for (int t = 0; t < kSteps; ++t) {
      // The reference asks for the gradient at its look-ahead point; the
      // library is handed the gradient at the point its params hold.
      const Vec<S> lookahead = ref.delta.size() ? ref.lookahead() : ref.theta;
      worst = std::max(worst, support::max_rel_error(phi, lookahead, 1.0));
      separation = std::max(separation, support::max_rel_error(lookahead, ref.theta, 1.0));
      ref.step(bowl.grad(lookahead));
      nag.step(phi, bowl.grad(phi));
    }
    worst = std::max(worst, support::max_rel_error(phi, ref.lookahead(), 1.0));
    INFO("n = " << n);
    CHECK(worst <= support::trajectory_tol<S>());
    // The look-ahead points differ from the iterates, so the test tells
    // the two sequences apart.
    CHECK(separation > 1e-2);
  }
}
