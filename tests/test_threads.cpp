// set_threads: a step split across threads gives the same bits as one thread.

#include "support.hpp"
#include "variants.hpp"

#include <descent/descent.hpp>

using support::Vec;

namespace {

/// steps steps of Opt(options) on one thread and on `threads`, on n elements:
/// the iterates must be bitwise equal.
template <typename Opt>
void require_split_equal(const typename Opt::Options& options, Eigen::Index n, int threads,
                         int steps) {
  using S = typename Opt::Scalar;
  const support::Bowl<S> bowl(n);
  Opt serial(options);
  Opt split(options);
  split.set_threads(threads);
  REQUIRE(split.threads() == threads);
  Vec<S> x = bowl.start();
  Vec<S> y = x;
  for (int t = 0; t < steps; ++t) {
    serial.step(x, bowl.grad(x));
    split.step(y, bowl.grad(y));
  }
  INFO(support::describe<Opt>(options) << ", n = " << n << ", threads = " << threads);
  CHECK(support::bitwise_equal(x, y));
  CHECK(!support::bitwise_equal(x, bowl.start()));
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("threads: a split step is bitwise the one-thread step", "[threads]",
                        support::AllOptimizers) {
  using Opt = TestType;
  // The defaults at the threshold and above it with sizes that leave odd
  // tails, on 2 and 3 threads; every variant's kernel on 3 threads. (Under
  // the sanitizers, not the largest size: its chunks take the same paths as
  // 65 573's.)
  for (const Eigen::Index n :
       {descent::detail::kParallelThreshold, Eigen::Index(65536 + 37), Eigen::Index(200003)}) {
    if (support::kSanitized && n > 65536 + 37) continue;
    for (const int threads : {2, 3}) require_split_equal<Opt>({}, n, threads, 3);
  }
  for (const auto& options : support::variants<Opt>()) {
    require_split_equal<Opt>(options, 65536 + 37, 3, 2);
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
