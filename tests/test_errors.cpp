// Bad input gets a std::invalid_argument that says what was wrong, and
// loses nothing: params, state, step count, lr and epoch stay as they were.

#include "support.hpp"
#include "variants.hpp"

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>

#include <descent/descent.hpp>

using Catch::Matchers::Contains;
using support::Vec;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

/// Requires that make() throws std::invalid_argument whose message contains
/// every one of parts.
void require_invalid(const std::function<void()>& make, std::initializer_list<std::string> parts) {
  try {
    make();
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    for (const auto& part : parts) {
      INFO("message: " << what);
      CHECK_THAT(what, Contains(part));
    }
    return;
  }
  FAIL("no std::invalid_argument thrown; expected a message with " << *parts.begin());
}

}  // namespace

TEMPLATE_TEST_CASE("errors: invalid options name the class, the option and the value", "[errors]",
                   float, double) {
  using S = TestType;
  using descent::AdaGrad;
  using descent::Adam;
  using descent::GradientDescent;
  using descent::Momentum;
  using descent::Nesterov;
  using descent::RMSprop;
  using descent::SGD;
  const S nan = S(kNaN);
  const S inf = S(kInf);

  require_invalid([] { GradientDescent<S>({S(-0.1)}); },
                  {"descent::GradientDescent", "lr", ">= 0", "-0.1"});
  require_invalid([&] { GradientDescent<S>({nan}); }, {"GradientDescent", "lr", "nan"});
  require_invalid([&] { GradientDescent<S>({inf}); }, {"GradientDescent", "lr", "inf"});

  require_invalid([] { SGD<S>({S(-1)}); }, {"descent::SGD", "lr", "-1"});
  require_invalid([] { SGD<S>({S(0.1), S(1)}); }, {"descent::SGD", "momentum", "[0, 1)", "1"});
  require_invalid([] { SGD<S>({S(0.1), S(-0.5)}); }, {"SGD", "momentum", "-0.5"});
  require_invalid([] { SGD<S>({S(0.1), S(0.9), false, S(-2)}); }, {"SGD", "decay", "-2"});
  require_invalid([&] { SGD<S>({S(0.1), S(0.9), false, nan}); }, {"SGD", "decay", "nan"});

  require_invalid([] { Momentum<S>({S(0.1), S(1)}); }, {"descent::Momentum", "beta", "[0, 1)"});
  require_invalid([&] { Momentum<S>({S(0.1), nan}); }, {"Momentum", "beta", "nan"});
  require_invalid([] { Nesterov<S>({S(0.1), S(-0.25)}); }, {"descent::Nesterov", "beta", "-0.25"});
  require_invalid([] { Nesterov<S>({S(-3)}); }, {"Nesterov", "lr", "-3"});

  require_invalid([] { AdaGrad<S>({S(0.1), S(-1)}); }, {"descent::AdaGrad", "eps", "-1"});
  require_invalid(
      [] {
        AdaGrad<S>({S(0.1), S(1e-10), S(-0.5)});
      },
      {"AdaGrad", "initial_accumulator", "-0.5"});
  require_invalid([&] { AdaGrad<S>({inf}); }, {"AdaGrad", "lr", "inf"});

  require_invalid([] { RMSprop<S>({S(0.1), S(1)}); }, {"descent::RMSprop", "rho", "[0, 1)"});
  require_invalid([] { RMSprop<S>({S(0.1), S(0.9), S(-1e-8)}); }, {"RMSprop", "eps"});

  require_invalid(
      [] {
        Adam<S>({S(0.1), S(1.5)});
      },
      {"descent::Adam: beta1 must be in [0, 1), got 1.5"});
  require_invalid([] { Adam<S>({S(0.1), S(0.9), S(1)}); }, {"Adam", "beta2", "1"});
  require_invalid([] { Adam<S>({S(0.1), S(0.9), S(0.999), S(-1)}); }, {"Adam", "eps", "-1"});
  require_invalid([] { Adam<S>({S(-0.001)}); }, {"Adam", "lr", "-0.001"});

  // The variants' options.
  const auto with = [](auto options, auto&& change) {
    change(options);
    return options;
  };
  using descent::AdamW;
  using descent::EpsPlacement;
  using descent::MomentumForm;
  require_invalid(
      [&] {
        GradientDescent<S>(with(typename GradientDescent<S>::Options{},
                                [](auto& o) { o.weight_decay = S(-0.1); }));
      },
      {"descent::GradientDescent", "weight_decay", ">= 0", "-0.1"});
  require_invalid(
      [&] {
        Momentum<S>(with(typename Momentum<S>::Options{}, [&](auto& o) { o.weight_decay = nan; }));
      },
      {"descent::Momentum", "weight_decay", "nan"});
  require_invalid(
      [&] { SGD<S>(with(SGD<S>::Options::pytorch(), [](auto& o) { o.dampening = S(1.5); })); },
      {"descent::SGD", "dampening", "[0, 1]", "1.5"});
  require_invalid(
      [&] {
        SGD<S>(with(typename SGD<S>::Options{}, [](auto& o) {
          o.momentum = S(0.9);
          o.dampening = S(0.5);
        }));
      },
      {"descent::SGD", "dampening", "momentum_form PyTorch", "Keras"});
  require_invalid(
      [&] {
        SGD<S>(with(SGD<S>::Options::pytorch(), [](auto& o) {
          o.momentum = S(0.9);
          o.nesterov = true;
          o.dampening = S(0.1);
        }));
      },
      {"descent::SGD", "nesterov needs dampening 0", "0.1"});
  require_invalid(
      [&] {
        AdaGrad<S>(with(typename AdaGrad<S>::Options{}, [](auto& o) { o.lr_decay = S(-1); }));
      },
      {"descent::AdaGrad", "lr_decay", "-1"});
  require_invalid(
      [&] {
        AdaGrad<S>(with(typename AdaGrad<S>::Options{},
                        [](auto& o) { o.eps_placement = EpsPlacement::EpsHat; }));
      },
      {"descent::AdaGrad", "eps_placement", "EpsHat", "Adam"});
  require_invalid(
      [&] {
        RMSprop<S>(with(typename RMSprop<S>::Options{},
                        [](auto& o) { o.eps_placement = EpsPlacement::EpsHat; }));
      },
      {"descent::RMSprop", "eps_placement", "EpsHat"});
  require_invalid(
      [&] { RMSprop<S>(with(typename RMSprop<S>::Options{}, [](auto& o) { o.momentum = S(1); })); },
      {"descent::RMSprop", "momentum", "[0, 1)", "1"});
  require_invalid(
      [&] {
        Adam<S>(with(typename Adam<S>::Options{}, [](auto& o) { o.weight_decay = S(-0.01); }));
      },
      {"descent::Adam", "weight_decay", "-0.01"});
  require_invalid(
      [&] { AdamW<S>(with(typename AdamW<S>::Options{}, [&](auto& o) { o.weight_decay = inf; })); },
      {"descent::AdamW", "weight_decay", "inf"});
  require_invalid(
      [&] { AdamW<S>(with(typename AdamW<S>::Options{}, [](auto& o) { o.beta1 = S(1); })); },
      {"descent::AdamW: beta1 must be in [0, 1), got 1"});

  // The boundaries that are allowed.
  CHECK_NOTHROW(SGD<S>(with(SGD<S>::Options::pytorch(), [](auto& o) { o.dampening = S(1); })));
  CHECK_NOTHROW(Adam<S>(
      with(typename Adam<S>::Options{}, [](auto& o) { o.eps_placement = EpsPlacement::EpsHat; })));
  CHECK_NOTHROW(SGD<S>({S(0), S(0), true, S(0)}));
  CHECK_NOTHROW(Adam<S>({S(0), S(0), S(0), S(0)}));
  CHECK_NOTHROW(Momentum<S>({S(1e6), S(0.999999)}));
}

TEMPLATE_LIST_TEST_CASE("errors: set_lr refuses a bad lr and keeps the old one", "[errors]",
                        support::AllOptimizers) {
  using S = typename TestType::Scalar;
  for (const auto& make : support::makers<TestType>()) {
    auto opt = make();
    const S before = opt->lr();
    INFO(opt->name());
    require_invalid([&] { opt->set_lr(S(-0.5)); }, {std::string(opt->name()), "lr", "-0.5"});
    require_invalid([&] { opt->set_lr(S(kNaN)); }, {"lr", "nan"});
    CHECK(opt->lr() == before);
    opt->set_lr(S(0.25));
    CHECK(opt->lr() == S(0.25));
  }
}

TEMPLATE_LIST_TEST_CASE("errors: a size mismatch names both sizes and changes nothing", "[errors]",
                        support::AllOptimizers) {
  using S = typename TestType::Scalar;
  const support::Bowl<S> bowl(6);
  for (const auto& make : support::makers<TestType>()) {
    auto opt = make();
    auto twin = make();  // never sees the bad calls
    INFO(opt->name());
    Vec<S> x = bowl.start();
    Vec<S> y = bowl.start();
    opt->step(x, bowl.grad(x));
    twin->step(y, bowl.grad(y));

    // params and grad of different sizes
    const Vec<S> before = x;
    const Vec<S> short_grad = Vec<S>::Ones(5);
    require_invalid([&] { opt->step(x, short_grad); },
                    {"descent::" + std::string(opt->name()) + "::step", "6", "5"});
    // a size other than the one the state was built for
    Vec<S> longer = Vec<S>::Ones(7);
    const Vec<S> longer_grad = Vec<S>::Ones(7);
    require_invalid([&] { opt->step(longer, longer_grad); }, {"7", "6", "reset()"});
    CHECK(support::bitwise_equal(longer, Vec<S>::Ones(7)));

    CHECK(support::bitwise_equal(x, before));
    CHECK(opt->iterations() == 1);
    // The state is intact: the next step is the twin's next step.
    opt->step(x, bowl.grad(x));
    twin->step(y, bowl.grad(y));
    CHECK(support::bitwise_equal(x, y));

    // reset() forgets the size: 7 is now fine, and behaves like a fresh start.
    opt->reset();
    CHECK(opt->iterations() == 0);
    CHECK(opt->state_size() == -1);
    auto fresh = make();
    Vec<S> z = Vec<S>::Ones(7);
    opt->step(longer, longer_grad);
    fresh->step(z, longer_grad);
    CHECK(support::bitwise_equal(longer, z));
    CHECK(opt->state_size() == 7);
  }
}

TEMPLATE_LIST_TEST_CASE("errors: a step on empty vectors does nothing", "[errors]",
                        support::AllOptimizers) {
  using S = typename TestType::Scalar;
  for (const auto& make : support::makers<TestType>()) {
    auto opt = make();
    Vec<S> empty;
    opt->step(empty, Vec<S>());
    CHECK(opt->iterations() == 0);
    CHECK(opt->state_size() == -1);
    Vec<S> x = Vec<S>::Ones(3);
    opt->step(x, Vec<S>::Ones(3));
    opt->step(empty, Vec<S>());
    CHECK(opt->iterations() == 1);
    CHECK(opt->state_size() == 3);
  }
}

TEMPLATE_TEST_CASE("errors: params that are not contiguous are refused", "[errors]", float,
                   double) {
  using S = TestType;
  using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  descent::Adam<S> adam;
  Mat m = Mat::Ones(3, 4);
  const Mat before = m;
  // A row of a column-major matrix is strided; a 2×2 block has gaps.
  require_invalid([&] { adam.step(m.row(0), Vec<S>::Ones(4).transpose()); },
                  {"descent::Adam::step", "contiguous"});
  require_invalid([&] { adam.step(m.block(0, 0, 2, 2), Mat::Ones(2, 2)); }, {"contiguous"});
  CHECK(m == before);
  CHECK(adam.iterations() == 0);
  // Whole columns are contiguous.
  CHECK_NOTHROW(adam.step(m.middleCols(1, 2), Mat::Ones(3, 2)));
}

TEMPLATE_TEST_CASE("errors: matrices of different storage orders are refused", "[errors]", float,
                   double) {
  using S = TestType;
  using ColMajor = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
  using RowMajor = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  descent::GradientDescent<S> gd;
  ColMajor params = ColMajor::Ones(2, 3);
  const RowMajor grad = RowMajor::Ones(2, 3);
  require_invalid([&] { gd.step(params, grad); }, {"storage order"});
  CHECK(params == ColMajor::Ones(2, 3));
}

TEST_CASE("errors: schedulers refuse bad arguments and bad lrs without changing anything",
          "[errors][scheduler]") {
  descent::Adam<double> adam({0.1});
  require_invalid([&] { descent::StepLR<double>(adam, 0); },
                  {"descent::StepLR", "step_size", ">= 1", "0"});
  require_invalid([&] { descent::StepLR<double>(adam, -3, 0.5); }, {"step_size", "-3"});
  require_invalid([&] { descent::StepLR<double>(adam, 10, 0.0); }, {"StepLR", "gamma", "> 0"});
  require_invalid([&] { descent::StepLR<double>(adam, 10, -0.5); }, {"gamma", "-0.5"});
  require_invalid([&] { descent::StepLR<double>(adam, 10, kNaN); }, {"gamma", "nan"});
  require_invalid([&] { descent::LambdaLR<double>(adam, nullptr); }, {"LambdaLR", "lambda"});
  require_invalid([&] { descent::LambdaLR<double>(adam, [](std::int64_t) { return -1.0; }); },
                  {"LambdaLR", "epoch 0", "-0.1"});
  CHECK(adam.lr() == 0.1);

  // A schedule that turns bad later: the failing step changes nothing.
  descent::LambdaLR<double> schedule(adam,
                                     [](std::int64_t e) { return e < 3 ? 1.0 / (e + 1) : kNaN; });
  schedule.step();
  schedule.step();
  CHECK(schedule.epoch() == 2);
  CHECK(adam.lr() == 0.1 * (1.0 / 3));
  require_invalid([&] { schedule.step(); }, {"LambdaLR", "epoch 3", "nan"});
  CHECK(schedule.epoch() == 2);
  CHECK(schedule.last_lr() == 0.1 * (1.0 / 3));
  CHECK(adam.lr() == 0.1 * (1.0 / 3));

  // An exception from the user's function passes through, also changing nothing.
  descent::LambdaLR<double> throwing(adam, [](std::int64_t e) -> double {
    if (e > 0) throw std::runtime_error("user function failed");
    return 1.0;
  });
  CHECK_THROWS_AS(throwing.step(), std::runtime_error);
  CHECK(throwing.epoch() == 0);
  CHECK(adam.lr() == 0.1 * (1.0 / 3));
}

TEST_CASE("errors: the sampler refuses bad sizes", "[errors][minibatch]") {
  require_invalid([] { descent::MinibatchSampler(10, 0, 1); },
                  {"descent::MinibatchSampler", "batch_size", ">= 1", "0"});
  require_invalid([] { descent::MinibatchSampler(10, -4, 1); }, {"batch_size", "-4"});
  require_invalid([] { descent::MinibatchSampler(-1, 4, 1); }, {"n_samples", ">= 0", "-1"});
}

TEMPLATE_LIST_TEST_CASE(
    "errors: every optimizer refuses a nonfinite policy outside its enumerators", "[errors]",
    support::AllOptimizers) {
  typename TestType::Options o;
  o.nonfinite = static_cast<descent::NonFinite>(9);
  require_invalid([&] { TestType{o}; },
                  {"descent::" + std::string(TestType::kName),
                   "nonfinite must be Propagate (0), Throw (1) or Skip (2), got 9"});
}
