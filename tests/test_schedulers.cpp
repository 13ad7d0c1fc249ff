// The schedulers (lecture section 9): PyTorch's protocol, the closed forms,
// the lr each optimizer step then uses, several optimizers per scheduler and
// every argument check. The exact PyTorch sequences are in
// test_torch_reference.cpp (LambdaLR, StepLR) and test_torch_schedules.cpp
// (the others).

#include "support.hpp"

#include <cmath>
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
  descent::LambdaLR<S> schedule(adam, [](long e) { return 0.5 / double(e + 1); });
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
  using V = std::vector<long>;
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
  descent::LambdaLR<double> lambda({&a, &b}, [](long) { return 1.0; });
  descent::OneCycleLR<double> one_cycle({&a, &b}, 0.1, 100);
  const std::vector<descent::Optimizer<double>*> both{&a, &b};
  using S = std::vector<descent::LRScheduler<double>*>;
  using V = std::vector<long>;
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
  CHECK(s2.milestones() == std::vector<long>{7});
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
