// The worker threads' life: pools of 2 to 4 threads above the parallel
// threshold, rebuilt when set_threads changes, copied and moved optimizers
// stepping side by side on threads of their own, destruction while the
// workers spin or sleep, and checkpoints taken between threaded steps. The
// results are checked bitwise; ThreadSanitizer (the tsan preset) checks the
// synchronization.

// GCC 12 at -O2 and above, inlining Optimizer::save into this small file,
// reports the byte vector that the checkpoint writer appends to as
// overflowing (-Wstringop-overflow, its known false positive on
// std::vector::insert into an empty vector); AddressSanitizer finds nothing
// there. The other test files do not trigger it.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif

#include "support.hpp"

#include <chrono>
#include <memory>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include <descent/descent.hpp>

using support::Vec;

namespace {

// Above the threshold, with a tail that no chunk boundary divides.
const Eigen::Index kSize = 3 * descent::detail::kParallelThreshold + 5;

template <typename Opt>
void steps(Opt& opt, Vec<typename Opt::Scalar>& x, const support::Bowl<typename Opt::Scalar>& bowl,
           int count) {
  for (int t = 0; t < count; ++t) opt.step(x, bowl.grad(x));
}

}  // namespace

TEMPLATE_TEST_CASE(
    "threads: 2 to 4 threads above the threshold, the pool rebuilt as the count "
    "changes",
    "[threads]", float, double) {
  using S = TestType;
  const support::Bowl<S> bowl(kSize);
  auto serial = support::with_options<descent::RMSprop<S>>([](auto& o) {
    o.lr = S(0.01);
    o.centered = true;
    o.momentum = S(0.5);
  });
  auto split = serial;
  Vec<S> x = bowl.start();
  Vec<S> y = x;
  for (const int threads : {2, 3, 4, 2}) {
    split.set_threads(threads);  // a new pool at the next step; the idle one goes
    steps(serial, x, bowl, 3);
    steps(split, y, bowl, 3);
    INFO("threads = " << threads);
    REQUIRE(support::bitwise_equal(x, y));
  }
  CHECK(!support::bitwise_equal(x, bowl.start()));
}

TEST_CASE("threads: copies and moves step side by side on threads of their own", "[threads]") {
  const support::Bowl<double> bowl(kSize);
  auto make = [] {
    return support::with_options<descent::Adam<double>>([](auto& o) { o.lr = 0.01; });
  };
  auto reference = make();
  auto original = make();
  original.set_threads(4);
  Vec<double> start = bowl.start();
  Vec<double> x = start;
  steps(reference, start, bowl, 2);
  steps(original, x, bowl, 2);  // its workers are up
  REQUIRE(support::bitwise_equal(start, x));

  descent::Adam<double> copied = original;  // no pool: starts its own
  auto assigned = make();
  assigned.set_threads(2);
  Vec<double> scratch = bowl.start();
  steps(assigned, scratch, bowl, 1);  // a pool of its own, then overwritten
  assigned = original;
  descent::Adam<double> moved = std::move(original);  // takes the pool along
  original = make();                                  // the moved-from object is reusable

  std::vector<Vec<double>> params(3, x);
  std::vector<descent::Adam<double>*> optimizers{&copied, &assigned, &moved};
  std::vector<std::thread> threads;
  for (std::size_t k = 0; k < optimizers.size(); ++k) {
    threads.emplace_back([&, k] { steps(*optimizers[k], params[k], bowl, 3); });
  }
  for (auto& t : threads) t.join();
  steps(reference, start, bowl, 3);
  for (std::size_t k = 0; k < params.size(); ++k) {
    INFO("optimizer " << k);
    CHECK(optimizers[k]->threads() == 4);
    CHECK(optimizers[k]->iterations() == 5);
    CHECK(support::bitwise_equal(params[k], start));
  }
}

TEST_CASE("threads: optimizers are destroyed while their workers spin or sleep", "[threads]") {
  const support::Bowl<float> bowl(kSize);
  for (int round = 0; round < 12; ++round) {
    auto adam = support::with_options<descent::Adam<float>>([](auto& o) { o.lr = 1e-3f; });
    adam.set_threads(2 + round % 3);
    Vec<float> x = bowl.start();
    steps(adam, x, bowl, 1 + round % 2);
    if (round % 4 == 1) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // asleep
    if (round % 4 == 2) adam.reset();  // state gone, pool kept
    if (round % 4 == 3) {
      Vec<float> small = Vec<float>::Ones(100);
      adam.reset();
      adam.step(small, small);  // below the threshold: the pool stays idle
    }
    CHECK(adam.threads() == 2 + round % 3);
  }  // destroyed here, right after its last step or after the sleep
  // Never stepped above the threshold: no pool to tear down.
  descent::SGD<double> idle;
  idle.set_threads(4);
}

TEST_CASE("threads: a checkpoint between threaded steps resumes bit for bit", "[threads]") {
  const support::Bowl<double> bowl(kSize);
  // Through the base class, as a training loop that picks its optimizer at
  // run time holds it.
  auto make = []() -> std::unique_ptr<descent::Optimizer<double>> {
    return std::make_unique<descent::SGD<double>>(
        support::options<descent::SGD<double>>([](auto& o) {
          o.lr = 0.01;
          o.momentum = 0.9;
          o.nesterov = true;
        }));
  };
  auto uninterrupted = make();
  auto saved = make();
  saved->set_threads(3);
  Vec<double> x = bowl.start();
  Vec<double> y = x;
  steps(*uninterrupted, x, bowl, 2);
  steps(*saved, y, bowl, 2);
  std::stringstream checkpoint;
  saved->save(checkpoint);  // while its workers are idle

  auto resumed = make();
  resumed->set_threads(4);
  resumed->load(checkpoint);
  Vec<double> z = y;
  steps(*uninterrupted, x, bowl, 2);
  steps(*saved, y, bowl, 2);
  steps(*resumed, z, bowl, 2);
  CHECK(support::bitwise_equal(x, y));
  CHECK(support::bitwise_equal(x, z));
}
