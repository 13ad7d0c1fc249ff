// LambdaLR and StepLR (lecture section 9): PyTorch's protocol, the closed
// forms, and the lr each optimizer step then uses. The exact PyTorch
// sequences are in test_torch_reference.cpp.

#include <cmath>
#include <descent/descent.hpp>

#include "support.hpp"

using Catch::Matchers::WithinRel;

TEMPLATE_TEST_CASE("schedulers: LambdaLR applies lambda(0) at construction, then one epoch a step",
                   "[scheduler]", float, double) {
  using S = TestType;
  descent::Adam<S> adam({S(0.2)});
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
  descent::SGD<S> sgd({S(0.05)});
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
  descent::GradientDescent<S> gd({S(1)});
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
  descent::RMSprop<S> rmsprop({S(0.1)});
  descent::Optimizer<S>& base = rmsprop;
  descent::StepLR<S> schedule(base, 1, 0.5);
  base.set_lr(S(7));
  schedule.step();
  CHECK(rmsprop.lr() == S(0.05));
  CHECK(schedule.base_lr() == S(0.1));
}
