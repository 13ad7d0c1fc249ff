// The schedulers (lecture section 9): PyTorch's protocol, the closed forms,
// the lr each optimizer step then uses, several optimizers per scheduler and
// every argument check. The exact PyTorch sequences are in
// test_torch_reference.cpp (LambdaLR, StepLR) and test_torch_schedules.cpp
// (the others).

#include "data/warmup_cosine_reference.hpp"
#include "support.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <descent/descent.hpp>

using Catch::Matchers::WithinRel;

TEMPLATE_TEST_CASE("schedulers: LambdaLR applies lambda(0) at construction, then one epoch a step",
                   "[scheduler]", float, double) {
  using S = TestType;
  auto adam = support::with_options<descent::Adam<S>>([](auto& o) { o.lr = S(0.2); });
  descent::LambdaLR<S> schedule(adam, [](std::int64_t e) { return 0.5 / double(e + 1); });
  CHECK(schedule.epoch() == 0);
  CHECK(schedule.base_lr() == S(0.2));
  CHECK(adam.lr() == S(double(S(0.2)) * 0.5));
  for (long e = 1; e <= 10; ++e) {
    schedule.step();
    CHECK(schedule.epoch() == e);
    CHECK(schedule.last_lr() == S(double(S(0.2)) * (0.5 / double(e + 1))));
    CHECK(adam.lr() == schedule.last_lr());
  }
}

TEMPLATE_TEST_CASE("schedulers: StepLR is base * gamma^floor(epoch / step_size)", "[scheduler]",
                   float, double) {
  using S = TestType;
  auto sgd = support::with_options<descent::SGD<S>>([](auto& o) { o.lr = S(0.05); });
  descent::StepLR<S> schedule(sgd, 30, 0.1);
  CHECK(schedule.step_size() == 30);
  CHECK(schedule.gamma() == 0.1);
  double previous = double(sgd.lr());
  CHECK(previous == double(S(0.05)));
  for (long e = 1; e <= 100; ++e) {
    schedule.step();
    const double lr = double(sgd.lr());
    const double closed_form = double(S(0.05)) * std::pow(0.1, double(e / 30));
    INFO("epoch " << e);
    CHECK_THAT(lr, WithinRel(closed_form, 1e-6));
    // It changes exactly at the multiples of step_size (the PyTorch docs'
    // example: 0.05 below 30, 0.005 below 60, 0.0005 below 90, …).
    CHECK((lr != previous) == (e % 30 == 0));
    previous = lr;
  }
  CHECK_THAT(double(sgd.lr()), WithinRel(0.00005, 1e-6));
}
TEMPLATE_TEST_CASE("schedulers: the optimizer steps with the scheduled lr", "[scheduler]", float,
                   double) {
  using S = TestType;
  auto gd = support::with_options<descent::GradientDescent<S>>([](auto& o) { o.lr = S(1); });
  descent::StepLR<S> schedule(gd, 2, 0.5);
  support::Vec<S> x = support::Vec<S>::Zero(4);
  const support::Vec<S> g = support::Vec<S>::Ones(4);
  // lr 1, 1, 0.5, 0.5, 0.25: every value exact in binary.
  for (int e = 0; e < 5; ++e) {
    gd.step(x, g);
    schedule.step();
  }
  CHECK((x.array() == S(-3.25)).all());
}

TEMPLATE_TEST_CASE("schedulers: a scheduler overrides set_lr and keeps its own base", "[scheduler]",
                   float, double) {
  using S = TestType;
  auto rmsprop = support::with_options<descent::RMSprop<S>>([](auto& o) { o.lr = S(0.1); });
  descent::Optimizer<S>& base = rmsprop;
  descent::StepLR<S> schedule(base, 1, 0.5);
  base.set_lr(S(7));
  schedule.step();
  CHECK(rmsprop.lr() == S(0.05));
  CHECK(schedule.base_lr() == S(0.1));
}

// ---------------------------------------------------------------------------
// The schedulers added after StepLR and LambdaLR. Their exact PyTorch
// sequences, for one optimizer and two, are in test_torch_schedules.cpp.

namespace {

using Catch::Matchers::Contains;

/// Expects std::invalid_argument whose message holds `part` from `make`, and
/// the optimizers' lr unchanged.
template <typename Make>
void require_invalid(const Make& make, const std::string& part,
                     std::vector<descent::Optimizer<double>*> watched) {
  std::vector<double> before;
  for (auto* o : watched) before.push_back(o->lr());
  try {
    make();
    FAIL("no std::invalid_argument; expected one about " << part);
  } catch (const std::invalid_argument& e) {
    INFO("message: " << e.what());
    CHECK_THAT(std::string(e.what()), Contains(part));
  }
  for (std::size_t i = 0; i < watched.size(); ++i) CHECK(watched[i]->lr() == before[i]);
}
descent::GradientDescent<double> gd(double lr) {
  return support::with_options<descent::GradientDescent<double>>([&](auto& o) { o.lr = lr; });
}
}  // namespace
TEST_CASE("schedulers: one scheduler drives several optimizers, each from its own base lr",
          "[scheduler][sched]") {
  auto weights = support::with_options<descent::Adam<double>>([](auto& o) { o.lr = 0.1; });
  auto biases = support::with_options<descent::SGD<double>>([](auto& o) { o.lr = 0.02; });
  descent::StepLR<double> schedule({&weights, &biases}, 2, 0.5);
  REQUIRE(schedule.num_optimizers() == 2);
  CHECK(schedule.base_lr() == 0.1);
  CHECK(schedule.base_lr(1) == 0.02);
  CHECK(schedule.base_lrs() == std::vector<double>{0.1, 0.02});
  for (int e = 1; e <= 6; ++e) schedule.step();
  CHECK(weights.lr() == 0.1 * 0.5 * 0.5 * 0.5);
  CHECK(biases.lr() == 0.02 * 0.5 * 0.5 * 0.5);
  CHECK(schedule.last_lr() == weights.lr());
  CHECK(schedule.last_lr(1) == biases.lr());
  CHECK(schedule.last_lrs() == std::vector<double>{weights.lr(), biases.lr()});
  CHECK(schedule.lr_at(7, 1) == 0.02 * 0.5 * 0.5 * 0.5);
  CHECK(schedule.optimizers()[1] == &biases);
  CHECK_THROWS_AS(schedule.lr_at(0, 2), std::out_of_range);
  CHECK_THROWS_AS(schedule.base_lr(2), std::out_of_range);
  // A std::vector of pointers works too.
  std::vector<descent::Optimizer<double>*> list{&weights, &biases};
  descent::ExponentialLR<double> exponential(list, 0.9);
  CHECK(exponential.base_lr(1) == biases.lr());
}

TEST_CASE("schedulers: the optimizer list is checked", "[scheduler][sched]") {
  auto a = gd(0.1);
  require_invalid([&] { descent::StepLR<double>(std::vector<descent::Optimizer<double>*>{}, 3); },
                  "descent::StepLR: optimizers must not be empty", {&a});
  require_invalid(
      [&] {
        descent::LinearLR<double>({&a, nullptr});
      },
      "descent::LinearLR: optimizer 1 is null", {&a});
  require_invalid(
      [&] {
        descent::CosineAnnealingLR<double>({&a, &a}, 10);
      },
      "descent::CosineAnnealingLR: optimizer 1 is optimizer 0 again", {&a});
}

TEST_CASE("schedulers: every argument is checked, and a refused one changes no lr",
          "[scheduler][sched][errors]") {
  auto a = gd(0.1), b = gd(0.2);
  const std::vector<descent::Optimizer<double>*> both{&a, &b};
  using V = std::vector<std::int64_t>;
  SECTION("MultiStepLR") {
    require_invalid(
        [&] {
          descent::MultiStepLR<double>(both, V{10, 5});
        },
        "descent::MultiStepLR: milestones[1] must be > milestones[0] = 10 "
        "(increasing), got 5",
        both);
    require_invalid([&] { descent::MultiStepLR<double>(both, V{3, 3}); }, "milestones[1]", both);
    require_invalid([&] { descent::MultiStepLR<double>(both, V{-1}); },
                    "milestones[0] must be >= 0, got -1", both);
    require_invalid([&] { descent::MultiStepLR<double>(both, V{5}, 0.0); },
                    "descent::MultiStepLR: gamma must be finite and > 0, got 0", both);
  }
  SECTION("ExponentialLR") {
    require_invalid([&] { descent::ExponentialLR<double>(both, -0.5); },
                    "descent::ExponentialLR: gamma must be finite and > 0, got -0.5", both);
    require_invalid([&] { descent::ExponentialLR<double>(both, INFINITY); }, "got inf", both);
  }
  SECTION("CosineAnnealingLR") {
    require_invalid([&] { descent::CosineAnnealingLR<double>(both, 0); },
                    "descent::CosineAnnealingLR: T_max must be >= 1, got 0", both);
    require_invalid([&] { descent::CosineAnnealingLR<double>(both, 10, -1e-3); },
                    "descent::CosineAnnealingLR: eta_min must be finite and >= 0, got -0.001",
                    both);
  }
  SECTION("LinearLR") {
    require_invalid([&] { descent::LinearLR<double>(both, 0.0); },
                    "descent::LinearLR: start_factor must be in (0, 1], got 0", both);
    require_invalid([&] { descent::LinearLR<double>(both, 1.5); }, "start_factor", both);
    require_invalid([&] { descent::LinearLR<double>(both, 0.5, 1.1); },
                    "descent::LinearLR: end_factor must be in [0, 1], got 1.1", both);
    require_invalid([&] { descent::LinearLR<double>(both, 0.5, 1.0, 0); },
                    "descent::LinearLR: total_iters must be >= 1, got 0", both);
  }
  SECTION("ConstantLR") {
    require_invalid([&] { descent::ConstantLR<double>(both, 0.0); },
                    "descent::ConstantLR: factor must be in (0, 1], got 0", both);
    require_invalid([&] { descent::ConstantLR<double>(both, 0.5, 0); },
                    "descent::ConstantLR: total_iters must be >= 1, got 0", both);
  }
  SECTION("OneCycleLR") {
    using O = descent::OneCycleLR<double>;
    O::Options o;
    require_invalid([&] { O(both, -0.1, 100); },
                    "descent::OneCycleLR: max_lr must be finite and >= 0, got -0.1", both);
    require_invalid(
        [&] {
          O(both, std::vector<double>{0.1, 0.2, 0.3}, 100);
        },
        "descent::OneCycleLR: the number of max_lr values must be 1 or the number "
        "of optimizers, 2, got 3",
        both);
    require_invalid([&] { O(both, 0.1, 0); }, "total_steps must be >= 1, got 0", both);
    o.pct_start = 1.5;
    require_invalid([&] { O(both, 0.1, 100, o); }, "pct_start must be in [0, 1], got 1.5", both);
    o = {};
    o.div_factor = 0;
    require_invalid([&] { O(both, 0.1, 100, o); }, "div_factor must be finite and > 0, got 0",
                    both);
    o = {};
    o.final_div_factor = NAN;
    require_invalid([&] { O(both, 0.1, 100, o); }, "final_div_factor must be finite and > 0", both);
    o = {};
    o.anneal_strategy = static_cast<O::Anneal>(7);
    require_invalid([&] { O(both, 0.1, 100, o); },
                    "anneal_strategy must be cos (0) or linear (1), got 7", both);
  }
  SECTION("ReduceLROnPlateau") {
    using P = descent::ReduceLROnPlateau<double>;
    auto refused = [&](const std::function<void(P::Options&)>& change, const std::string& part) {
      P::Options o;
      change(o);
      require_invalid([&] { P(both, o); }, part, both);
    };
    refused([](P::Options& o) { o.mode = static_cast<P::Mode>(2); },
            "descent::ReduceLROnPlateau: mode must be min (0) or max (1), got 2");
    refused([](P::Options& o) { o.factor = 1.0; }, "factor must be in [0, 1), got 1");
    refused([](P::Options& o) { o.patience = -1; }, "patience must be >= 0, got -1");
    refused([](P::Options& o) { o.threshold = -1e-4; },
            "threshold must be finite and >= 0, got -1e-04");
    refused([](P::Options& o) { o.threshold_mode = static_cast<P::ThresholdMode>(3); },
            "threshold_mode must be rel (0) or abs (1), got 3");
    refused([](P::Options& o) { o.cooldown = -2; }, "cooldown must be >= 0, got -2");
    refused(
        [](P::Options& o) {
          o.min_lr = {0.1, 0.2, 0.3};
        },
        "the number of min_lr values must be 1 or the number of optimizers, 2, got 3");
    refused([](P::Options& o) { o.min_lr = {-1.0}; }, "min_lr must be finite and >= 0, got -1");
    refused([](P::Options& o) { o.eps = NAN; }, "eps must be finite and >= 0, got nan");
  }
}
TEST_CASE("schedulers: SequentialLR and ChainedScheduler check their children",
          "[scheduler][sched][errors]") {
  auto a = gd(0.1), b = gd(0.2), c = gd(0.3);
  descent::LinearLR<double> warmup({&a, &b});
  descent::CosineAnnealingLR<double> cosine({&a, &b}, 10);
  descent::ExponentialLR<double> exponential({&a, &b}, 0.9);
  descent::ExponentialLR<double> other({&b, &a}, 0.9);
  descent::ExponentialLR<double> third(c, 0.9);
  descent::LambdaLR<double> lambda({&a, &b}, [](std::int64_t) { return 1.0; });
  descent::OneCycleLR<double> one_cycle({&a, &b}, 0.1, 100);
  const std::vector<descent::Optimizer<double>*> both{&a, &b};
  using S = std::vector<descent::LRScheduler<double>*>;
  using V = std::vector<std::int64_t>;
  using Seq = descent::SequentialLR<double>;
  using Chain = descent::ChainedScheduler<double>;
  require_invalid([&] { Seq(S{}, V{}); }, "descent::SequentialLR: schedulers must not be empty",
                  both);
  require_invalid(
      [&] {
        Seq(S{&warmup, nullptr}, V{5});
      },
      "descent::SequentialLR: schedulers[1] is null", both);
  require_invalid(
      [&] {
        Seq(S{&warmup, &cosine}, V{5, 6});
      },
      "descent::SequentialLR: the number of milestones must be the number of "
      "schedulers - 1 = 1, got 2",
      both);
  require_invalid(
      [&] {
        Seq(S{&warmup, &cosine, &exponential}, V{5, 5});
      },
      "milestones[1] must be > milestones[0] = 5", both);
  require_invalid(
      [&] {
        Seq(S{&warmup, &cosine}, V{0});
      },
      "milestones[0] must be >= 1, got 0", both);
  require_invalid(
      [&] {
        Seq(S{&warmup, &other}, V{5});
      },
      "schedulers[1] drives other optimizers than schedulers[0]", both);
  require_invalid([&] { Seq(S{&warmup, &third}, V{5}); }, "drives other optimizers", both);
  require_invalid(
      [&] {
        Seq(S{&warmup, &one_cycle}, V{5});
      },
      "schedulers[1] is a OneCycleLR", both);
  Seq sequence(S{&warmup, &cosine}, V{5});
  require_invalid(
      [&] {
        Seq(S{&sequence, &cosine}, V{5});
      },
      "schedulers[0] is a SequentialLR; SequentialLR and ChainedScheduler do not "
      "nest",
      both);
  require_invalid([&] { Chain(S{}); }, "descent::ChainedScheduler: schedulers must not be empty",
                  both);
  require_invalid(
      [&] {
        Chain(S{&warmup, &cosine});
      },
      "descent::ChainedScheduler: schedulers[1] is a CosineAnnealingLR: its PyTorch "
      "form is not a factor of a chain",
      both);
  require_invalid([&] { Chain(S{&lambda}); }, "schedulers[0] is a LambdaLR", both);
  require_invalid([&] { Chain(S{&warmup, &one_cycle}); }, "schedulers[1] is a OneCycleLR", both);
  require_invalid([&] { Chain(S{&warmup, &other}); }, "drives other optimizers", both);
  require_invalid([&] { Chain(S{&warmup, &sequence}); }, "do not nest", both);
}

TEST_CASE("schedulers: composites take the first child's base lrs, as PyTorch's initial_lr",
          "[scheduler][sched]") {
  auto a = gd(1.0);
  descent::ConstantLR<double> warm(a, 0.1, 2);
  descent::ExponentialLR<double> decay(a, 0.9);  // constructed at lr 0.1
  CHECK(decay.base_lr() == 0.1);
  descent::ChainedScheduler<double> chain({&warm, &decay});
  CHECK(chain.base_lr() == 1.0);
  CHECK(decay.base_lr() == 1.0);
  // PyTorch's docs example: 0.1, 0.09, 0.81, 0.729, ...
  CHECK(a.lr() == 0.1);
  chain.step();
  CHECK_THAT(a.lr(), WithinRel(0.09, 1e-15));
  chain.step();
  CHECK_THAT(a.lr(), WithinRel(0.81, 1e-15));
  chain.step();
  CHECK_THAT(a.lr(), WithinRel(0.729, 1e-15));
}
TEST_CASE("schedulers: OneCycleLR sets its own base, extrapolates step T, refuses T + 1",
          "[scheduler][sched]") {
  auto a = gd(123.0);
  descent::OneCycleLR<double> schedule(a, 0.25, 10);
  CHECK(schedule.base_lr() == 0.25 / 25);
  CHECK_THAT(a.lr(), WithinRel(0.25 / 25, 1e-15));  // max + (initial − max): rounded
  for (int e = 1; e <= 10; ++e) schedule.step();
  CHECK(a.lr() > 0.25 / 25 / 1e4);  // step T: cos past the end rises again
  const double at_t = a.lr();
  try {
    schedule.step();
    FAIL("no exception past total_steps");
  } catch (const std::invalid_argument& e) {
    CHECK_THAT(std::string(e.what()),
               Contains("descent::OneCycleLR: step 11 is past total_steps 10"));
  }
  CHECK(schedule.epoch() == 10);
  CHECK(a.lr() == at_t);
}

TEST_CASE("schedulers: ReduceLROnPlateau keeps its state and starts from the current lr",
          "[scheduler][sched]") {
  auto a = gd(0.1);
  descent::ReduceLROnPlateau<double>::Options o;
  o.patience = 1;
  o.factor = 0.5;
  o.cooldown = 1;
  descent::ReduceLROnPlateau<double> plateau(a, o);
  CHECK(plateau.best() == INFINITY);
  CHECK(a.lr() == 0.1);  // construction does not change the lr
  plateau.step(1.0);     // better
  CHECK(plateau.best() == 1.0);
  plateau.step(1.0);  // bad 1
  CHECK(plateau.num_bad_epochs() == 1);
  plateau.step(NAN);  // bad 2 > patience: reduce, cool down
  CHECK(a.lr() == 0.05);
  CHECK(plateau.in_cooldown());
  CHECK(plateau.cooldown_counter() == 1);
  a.set_lr(0.4);      // an lr set in between is the one reduced
  plateau.step(2.0);  // bad, but in cooldown: not counted
  CHECK(plateau.num_bad_epochs() == 0);
  plateau.step(2.0);
  plateau.step(2.0);
  CHECK(a.lr() == 0.2);
  CHECK(plateau.last_lr() == 0.2);
  CHECK(plateau.epoch() == 6);
}

TEST_CASE("schedulers: checkpoints of the new schedulers refuse what does not fit",
          "[scheduler][sched][checkpoint]") {
  auto a = gd(0.1), b = gd(0.2);
  descent::StepLR<double> two({&a, &b}, 3);
  descent::StepLR<double> single(a, 3);
  std::stringstream saved_two, saved_single;
  two.save(saved_two);
  single.save(saved_single);
  descent::StepLR<double> target(b, 4);
  try {
    target.load(saved_two);
    FAIL("no CheckpointError");
  } catch (const descent::CheckpointError& e) {
    CHECK_THAT(std::string(e.what()), Contains("unexpected bytes"));
  }
  descent::StepLR<double> target_two({&b, &a}, 4);
  try {
    target_two.load(saved_single);
    FAIL("no CheckpointError");
  } catch (const descent::CheckpointError& e) {
    CHECK_THAT(std::string(e.what()), Contains("truncated in optimizer count"));
  }
  CHECK(target_two.step_size() == 4);
  // A SequentialLR whose second child is of another kind.
  descent::LinearLR<double> w1(a), w2(a);
  descent::CosineAnnealingLR<double> c1(a, 10);
  descent::ExponentialLR<double> e2(a, 0.9);
  descent::SequentialLR<double> s1({&w1, &c1}, {5});
  descent::SequentialLR<double> s2({&w2, &e2}, {7});
  std::stringstream saved;
  s1.save(saved);
  try {
    s2.load(saved);
    FAIL("no CheckpointError");
  } catch (const descent::CheckpointError& e) {
    CHECK_THAT(std::string(e.what()),
               Contains("the checkpoint holds a CosineAnnealingLR where this holds a "
                        "ExponentialLR"));
  }
  CHECK(s2.milestones() == std::vector<std::int64_t>{7});
  // A ReduceLROnPlateau checkpoint is not a StepLR's.
  descent::ReduceLROnPlateau<double> plateau(a);
  std::stringstream saved_plateau;
  plateau.save(saved_plateau);
  CHECK_THROWS_AS(single.load(saved_plateau), descent::CheckpointError);
}
TEMPLATE_TEST_CASE("schedulers: a linear warm-up then a cosine, by hand, rounded once to Scalar",
                   "[scheduler][sched]", float, double) {
  using S = TestType;
  auto sgd = support::with_options<descent::SGD<S>>([](auto& o) { o.lr = S(0.1); });
  descent::LinearLR<S> warmup(sgd, 0.1, 1.0, 5);
  descent::CosineAnnealingLR<S> cosine(sgd, 45, 0.001);
  descent::SequentialLR<S> schedule({&warmup, &cosine}, {5});
  // Both children start from base 0.1 (the first child's). Warm-up, epochs
  // 0-4: 0.1·(0.1 + 0.9·e/5). Then the cosine on k = e − 5:
  // 0.001 + 0.099·(1 + cos(π·k/45))/2, which is 0.1 at k = 0, 0.07525 at
  // k = 15 (cos = 1/2), 0.02575 at k = 30 (cos = −1/2) and 0.001 at k = 45.
  const std::map<long, double> expected{{0, 0.01},     {1, 0.028},    {2, 0.046},
                                        {3, 0.064},    {4, 0.082},    {5, 0.1},
                                        {20, 0.07525}, {35, 0.02575}, {50, 0.001}};
  // The schedule is computed in double and rounded to Scalar once, so a
  // float lr is the float nearest the exact value.
  for (long e = 0; e <= 50; ++e) {
    if (e > 0) schedule.step();
    const auto it = expected.find(e);
    if (it == expected.end()) continue;
    INFO("epoch " << e);
    CHECK_THAT(double(sgd.lr()), WithinRel(double(static_cast<S>(it->second)), 1e-14));
  }
}

// ---------------------------------------------------------------------------
// Momentum and weight decay as scheduled hyperparameters, and the schedulers
// of torch 1.13 added with them (their PyTorch sequences are in
// test_torch_schedules.cpp).

namespace {

/// The message of the std::invalid_argument that f throws, or "".
template <typename F>
std::string invalid_message(const F& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("optimizers: momentum or beta1 and weight decay are set through Optimizer<S>",
          "[scheduler][sched][momentum]") {
  descent::SGD<double> sgd;
  descent::Momentum<double> momentum;
  descent::Adam<double> adam;
  descent::AdaGrad<double> adagrad;
  descent::RMSprop<double> rmsprop;
  CHECK(static_cast<descent::Optimizer<double>&>(sgd).momentum_option() == "momentum");
  CHECK(momentum.momentum_option() == "beta");
  CHECK(adam.momentum_option() == "beta1");
  CHECK(rmsprop.momentum_option() == "momentum");
  CHECK(adagrad.momentum_option().empty());
  CHECK_FALSE(adagrad.has_momentum());
  CHECK(adam.has_momentum());

  descent::Optimizer<double>& o = adam;
  CHECK(o.momentum() == 0.9);
  o.set_momentum(0.5);
  CHECK(adam.options().beta1 == 0.5);
  CHECK(o.momentum() == 0.5);
  o.set_weight_decay(0.25);
  CHECK(adam.options().weight_decay == 0.25);
  CHECK(o.weight_decay() == 0.25);

  // Refused with the constructor's own message, and nothing changes.
  const std::string constructor = invalid_message([] {
    descent::Adam<double>::Options bad;
    bad.beta1 = 1.5;
    descent::Adam<double>{bad};
  });
  CHECK(constructor == "descent::Adam: beta1 must be in [0, 1), got 1.5");
  CHECK(invalid_message([&] { o.set_momentum(1.5); }) == constructor);
  CHECK(invalid_message([&] { o.set_weight_decay(-1); }) ==
        "descent::Adam: weight_decay must be finite and >= 0, got -1");
  CHECK(invalid_message([&] { momentum.set_momentum(-0.1); }) ==
        "descent::Momentum: beta must be in [0, 1), got -0.1");
  CHECK(o.momentum() == 0.5);
  CHECK(o.weight_decay() == 0.25);
  CHECK(invalid_message([&] { adagrad.set_momentum(0.9); }) ==
        "descent::AdaGrad::set_momentum: AdaGrad has no momentum or beta1 option");
  CHECK(invalid_message([&] { static_cast<void>(adagrad.momentum()); }) ==
        "descent::AdaGrad::momentum: AdaGrad has no momentum or beta1 option");
}

TEST_CASE("optimizers: a set momentum steps and saves as one given at construction",
          "[scheduler][sched][momentum][checkpoint]") {
  using Vec = Eigen::VectorXd;
  const Vec g = Vec::LinSpaced(5, -1.0, 2.0);
  auto with_beta1 = [](double beta1) {
    return support::with_options<descent::Adam<double>>([&](auto& o) { o.beta1 = beta1; });
  };
  descent::Adam<double> set = with_beta1(0.9), built = with_beta1(0.6), plain = with_beta1(0.9);
  // Untouched options save to the bytes they always had.
  CHECK(support::bytes_of(set) == support::bytes_of(plain));
  set.set_momentum(0.6);
  CHECK(support::bytes_of(set) == support::bytes_of(built));
  Vec x = Vec::Ones(5), y = Vec::Ones(5);
  for (int k = 0; k < 3; ++k) {
    set.step(x, g);
    built.step(y, g);
  }
  CHECK(x == y);
  // Changed between steps: the checkpoint holds it and a load restores it.
  set.set_momentum(0.3);
  set.set_weight_decay(0.01);
  const std::string saved = support::bytes_of(set);
  std::istringstream in(saved);
  plain.load(in);
  CHECK(plain.momentum() == 0.3);
  CHECK(plain.weight_decay() == 0.01);
  CHECK(support::bytes_of(plain) == saved);
}

TEST_CASE("optimizers: SGD's momentum cannot switch its velocity on or off between steps",
          "[scheduler][sched][momentum]") {
  descent::SGD<double> sgd;
  sgd.set_momentum(0.5);  // before the first step: the velocity is built for it
  CHECK(sgd.options().momentum == 0.5);
  Eigen::VectorXd x = Eigen::VectorXd::Ones(3);
  sgd.step(x, x);
  sgd.set_momentum(0.7);
  CHECK(invalid_message([&] { sgd.set_momentum(0); }) ==
        "descent::SGD: momentum 0 would drop the state array velocity after the first step; "
        "set it before the first step, or reset()");
  CHECK(sgd.momentum() == 0.7);
  sgd.reset();
  sgd.set_momentum(0);
  CHECK(sgd.momentum() == 0);
}

TEST_CASE(
    "schedulers: the new schedulers check every argument, and a refused one changes "
    "nothing",
    "[scheduler][sched][errors]") {
  auto a = gd(0.1), b = gd(0.2);
  const std::vector<descent::Optimizer<double>*> both{&a, &b};
  SECTION("MultiplicativeLR") {
    require_invalid([&] { descent::MultiplicativeLR<double>(both, nullptr); },
                    "descent::MultiplicativeLR: lambda must not be empty", both);
  }
  SECTION("PolynomialLR") {
    require_invalid([&] { descent::PolynomialLR<double>(both, 0); },
                    "descent::PolynomialLR: total_iters must be >= 1, got 0", both);
    require_invalid([&] { descent::PolynomialLR<double>(both, 5, -1.0); },
                    "descent::PolynomialLR: power must be finite and >= 0, got -1", both);
  }
  SECTION("CosineAnnealingWarmRestarts") {
    using W = descent::CosineAnnealingWarmRestarts<double>;
    require_invalid([&] { W(both, 0); },
                    "descent::CosineAnnealingWarmRestarts: T_0 must be >= 1, got 0", both);
    require_invalid([&] { W(both, 5, 0); },
                    "descent::CosineAnnealingWarmRestarts: T_mult must be >= 1, got 0", both);
    require_invalid([&] { W(both, 5, 1, -0.5); },
                    "descent::CosineAnnealingWarmRestarts: eta_min must be finite and >= 0, got "
                    "-0.5",
                    both);
    W w(both, 5);
    w.step();
    require_invalid([&] { w.step(-1.0); },
                    "descent::CosineAnnealingWarmRestarts: epoch must be finite, >= 0 and < 2^63, "
                    "got -1",
                    both);
    require_invalid([&] { w.step(NAN); }, "epoch must be finite", both);
    require_invalid([&] { w.step(1e300); }, "got 1e+300", both);
    CHECK(w.epoch() == 1);
    CHECK(w.T_cur() == 1);
  }
  SECTION("CyclicLR") {
    using C = descent::CyclicLR<double>;
    C::Options o;
    require_invalid([&] { C(both, -0.1, 0.1); },
                    "descent::CyclicLR: base_lr must be finite and >= 0, got -0.1", both);
    require_invalid([&] { C(both, 0.1, INFINITY); }, "max_lr must be finite and >= 0, got inf",
                    both);
    require_invalid(
        [&] {
          C(both, std::vector<double>{0.1, 0.2, 0.3}, std::vector<double>{1});
        },
        "descent::CyclicLR: the number of base_lr values must be 1 or the number of "
        "optimizers, 2, got 3",
        both);
    o.step_size_up = 0;
    require_invalid([&] { C(both, 0.01, 0.1, o); },
                    "descent::CyclicLR: step_size_up must be finite and > 0, got 0", both);
    o = C::Options();
    o.step_size_down = NAN;
    require_invalid([&] { C(both, 0.01, 0.1, o); }, "step_size_down must be finite, got nan", both);
    o = C::Options();
    o.mode = static_cast<C::Mode>(7);
    require_invalid([&] { C(both, 0.01, 0.1, o); },
                    "descent::CyclicLR: mode must be triangular (0), triangular2 (1) or exp_range "
                    "(2), got 7",
                    both);
    o = C::Options();
    o.gamma = 0;
    require_invalid([&] { C(both, 0.01, 0.1, o); }, "gamma must be finite and > 0, got 0", both);
    o = C::Options();
    o.max_momentum = {1.0};
    require_invalid([&] { C(both, 0.01, 0.1, o); },
                    "descent::CyclicLR: max_momentum must be in [0, 1), got 1", both);
    o = C::Options();
    o.cycle_momentum = true;
    require_invalid([&] { C(both, 0.01, 0.1, o); },
                    "descent::CyclicLR: cycle_momentum needs optimizers with a momentum or beta1, "
                    "and optimizer 0 is a GradientDescent, which has none",
                    both);
  }
  SECTION("OneCycleLR's momenta") {
    using One = descent::OneCycleLR<double>;
    One::Options o;
    o.base_momentum = {1.2};
    require_invalid([&] { One(both, 0.1, 10, o); },
                    "descent::OneCycleLR: base_momentum must be in [0, 1), got 1.2", both);
    o = One::Options();
    o.cycle_momentum = true;
    require_invalid([&] { One(both, 0.1, 10, o); },
                    "descent::OneCycleLR: cycle_momentum needs optimizers", both);
  }
}

TEST_CASE("schedulers: a momentum an optimizer refuses changes no optimizer and no epoch",
          "[scheduler][sched][momentum]") {
  descent::Adam<double> adam;
  auto sgd = support::with_options<descent::SGD<double>>([](auto& o) { o.momentum = 0.9; });
  Eigen::VectorXd x = Eigen::VectorXd::Ones(2);
  sgd.step(x, x);  // the velocity is built: SGD now refuses momentum 0
  using C = descent::CyclicLR<double>;
  C::Options o;
  o.step_size_up = 2;
  o.cycle_momentum = true;
  o.base_momentum = {0.0};
  C schedule({&adam, &sgd}, 0.01, 0.1, o);
  CHECK(adam.momentum() == 0.9);  // epoch 0: max_momentum
  schedule.step();                // halfway up: 0.45
  CHECK(adam.momentum() == 0.45);
  CHECK(sgd.momentum() == 0.45);
  const std::string message = invalid_message([&] { schedule.step(); });
  CHECK_THAT(message, Contains("descent::CyclicLR: the schedule gives momentum 0 at epoch 2 for "
                               "optimizer 1, which the optimizer refuses: descent::SGD: momentum "
                               "0 would drop the state array velocity"));
  CHECK(schedule.epoch() == 1);
  CHECK(adam.momentum() == 0.45);
  CHECK(sgd.momentum() == 0.45);
  CHECK(adam.lr() == schedule.lr_at(1));
}

TEST_CASE("schedulers: hand-computed values of the new schedulers", "[scheduler][sched]") {
  auto a = gd(0.1);
  // CyclicLR, triangular2 over 4 up and 4 down: heights 1, 1/2, 1/4.
  using C = descent::CyclicLR<double>;
  C::Options o;
  o.step_size_up = 4;
  o.mode = C::Mode::triangular2;
  C cyclic(a, 0.0, 0.8, o);
  CHECK(cyclic.lr_at(0) == 0.0);
  CHECK(cyclic.lr_at(2) == 0.4);
  CHECK(cyclic.lr_at(4) == 0.8);
  CHECK(cyclic.lr_at(6) == 0.4);
  CHECK(cyclic.lr_at(12) == 0.4);
  CHECK(cyclic.lr_at(20) == 0.2);
  CHECK(a.lr() == 0.0);
  // PolynomialLR, power 2 over 4: 1, 9/16, 1/4, 1/16, 0.
  auto c = gd(1.0);
  descent::PolynomialLR<double> square(c, 4, 2.0);
  const double want[] = {1, 0.5625, 0.25, 0.0625, 0, 0};
  for (long e = 0; e <= 5; ++e) CHECK(square.lr_at(e) == want[e]);
  // CosineAnnealingWarmRestarts, T_0 2, T_mult 2: runs of 2, 4, 8 epochs.
  auto d = gd(1.0);
  descent::CosineAnnealingWarmRestarts<double> warm(d, 2, 2);
  CHECK(warm.lr_at(0) == 1.0);
  CHECK_THAT(warm.lr_at(1), WithinRel(0.5, 1e-15));
  CHECK(warm.lr_at(2) == 1.0);  // restart
  CHECK_THAT(warm.lr_at(4), WithinRel(0.5, 1e-15));
  CHECK(warm.lr_at(6) == 1.0);  // restart after 2 + 4
  warm.step(3.0);               // T_cur 1 of T_i 4
  CHECK(warm.T_i() == 4);
  CHECK(warm.T_cur() == 1);
  CHECK_THAT(d.lr(), WithinRel((1 + std::cos(3.141592653589793 / 4)) / 2, 1e-15));
}

TEST_CASE("schedulers: WarmupCosineLR is optax's and Keras's schedule, also resumed mid-warm-up",
          "[scheduler][sched][optax][keras]") {
  namespace ref = warmup_cosine_reference;
  using W = descent::WarmupCosineLR<double>;
  for (const ref::Case* c : {&ref::optax_basic, &ref::optax_end_exponent, &ref::optax_no_warmup,
                             &ref::keras_basic, &ref::keras_alpha}) {
    INFO(c->call);
    const double* a = c->args;
    const auto make = [&](const descent::OptimizerList<double>& l) {
      return c->keras ? W::keras(l, a[0], long(a[1]), a[2], a[3], long(a[4]))
                      : W::optax(l, a[0], a[1], long(a[2]), long(a[3]), a[4], a[5]);
    };
    auto x = gd(0.5), y = gd(0.7);
    W s = make({&x, &y});
    const long warmup = s.warmup_steps();
    const long save_at = warmup / 2;  // mid-warm-up (step 0 when there is none)
    std::string saved;
    double worst = 0;
    for (long e = 0; e < ref::kSteps; ++e) {
      if (e > 0) s.step();
      INFO("step " << e);
      const double want = c->lr[e];
      const double rel = want == 0 ? std::abs(x.lr()) : std::abs(x.lr() - want) / want;
      worst = std::max(worst, rel);
      CHECK(rel <= 1e-12);
      CHECK(y.lr() == x.lr());
      if (e == save_at) saved = support::bytes_of(s);
    }
    if (std::getenv("DESCENT_PRINT_ERRORS") != nullptr) {
      std::printf("worst relative error %.3g: %s\n", worst, c->call);
    }
    auto u = gd(0.1), v = gd(0.1);
    W t = make({&u, &v});
    std::istringstream in(saved);
    t.load(in);
    REQUIRE(t.epoch() == save_at);
    for (long e = save_at + 1; e < ref::kSteps; ++e) {
      t.step();
      CHECK(t.lr_at(e) == s.lr_at(e));
      CHECK(u.lr() == s.lr_at(e));
    }
    CHECK(support::bytes_of(t) == support::bytes_of(s));
  }
}

TEST_CASE("schedulers: WarmupCosineLR checks its arguments and its checkpoints",
          "[scheduler][sched][errors]") {
  using W = descent::WarmupCosineLR<double>;
  auto a = gd(0.1);
  const std::vector<descent::Optimizer<double>*> one{&a};
  require_invalid([&] { W::optax(one, 0.0, 0.1, 10, 10); },
                  "descent::WarmupCosineLR: decay_steps must be > warmup_steps = 10 (optax's "
                  "counts the warm-up), got 10",
                  one);
  require_invalid([&] { W::optax(one, 0.0, 0.1, -1, 10); },
                  "descent::WarmupCosineLR: warmup_steps must be >= 0, got -1", one);
  require_invalid([&] { W::optax(one, 0.0, -0.1, 1, 10); },
                  "descent::WarmupCosineLR: peak_value must be finite and >= 0, got -0.1", one);
  require_invalid([&] { W::optax(one, NAN, 0.1, 1, 10); }, "init_value must be finite", one);
  require_invalid([&] { W::optax(one, 0.0, 0.1, 1, 10, 0.0, -1.0); },
                  "descent::WarmupCosineLR: exponent must be finite and >= 0, got -1", one);
  require_invalid([&] { W::keras(one, 0.0, 0, 0.0, 0.1, 5); },
                  "descent::WarmupCosineLR: decay_steps must be >= 1, got 0", one);
  require_invalid([&] { W::keras(one, 0.0, 10, -0.5, 0.1, 5); },
                  "descent::WarmupCosineLR: alpha must be finite and >= 0, got -0.5", one);
  // A checkpoint of another form's schedule loads (the form is data); one
  // whose decay_steps is 0 is refused and changes nothing.
  W optax = W::optax(one, 0.0, 0.1, 10, 100);
  W keras = W::keras(one, 0.0, 90, 0.0, 0.1, 10);
  std::istringstream optax_bytes(support::bytes_of(optax));
  keras.load(optax_bytes);
  CHECK(keras.form() == W::Form::optax);
  CHECK(keras.decay_steps() == 90);
  std::string bytes = support::bytes_of(optax);
  const std::string before = support::bytes_of(keras);
  // The payload ends with ... warmup_steps, decay_steps, alpha, exponent, then
  // the checksum: decay_steps is 8 + 8 + 8 + 4 bytes from the end.
  const std::size_t decay_at = bytes.size() - 4 - 8 - 8 - 8;
  for (int b = 0; b < 8; ++b) bytes[decay_at + std::size_t(b)] = 0;
  const std::uint32_t crc = descent::detail::crc32(
      reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size() - 4);
  for (int b = 0; b < 4; ++b) bytes[bytes.size() - 4 + std::size_t(b)] = char(crc >> (8 * b));
  std::istringstream in(bytes);
  try {
    keras.load(in);
    FAIL("no CheckpointError");
  } catch (const descent::CheckpointError& e) {
    CHECK_THAT(std::string(e.what()), Contains("decay_steps must be >= 1, got 0"));
  }
  CHECK(support::bytes_of(keras) == before);
}
