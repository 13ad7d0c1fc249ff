// LAMB and LARS: against optax's update code (lamb_lars_reference::kRuns,
// tools/make_lamb_lars_reference.py, which re-runs optax.lamb, optax.lars
// and LAMB's L2 chain line by line in NumPy and cites the files and commits
// it mirrors), on a vector and on a matrix stepped as one tensor; against a
// plain implementation at sizes that hit every packet tail and group end;
// the norms' independence of set_threads; and identities: each LAMB step
// moves θ by lr·‖θ‖, LARS without its trust ratio is Keras-form SGD, a
// mask off is no decay.
//
// What optax computes, per step (u the update that apply_updates adds):
//
//   lamb: m = (1 - b1)·g + b1·m;  v = (1 - b2)·g² + b2·v;
//         d = (m/(1 - b1ᵗ)) / (√(v/(1 - b2ᵗ) + eps_root) + eps) + λ·θ;
//         u = -lr·(r·d),  r = ‖θ‖/‖d‖ (1 if either is 0)
//   lars: d = g + λ·θ;  r = η·‖θ‖/(‖d‖ + eps) (1 if a norm is 0);
//         b = -lr·(r·d) + μ·b;  u = b (nesterov: -lr·(r·d) + μ·b)
//
// Tolerances: double 1e-10 relative with an absolute floor of 1e-14; float
// 1e-5 relative with a floor of 1e-6 (JAX sums the norms in float32, descent
// in float within groups of 256 and in double between groups). Run with -s to
// see the worst errors. Observed (GCC 12, x86-64), worst over each
// optimizer's runs, double / float, relative to the values (and to the
// distance moved from x0):
//   LAMB  4.9e-14 (8e-16) / 1.6e-7 (1.1e-7)
//   LARS  2.2e-15 (1.3e-16) / 1.2e-7 (3.3e-7)

#include "data/lamb_lars_reference.hpp"
#include "instantiations.hpp"
#include "support.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>

#include <Eigen/Core>
#include <catch2/catch.hpp>
#include <descent/descent.hpp>

namespace {

namespace ref = lamb_lars_reference;
using support::Vec;

template <typename S>
using Tolerance = support::ReferenceTolerance<S>;

template <typename S>
using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

template <typename S>
typename descent::LAMB<S>::Options lamb_options(const ref::Run& run) {
  typename descent::LAMB<S>::Options o;
  o.lr = S(run.options[0]);
  o.beta1 = S(run.options[1]);
  o.beta2 = S(run.options[2]);
  o.eps = S(run.options[3]);
  o.eps_root = S(run.options[4]);
  o.weight_decay = S(run.options[5]);
  o.decoupled_weight_decay = run.options[6] != 0;
  o.weight_decay_mask = run.options[7] != 0;
  return o;
}

template <typename S>
typename descent::LARS<S>::Options lars_options(const ref::Run& run) {
  typename descent::LARS<S>::Options o;
  o.lr = S(run.options[0]);
  o.momentum = S(run.options[1]);
  o.nesterov = run.options[2] != 0;
  o.trust_coefficient = S(run.options[3]);
  o.eps = S(run.options[4]);
  o.trust_ratio_mask = run.options[5] != 0;
  o.weight_decay = S(run.options[6]);
  o.weight_decay_mask = run.options[7] != 0;
  return o;
}

/// The worst errors over a run's steps: |descent − optax| relative to
/// max(|optax|, abs/rel), and relative to the distance optax has moved from
/// x0 (which the first hides when the steps are small against θ, as LARS's).
struct Errors {
  double value = 0;
  double moved = 0;
};

template <typename S, typename Opt>
Errors run_with(const ref::Run& run, Opt& opt) {
  using T = Tolerance<S>;
  const int n = run.rows * run.cols;
  Mat<S> x(run.rows, run.cols), a(run.rows, run.cols), c(run.rows, run.cols);
  for (int i = 0; i < n; ++i) {
    x(i) = S(run.params[0][i]);
    a(i) = S(run.a[i]);
    c(i) = S(run.c[i]);
  }
  const S cubic = S(ref::kCubic);
  Errors worst;
  for (int step = 1; step <= ref::kSteps; ++step) {
    Mat<S> g(run.rows, run.cols);
    for (int i = 0; i < n; ++i) g(i) = a(i) * (x(i) - c(i)) + cubic * x(i) * x(i) * x(i);
    if (run.cols == 1) {
      Eigen::Map<Vec<S>> flat(x.data(), n);
      opt.step(flat, Eigen::Map<const Vec<S>>(g.data(), n));
    } else {
      opt.step(x, g);
    }
    double moved = 0;
    for (int i = 0; i < n; ++i) {
      const double d = run.params[step][i] - run.params[0][i];
      moved += d * d;
    }
    moved = std::sqrt(moved);
    for (int i = 0; i < n; ++i) {
      const double want = run.params[step][i];
      const double diff = std::abs(double(x(i)) - want);
      const double err = diff / std::max(std::abs(want), T::abs / T::rel);
      const double err_moved = diff / std::max(moved, T::abs / T::rel);
      worst.value = err <= worst.value ? worst.value : err;  // NaN wins
      worst.moved = err_moved <= worst.moved ? worst.moved : err_moved;
    }
  }
  return worst;
}

template <typename S>
Errors run(const ref::Run& run) {
  if (std::string(run.optimizer) == "lamb") {
    descent::LAMB<S> opt(lamb_options<S>(run));
    return run_with<S>(run, opt);
  }
  descent::LARS<S> opt(lars_options<S>(run));
  return run_with<S>(run, opt);
}

/// Every run of optimizer `name`; returns how many there were.
int check_runs(const std::string& name) {
  int runs = 0;
  Errors worst[2];
  for (const ref::Run& r : ref::kRuns) {
    if (r.optimizer != name) continue;
    const bool is_double = std::string(r.dtype) == "float64";
    const Errors e = is_double ? run<double>(r) : run<float>(r);
    const double tolerance = is_double ? Tolerance<double>::rel : Tolerance<float>::rel;
    INFO(r.id << ": " << r.optax_call << " (" << r.dtype << "): worst error " << e.value
              << ", of the distance moved " << e.moved);
    CHECK(e.value <= tolerance);
    CHECK(e.moved <= tolerance * 10);
    Errors& w = worst[is_double ? 0 : 1];
    w.value = std::max(w.value, e.value);
    w.moved = std::max(w.moved, e.moved);
    ++runs;
  }
  std::printf(
      "%s against optax: worst error double %.2g (%.2g of the distance moved), float %.2g (%.2g)\n",
      name.c_str(), worst[0].value, worst[0].moved, worst[1].value, worst[1].moved);
  return runs;
}

/// The worst error of run `id` (float64) with option k of its descent
/// options set to value: far beyond the tolerance when the option matters.
double changed(const std::string& id, int k, double value) {
  for (const ref::Run& r : ref::kRuns) {
    if (r.id != id || std::string(r.dtype) != "float64") continue;
    ref::Run copy = r;
    copy.options[k] = value;
    return run<double>(copy).value;
  }
  FAIL("no run " << id);
  return 0;
}

constexpr double kResolved = 1e4 * Tolerance<double>::rel;

/// A plain LAMB step, as the class comment writes it, in double.
void plain_lamb(Eigen::VectorXd& x, const Eigen::VectorXd& g, Eigen::VectorXd& m,
                Eigen::VectorXd& v, int t, const descent::LAMB<double>::Options& o) {
  m = (1 - o.beta1) * g + o.beta1 * m;
  v = (1 - o.beta2) * g.cwiseProduct(g) + o.beta2 * v;
  const Eigen::VectorXd m_hat = m / (1 - std::pow(o.beta1, t));
  const Eigen::VectorXd v_hat = v / (1 - std::pow(o.beta2, t));
  const Eigen::VectorXd u =
      m_hat.array() / ((v_hat.array() + o.eps_root).sqrt() + o.eps) + o.weight_decay * x.array();
  const double pn = x.norm(), un = u.norm();
  const double r = pn == 0 || un == 0 ? 1.0 : pn / un;
  x -= o.lr * (r * u);
}

/// A plain LARS step, as the class comment writes it, in double.
void plain_lars(Eigen::VectorXd& x, const Eigen::VectorXd& g, Eigen::VectorXd& b,
                const descent::LARS<double>::Options& o) {
  const Eigen::VectorXd d = g + o.weight_decay * x;
  const double pn = x.norm(), dn = d.norm();
  const double r = pn == 0 || dn == 0 ? 1.0 : o.trust_coefficient * pn / (dn + o.eps);
  const Eigen::VectorXd u = -o.lr * (r * d);
  b = u + o.momentum * b;
  x += o.nesterov ? Eigen::VectorXd(u + o.momentum * b) : b;
}

}  // namespace

TEST_CASE("LAMB reproduces optax.lamb", "[lamb][optax]") {
  const auto o = descent::LAMB<double>::Options::optax();
  CHECK(o.beta1 == 0.9);
  CHECK(o.beta2 == 0.999);
  CHECK(o.eps == 1e-6);
  CHECK(o.eps_root == 0.0);
  CHECK(o.weight_decay == 0.0);
  CHECK(o.decoupled_weight_decay);
  CHECK(o.weight_decay_mask);
  CHECK(check_runs("lamb") == 7);
  // Each convention under test moves the trajectory far beyond the tolerance.
  CHECK(changed("lamb_l2", 6, 1.0) > kResolved);                   // decoupled
  CHECK(changed("lamb_matrix_decay", 6, 0.0) > kResolved);         // L2
  CHECK(changed("lamb_vector_decay_masked", 7, 1.0) > kResolved);  // the mask
  CHECK(changed("lamb_matrix_decay", 4, 0.0) > kResolved);         // eps_root
}

TEST_CASE("LARS reproduces optax.lars", "[lars][optax]") {
  const auto o = descent::LARS<double>::Options::optax();
  CHECK(o.weight_decay == 0.0);
  CHECK(o.weight_decay_mask);
  CHECK(o.trust_coefficient == 0.001);
  CHECK(o.eps == 0.0);
  CHECK(o.trust_ratio_mask);
  CHECK(o.momentum == 0.9);
  CHECK_FALSE(o.nesterov);
  CHECK(check_runs("lars") == 7);
  CHECK(changed("lars_vector_nesterov", 2, 0.0) > kResolved);        // nesterov
  CHECK(changed("lars_matrix_decay_nesterov", 4, 0.0) > kResolved);  // eps
  CHECK(changed("lars_masks_off", 5, 1.0) > kResolved);              // trust ratio
  CHECK(changed("lars_masks_off", 7, 1.0) > kResolved);              // decay mask
  CHECK(changed("lars_matrix_decay", 6, 0.0) > kResolved);           // decay
}

TEST_CASE("LAMB and LARS: the kernels against a plain step at every tail", "[lamb][lars]") {
  // Sizes that end packets and 256-element groups anywhere.
  for (const Eigen::Index n :
       {1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 127, 255, 256, 257, 1023, 5000}) {
    const support::Bowl<double> bowl(n);
    descent::LAMB<double>::Options lo;
    lo.lr = 0.01;
    lo.weight_decay = 0.05;
    lo.eps_root = 1e-8;
    descent::LARS<double>::Options ro;
    ro.weight_decay = 0.01;
    ro.eps = 1e-6;
    ro.nesterov = n % 2 == 0;
    descent::LAMB<double> lamb(lo);
    descent::LARS<double> lars(ro);
    Eigen::VectorXd x = bowl.start(), y = x, px = x, py = x;
    Eigen::VectorXd m = Eigen::VectorXd::Zero(n), v = m, b = m;
    double worst = 0;
    for (int t = 1; t <= 4; ++t) {
      lamb.step(x, bowl.grad(x));
      plain_lamb(px, bowl.grad(px), m, v, t, lo);
      lars.step(y, bowl.grad(y));
      plain_lars(py, bowl.grad(py), b, ro);
      worst = std::max({worst, (x - px).cwiseAbs().maxCoeff() / px.cwiseAbs().maxCoeff(),
                        (y - py).cwiseAbs().maxCoeff() / py.cwiseAbs().maxCoeff()});
    }
    INFO("n = " << n);
    CHECK(worst <= 1e-13);
  }
}

TEST_CASE("LAMB and LARS: the norms and steps are bitwise the same on 1 and 3 threads",
          "[lamb][lars][threads]") {
  const auto check = [](auto serial, auto make_x) {
    auto split = serial;
    split.set_threads(3);
    auto x = make_x();
    auto y = x;
    using S = typename decltype(serial)::Scalar;
    for (int t = 0; t < 3; ++t) {
      decltype(x) g = (x.array() * S(0.7) - S(0.3) + x.array().sin()).matrix();
      serial.step(x, g);
      split.step(y, g);
    }
    CHECK(support::bitwise_equal(x, y));
    CHECK_FALSE(support::bitwise_equal(x, make_x()));
  };
  for (const Eigen::Index n :
       {Eigen::Index(65536), Eigen::Index(65536 + 37), Eigen::Index(200003)}) {
    INFO("n = " << n);
    const auto vec_d = [n] { return Eigen::VectorXd(Eigen::VectorXd::LinSpaced(n, -2.0, 3.0)); };
    const auto vec_f = [n] { return Eigen::VectorXf(Eigen::VectorXf::LinSpaced(n, -2.f, 3.f)); };
    descent::LAMB<double>::Options lo;
    lo.weight_decay = 0.01;
    descent::LARS<float>::Options ro;
    ro.weight_decay = 0.01;
    check(descent::LAMB<double>(lo), vec_d);
    check(descent::LAMB<float>(), vec_f);
    check(descent::LARS<double>(), vec_d);
    check(descent::LARS<float>(ro), vec_f);
  }
  // A matrix, one tensor of 301 x 299 elements.
  const auto mat = [] {
    return Eigen::MatrixXd(Eigen::MatrixXd::NullaryExpr(
        301, 299, [](Eigen::Index i, Eigen::Index j) { return std::sin(0.37 * i + 1.3 * j); }));
  };
  check(descent::LAMB<double>(), mat);
  check(descent::LARS<double>(), mat);
}

TEST_CASE("LAMB: each step moves θ by lr·‖θ‖; a zero update or a zero θ moves by the update",
          "[lamb]") {
  const support::Bowl<double> bowl(1000);
  descent::LAMB<double>::Options o;
  o.lr = 0.01;
  o.weight_decay = 0.1;
  descent::LAMB<double> lamb(o);
  Eigen::VectorXd x = bowl.start();
  for (int t = 0; t < 5; ++t) {
    const Eigen::VectorXd before = x;
    lamb.step(x, bowl.grad(x));
    CHECK_THAT((x - before).norm(), Catch::Matchers::WithinRel(0.01 * before.norm(), 1e-13));
  }
  // θ = 0: the ratio is 1, and the first step is −lr·(m̂/(√v̂ + ε)) = −lr·g/(|g| + ε).
  descent::LAMB<double> fresh(o);
  Eigen::VectorXd z = Eigen::VectorXd::Zero(3);
  const Eigen::VectorXd g = (Eigen::VectorXd(3) << 2.0, -0.5, 0.0).finished();
  fresh.step(z, g);
  CHECK_THAT(z(0), Catch::Matchers::WithinRel(-0.01 * 2.0 / (2.0 + 1e-6), 1e-14));
  CHECK_THAT(z(1), Catch::Matchers::WithinRel(-0.01 * -0.5 / (0.5 + 1e-6), 1e-14));
  CHECK(z(2) == 0.0);
  // A zero gradient and no decay: u = 0, the ratio is 1, nothing moves.
  descent::LAMB<double> still;
  Eigen::VectorXd w = bowl.start();
  still.step(w, Eigen::VectorXd::Zero(1000));
  CHECK(support::bitwise_equal(w, bowl.start()));
}

TEST_CASE("LARS: without the trust ratio it is Keras-form SGD with momentum, bit for bit",
          "[lars]") {
  for (const bool nesterov : {false, true}) {
    const support::Bowl<float> bowl(1000);
    descent::LARS<float>::Options o;
    o.lr = 0.05f;
    o.momentum = 0.8f;
    o.nesterov = nesterov;
    o.trust_ratio_mask = false;
    o.weight_decay = 0.01f;
    descent::SGD<float>::Options s;
    s.lr = 0.05f;
    s.momentum = 0.8f;
    s.nesterov = nesterov;
    s.weight_decay = 0.01f;
    descent::LARS<float> lars(o);
    descent::SGD<float> sgd(s);
    Vec<float> x = bowl.start(), y = x;
    for (int t = 0; t < 5; ++t) {
      lars.step(x, bowl.grad(x));
      sgd.step(y, bowl.grad(y));
    }
    CHECK(support::bitwise_equal(x, y));
  }
  // The first step, with the ratio: θ − lr·η·‖θ‖/(‖d‖ + ε)·d.
  descent::LARS<double>::Options o;
  o.lr = 2.0;
  o.eps = 0.5;
  descent::LARS<double> lars(o);
  Eigen::VectorXd x = (Eigen::VectorXd(2) << 3.0, 4.0).finished();
  const Eigen::VectorXd g = (Eigen::VectorXd(2) << 0.0, -12.0).finished();
  lars.step(x, g);
  const double r = 0.001 * 5.0 / (12.0 + 0.5);
  CHECK(x(0) == 3.0);
  CHECK_THAT(x(1), Catch::Matchers::WithinRel(4.0 + 2.0 * r * 12.0, 1e-15));
}

TEST_CASE("LAMB and LARS: a weight decay mask off is no decay, bit for bit", "[lamb][lars]") {
  const support::Bowl<double> bowl(300);
  descent::LAMB<double>::Options la, lb;
  la.weight_decay = 0.3;
  la.weight_decay_mask = false;
  descent::LARS<double>::Options ra, rb;
  ra.weight_decay = 0.3;
  ra.weight_decay_mask = false;
  descent::LAMB<double> lamb_a(la), lamb_b(lb);
  descent::LARS<double> lars_a(ra), lars_b(rb);
  Eigen::VectorXd x1 = bowl.start(), x2 = x1, x3 = x1, x4 = x1;
  for (int t = 0; t < 4; ++t) {
    lamb_a.step(x1, bowl.grad(x1));
    lamb_b.step(x2, bowl.grad(x2));
    lars_a.step(x3, bowl.grad(x3));
    lars_b.step(x4, bowl.grad(x4));
  }
  CHECK(support::bitwise_equal(x1, x2));
  CHECK(support::bitwise_equal(x3, x4));
  la.weight_decay_mask = true;
  ra.weight_decay_mask = true;
  descent::LAMB<double> lamb_c(la);
  descent::LARS<double> lars_c(ra);
  Eigen::VectorXd x5 = bowl.start(), x6 = x5;
  lamb_c.step(x5, bowl.grad(x5));
  lars_c.step(x6, bowl.grad(x6));
  lamb_b.reset();
  lars_b.reset();
  x2 = bowl.start();
  x4 = bowl.start();
  lamb_b.step(x2, bowl.grad(x2));
  lars_b.step(x4, bowl.grad(x4));
  CHECK_FALSE(support::bitwise_equal(x5, x2));
  CHECK_FALSE(support::bitwise_equal(x6, x4));
}

TEST_CASE("LAMB and LARS: a checkpoint loaded into a fresh optimizer steps on alike",
          "[lamb][lars][checkpoint]") {
  const support::Bowl<float> bowl(5000);
  const auto check = [&](auto a) {
    decltype(a) b;
    Vec<float> x = bowl.start();
    a.step(x, bowl.grad(x));
    a.step(x, bowl.grad(x));
    std::stringstream io;
    a.save(io);
    b.load(io);  // b's scratch vectors are sized by its first step
    Vec<float> y = x;
    a.step(x, bowl.grad(x));
    b.step(y, bowl.grad(y));
    CHECK(support::bitwise_equal(x, y));
  };
  check(descent::LAMB<float>());
  check(descent::LARS<float>());
  // LARS refuses a decoupled decay, which its trust ratio would not see.
  descent::LARS<float>::Options o;
  o.decoupled_weight_decay = true;
  CHECK_THROWS_AS(descent::LARS<float>(o), std::invalid_argument);
}
