// Every optimizer reaches the minimizer of an ill-conditioned quadratic and of
// Rosenbrock's function, in float and double.

#include "support.hpp"

#include <cmath>
#include <functional>
#include <memory>
#include <string>

#include <Eigen/Dense>
#include <descent/descent.hpp>

using support::Vec;

namespace {

/// f(x) = ½ (x − x*)ᵀ A (x − x*) in 8 dimensions, A = Q diag(1 … 100) Qᵀ with
/// Q a fixed rotation: condition number 100, no coordinate axis aligned with
/// the valley.
template <typename S>
struct IllConditionedQuadratic {
  static constexpr Eigen::Index n = 8;
  Eigen::Matrix<S, n, n> A;
  Vec<S> minimizer;
  IllConditionedQuadratic() : minimizer(n) {
    Eigen::Matrix<double, n, n> m;
    for (Eigen::Index i = 0; i < n; ++i)
      for (Eigen::Index j = 0; j < n; ++j) m(i, j) = std::sin(1.0 + double(3 * i + 7 * j));
    const Eigen::Matrix<double, n, n> q =
        Eigen::HouseholderQR<Eigen::Matrix<double, n, n>>(m).householderQ();
    Eigen::Matrix<double, n, 1> eigenvalues;
    for (Eigen::Index i = 0; i < n; ++i) eigenvalues(i) = std::pow(100.0, double(i) / (n - 1));
    A = (q * eigenvalues.asDiagonal() * q.transpose()).template cast<S>();
    for (Eigen::Index i = 0; i < n; ++i) minimizer(i) = S(std::cos(double(i)));
  }
  Vec<S> grad(const Vec<S>& x) const { return A * (x - minimizer); }
  Vec<S> start() const { return Vec<S>::Zero(n); }
};

/// Rosenbrock's banana (1 − x)² + 100 (y − x²)², minimum at (1, 1).
template <typename S>
struct Rosenbrock {
  Vec<S> minimizer = Vec<S>::Ones(2);
  Vec<S> grad(const Vec<S>& p) const {
    const S x = p(0), y = p(1);
    Vec<S> g(2);
    g << S(-2) * (S(1) - x) - S(400) * x * (y - x * x), S(200) * (y - x * x);
    return g;
  }
  Vec<S> start() const {
    Vec<S> p(2);
    p << S(-1.5), S(2);
    return p;
  }
};

template <typename S>
struct Case {
  std::string label;
  std::function<std::unique_ptr<descent::Optimizer<S>>()> make;
  int steps;
  long decay_every;  // StepLR step_size; 0 for a constant lr
  double gamma;
};

/// Runs one case and returns the distance to the minimizer.
template <typename S, typename Problem>
double final_distance(const Problem& problem, const Case<S>& c) {
  auto opt = c.make();
  std::unique_ptr<descent::StepLR<S>> schedule;
  if (c.decay_every > 0) {
    schedule = std::make_unique<descent::StepLR<S>>(*opt, c.decay_every, c.gamma);
  }
  Vec<S> x = problem.start();
  for (int t = 0; t < c.steps; ++t) {
    opt->step(x, problem.grad(x));
    if (schedule) schedule->step();  // one "epoch" per step here
  }
  return double((x - problem.minimizer).norm());
}

/// A factory of O whose options are the defaults, then set(options).
template <typename O, typename Set, typename S = typename O::Scalar>
std::function<std::unique_ptr<descent::Optimizer<S>>()> make(Set set) {
  const auto options = support::options<O>(set);
  return [options] { return std::make_unique<O>(options); };
}

template <typename S>
double tolerance() {
  return std::is_same<S, float>::value ? 1e-3 : 1e-6;
}

}  // namespace

TEMPLATE_TEST_CASE("convergence: ill-conditioned quadratic (condition 100)", "[convergence]", float,
                   double) {
  using S = TestType;
  using namespace descent;
  const IllConditionedQuadratic<S> problem;
  const EpsPlacement out = EpsPlacement::OutsideSqrt;
  const std::vector<Case<S>> cases{
      {"GradientDescent lr 1/L", make<GradientDescent<S>>([](auto& o) { o.lr = S(0.01); }), 3000, 0,
       1},
      {"SGD momentum 0.9", make<SGD<S>>([](auto& o) {
         o.lr = S(0.01);
         o.momentum = S(0.9);
       }),
       1000, 0, 1},
      {"SGD nesterov 0.9", make<SGD<S>>([](auto& o) {
         o.lr = S(0.01);
         o.momentum = S(0.9);
         o.nesterov = true;
       }),
       1000, 0, 1},
      {"Momentum beta 0.9", make<Momentum<S>>([](auto& o) {
         o.lr = S(0.1);
         o.beta = S(0.9);
       }),
       1000, 0, 1},
      {"Nesterov beta 0.9", make<Nesterov<S>>([](auto& o) {
         o.lr = S(0.1);
         o.beta = S(0.9);
       }),
       1000, 0, 1},
      {"AdaGrad lr 0.5", make<AdaGrad<S>>([](auto& o) { o.lr = S(0.5); }), 5000, 0, 1},
      {"RMSprop lr 0.01, StepLR", make<RMSprop<S>>([](auto& o) { o.lr = S(0.01); }), 6000, 1000,
       0.1},
      {"RMSprop outside, StepLR", make<RMSprop<S>>([&](auto& o) {
         o.lr = S(0.01);
         o.rho = S(0.99);
         o.eps = S(1e-8);
         o.eps_placement = out;
       }),
       6000, 1000, 0.1},
      {"Adam lr 0.05, StepLR", make<Adam<S>>([](auto& o) { o.lr = S(0.05); }), 4000, 1000, 0.2},
      {"Adam outside, StepLR", make<Adam<S>>([&](auto& o) {
         o.lr = S(0.05);
         o.beta1 = S(0.9);
         o.beta2 = S(0.999);
         o.eps = S(1e-8);
         o.eps_placement = out;
       }),
       4000, 1000, 0.2},
  };
  for (const auto& c : cases) {
    const double distance = final_distance<S>(problem, c);
    INFO(c.label << ": distance " << distance);
    CHECK(distance < tolerance<S>());
  }
}

TEMPLATE_TEST_CASE("convergence: Rosenbrock from (-1.5, 2)", "[convergence]", float, double) {
  using S = TestType;
  using namespace descent;
  const Rosenbrock<S> problem;
  const std::vector<Case<S>> cases{
      {"GradientDescent lr 1e-3", make<GradientDescent<S>>([](auto& o) { o.lr = S(1e-3); }), 40000,
       0, 1},
      {"SGD nesterov 0.9", make<SGD<S>>([](auto& o) {
         o.lr = S(2e-4);
         o.momentum = S(0.9);
         o.nesterov = true;
       }),
       20000, 0, 1},
      {"Momentum beta 0.9", make<Momentum<S>>([](auto& o) {
         o.lr = S(2e-3);
         o.beta = S(0.9);
       }),
       20000, 0, 1},
      {"Nesterov beta 0.9", make<Nesterov<S>>([](auto& o) {
         o.lr = S(2e-3);
         o.beta = S(0.9);
       }),
       20000, 0, 1},
      {"AdaGrad lr 0.5", make<AdaGrad<S>>([](auto& o) { o.lr = S(0.5); }), 40000, 0, 1},
      {"RMSprop lr 0.01, StepLR", make<RMSprop<S>>([](auto& o) { o.lr = S(0.01); }), 20000, 2500,
       0.2},
      {"Adam lr 0.05, StepLR", make<Adam<S>>([](auto& o) { o.lr = S(0.05); }), 20000, 4000, 0.3},
  };
  for (const auto& c : cases) {
    const double distance = final_distance<S>(problem, c);
    INFO(c.label << ": distance " << distance);
    CHECK(distance < tolerance<S>());
  }
}
