// set_threads: a step split across threads gives the same bits as one thread.

#include <functional>
#include <memory>
#include <vector>

#include <descent/descent.hpp>

#include "support.hpp"

using support::Vec;

namespace {

template <typename S>
std::vector<std::function<std::unique_ptr<descent::Optimizer<S>>()>> every_kernel() {
  using namespace descent;
  const EpsPlacement out = EpsPlacement::OutsideSqrt;
  return {
      [] { return std::make_unique<GradientDescent<S>>(); },
      [] {
        return std::make_unique<SGD<S>>(typename SGD<S>::Options{S(0.01), S(0.9)});
      },
      [] {
        return std::make_unique<SGD<S>>(typename SGD<S>::Options{S(0.01), S(0.9), true});
      },
      [] { return std::make_unique<Momentum<S>>(); },
      [] { return std::make_unique<Nesterov<S>>(); },
      [] { return std::make_unique<AdaGrad<S>>(); },
      [=] {
        return std::make_unique<AdaGrad<S>>(
            typename AdaGrad<S>::Options{S(0.01), S(1e-10), S(0), EpsPlacement::InsideSqrt});
      },
      [] { return std::make_unique<RMSprop<S>>(); },
      [=] {
        return std::make_unique<RMSprop<S>>(
            typename RMSprop<S>::Options{S(0.1), S(0.99), S(1e-8), out});
      },
      [] { return std::make_unique<Adam<S>>(); },
      [=] {
        return std::make_unique<Adam<S>>(
            typename Adam<S>::Options{S(0.001), S(0.9), S(0.999), S(1e-8), out});
      },
      // The variants' kernels.
      [] {
        auto o = SGD<S>::Options::pytorch();
        o.momentum = S(0.9);
        o.weight_decay = S(0.01);
        return std::make_unique<SGD<S>>(o);
      },
      [] {
        auto o = AdaGrad<S>::Options::pytorch();
        o.lr_decay = S(0.1);
        o.maximize = true;
        return std::make_unique<AdaGrad<S>>(o);
      },
      [] {
        auto o = RMSprop<S>::Options::pytorch();
        o.centered = true;
        o.momentum = S(0.9);
        return std::make_unique<RMSprop<S>>(o);
      },
      [] {
        auto o = Adam<S>::Options::keras();
        o.amsgrad = true;
        o.weight_decay = S(0.01);
        return std::make_unique<Adam<S>>(o);
      },
      [] { return std::make_unique<AdamW<S>>(); },
  };
}

}  // namespace

TEMPLATE_TEST_CASE("threads: a split step is bitwise the one-thread step", "[threads]", float,
                   double) {
  using S = TestType;
  // Below the threshold, at it, and above it with sizes that leave odd tails.
  for (const Eigen::Index n : {Eigen::Index(4096), descent::detail::kParallelThreshold,
                               Eigen::Index(65536 + 37), Eigen::Index(200003)}) {
    const support::Bowl<S> bowl(n);
    for (const auto& make : every_kernel<S>()) {
      for (const int threads : {2, 3}) {
        auto serial = make();
        auto split = make();
        split->set_threads(threads);
        REQUIRE(split->threads() == threads);
        Vec<S> x = bowl.start();
        Vec<S> y = x;
        for (int t = 0; t < 4; ++t) {
          serial->step(x, bowl.grad(x));
          split->step(y, bowl.grad(y));
        }
        INFO(split->name() << ", n = " << n << ", threads = " << threads);
        CHECK(support::bitwise_equal(x, y));
        CHECK(!support::bitwise_equal(x, bowl.start()));
      }
    }
  }
}

TEST_CASE("threads: copies step on their own and set_threads checks its argument", "[threads]") {
  descent::Adam<double> adam;
  adam.set_threads(2);
  const support::Bowl<double> bowl(100000);
  Vec<double> x = bowl.start();
  adam.step(x, bowl.grad(x));
  descent::Adam<double> copy = adam;  // starts its own workers
  Vec<double> y = x;
  adam.step(x, bowl.grad(x));
  copy.step(y, bowl.grad(y));
  CHECK(copy.threads() == 2);
  CHECK(support::bitwise_equal(x, y));
  CHECK_THROWS_AS(adam.set_threads(0), std::invalid_argument);
  CHECK(adam.threads() == 2);
}
