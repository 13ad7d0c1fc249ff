// Checkpoints: a run saved and resumed into fresh objects is bit for bit the
// uninterrupted run; every damaged or mismatched checkpoint is refused with a
// CheckpointError that says why, and leaves the target exactly as it was.

#include "support.hpp"
#include "variants.hpp"

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <descent/descent.hpp>

using Catch::Matchers::Contains;
using descent::CheckpointError;
using support::Vec;

using support::bytes_of;
using support::require_refused;

namespace {

constexpr Eigen::Index kSize = 33;

template <typename S>
void run(descent::Optimizer<S>& opt, descent::LRScheduler<S>& schedule, Vec<S>& x, int steps) {
  const support::Bowl<S> bowl(kSize);
  for (int t = 0; t < steps; ++t) {
    opt.step(x, bowl.grad(x));
    if (opt.iterations() % 10 == 0) schedule.step();
  }
}

}  // namespace

TEMPLATE_LIST_TEST_CASE(
    "checkpoint: 100 steps, save, load into fresh objects, 100 more = 200 steps", "[checkpoint]",
    support::AllOptimizers) {
  using S = typename TestType::Scalar;
  const support::Bowl<S> bowl(kSize);
  // Every variant, so that a load that dropped an option would show.
  for (const auto& make : support::makers<TestType>()) {
    for (const bool step_lr : {true, false}) {
      auto make_schedule =
          [&](descent::Optimizer<S>& o) -> std::unique_ptr<descent::LRScheduler<S>> {
        if (step_lr) return std::make_unique<descent::StepLR<S>>(o, 3, 0.7);
        return std::make_unique<descent::LambdaLR<S>>(
            o, [](std::int64_t e) { return 1.0 / (1.0 + e); });
      };
      auto whole = make();
      auto whole_schedule = make_schedule(*whole);
      Vec<S> x = bowl.start();
      run(*whole, *whole_schedule, x, 200);

      auto first = make();
      auto first_schedule = make_schedule(*first);
      Vec<S> y = bowl.start();
      run(*first, *first_schedule, y, 100);
      std::stringstream saved_opt, saved_schedule;
      first->save(saved_opt);
      first_schedule->save(saved_schedule);

      auto second = std::make_unique<TestType>();  // load() brings the options back
      auto second_schedule = make_schedule(*second);
      second->load(saved_opt);
      second_schedule->load(saved_schedule);
      CHECK(second->iterations() == 100);
      CHECK(second_schedule->epoch() == 10);
      run(*second, *second_schedule, y, 100);

      INFO(whole->name() << (step_lr ? " with StepLR" : " with LambdaLR"));
      CHECK(support::bitwise_equal(x, y));
      CHECK(bytes_of(*second) == bytes_of(*whole));
      CHECK(bytes_of(*second_schedule) == bytes_of(*whole_schedule));
    }
  }
}

TEMPLATE_TEST_CASE("checkpoint: a mismatched checkpoint is refused and changes nothing",
                   "[checkpoint]", float, double) {
  using S = TestType;
  using Other = std::conditional_t<std::is_same<S, float>::value, double, float>;
  const support::Bowl<S> bowl(kSize);
  descent::Adam<S> adam;
  Vec<S> x = bowl.start();
  adam.step(x, bowl.grad(x));
  const std::string good = bytes_of(adam);

  SECTION("another kind") {
    descent::RMSprop<S> rmsprop;
    require_refused(rmsprop, good, "the checkpoint is for Adam, not RMSprop");
    descent::StepLR<S> schedule(adam, 5);
    require_refused(schedule, good, "optimizer, not a scheduler");
  }
  SECTION("another scalar type") {
    descent::Adam<Other> other;
    require_refused(
        other, good,
        std::is_same<S, float>::value ? "holds float, not double" : "holds double, not float");
  }
  SECTION("another size than the target's state") {
    descent::Adam<S> target;
    Vec<S> z = Vec<S>::Ones(5);
    target.step(z, z);
    require_refused(target, good, "for 33 parameters, this optimizer's for 5");
    target.reset();
    std::istringstream in(good);
    target.load(in);  // after reset() it loads
    CHECK(target.state_size() == kSize);
  }
}

TEMPLATE_TEST_CASE("checkpoint: every truncation and every flipped byte is refused", "[checkpoint]",
                   float, double) {
  using S = TestType;
  const support::Bowl<S> bowl(7);
  descent::SGD<S> sgd({S(0.1), S(0.9), true});
  Vec<S> x = bowl.start();
  sgd.step(x, bowl.grad(x));
  const std::string good = bytes_of(sgd);

  descent::SGD<S> target({S(0.5)});
  Vec<S> y = bowl.start();
  target.step(y, bowl.grad(y));
  for (std::size_t length = 0; length < good.size(); ++length) {
    INFO("truncated to " << length << " of " << good.size() << " bytes");
    require_refused(target, good.substr(0, length), length < 8 ? "truncated" : "");
  }
  // A stream goes on after a checkpoint: the byte after it is left unread.
  std::istringstream padded(good + "x");
  target.load(padded);
  CHECK(bytes_of(target) == good);
  CHECK(padded.get() == 'x');
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (const int bit : {0, 7}) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      INFO("byte " << i << " bit " << bit);
      require_refused(target, bad, "descent::SGD::load: ");
    }
  }
}

TEST_CASE("checkpoint: the reasons are named", "[checkpoint]") {
  descent::Adam<double> adam;
  Eigen::VectorXd x = Eigen::VectorXd::Ones(4);
  adam.step(x, x);
  const std::string good = bytes_of(adam);
  descent::Adam<double> target;

  std::string magic = good;
  magic[0] = 'X';
  require_refused(target, magic, "not a descent checkpoint");

  // A future format version, with a valid checksum.
  std::string version = good;
  version[8] = 2;
  support::reseal(version);
  require_refused(target, version, "format version 2, this library reads version 1");

  std::string corrupt = good;
  corrupt[good.size() / 2] ^= 0x10;
  require_refused(target, corrupt, "checksum mismatch");
  require_refused(target, "", "truncated: 0 bytes");
}

TEST_CASE("checkpoint: save_file replaces the file whole; load_file reads it back",
          "[checkpoint]") {
  const std::string path = "descent_test_checkpoint.bin";
  descent::Adam<float> adam({0.05f});
  Eigen::VectorXf x = Eigen::VectorXf::LinSpaced(10, -1, 1);
  adam.step(x, x);
  adam.save_file(path);
  adam.step(x, x);
  adam.save_file(path);  // over the old one
  std::ifstream leftover(path + ".tmp");
  CHECK_FALSE(leftover.good());

  descent::Adam<float> loaded;
  loaded.load_file(path);
  CHECK(loaded.iterations() == 2);
  CHECK(loaded.lr() == 0.05f);
  CHECK(bytes_of(loaded) == bytes_of(adam));
  std::remove(path.c_str());

  CHECK_THROWS_AS(loaded.load_file("no/such/dir/checkpoint.bin"), CheckpointError);
  CHECK_THROWS_AS(adam.save_file("no/such/dir/checkpoint.bin"), CheckpointError);

  descent::StepLR<float> schedule(adam, 4, 0.5);
  schedule.step();
  schedule.save_file(path);
  descent::StepLR<float> other(loaded, 1, 0.9);
  other.load_file(path);
  CHECK(other.epoch() == 1);
  CHECK(other.step_size() == 4);
  CHECK(other.gamma() == 0.5);
  std::remove(path.c_str());
}

TEST_CASE("checkpoint: invalid contents with a valid frame are refused", "[checkpoint]") {
  // A StepLR checkpoint whose step_size field is 0, re-sealed with a valid
  // checksum: the frame is fine, the value is not.
  descent::GradientDescent<double> gd;
  descent::StepLR<double> schedule(gd, 5);
  std::string bytes = bytes_of(schedule);
  const std::size_t step_size_at = bytes.size() - 4 - 16;  // before gamma and the CRC
  for (int b = 0; b < 8; ++b) bytes[step_size_at + b] = 0;
  support::reseal(bytes);
  descent::StepLR<double> target(gd, 7);
  require_refused(target, bytes, "descent::StepLR: step_size must be >= 1, got 0");
}

TEST_CASE("checkpoint: a corrupt element count never sizes an allocation", "[checkpoint]") {
  // Well-framed checkpoints (valid checksum) whose count fields claim 2^32 − 1
  // milestones or max_lrs: refused as truncated before anything is allocated.
  const auto sealed = [](const char* kind, const std::function<void(descent::detail::Writer&)>& f) {
    descent::detail::Writer w(descent::detail::ObjectKind::Scheduler, kind, 8);
    w.i64(1);    // epoch
    w.f64(0.1);  // base lr
    w.f64(0.1);  // last lr
    f(w);
    std::ostringstream out;
    w.finish(out, "test");
    return out.str();
  };
  descent::GradientDescent<double> gd;
  descent::MultiStepLR<double> multi_step(gd, {2, 5});
  require_refused(multi_step,
                  sealed("MultiStepLR",
                         [](descent::detail::Writer& w) {
                           w.f64(0.1);          // gamma
                           w.u32(0xFFFFFFFFu);  // milestone count
                         }),
                  "truncated in milestone count");
  descent::OneCycleLR<double> one_cycle(gd, 0.1, 20);
  std::string bytes = bytes_of(one_cycle);
  // OneCycleLR's last fields: max_lr count (u32), one max_lr (f64), CRC.
  const std::size_t count_at = bytes.size() - 4 - 8 - 4;
  for (int b = 0; b < 4; ++b) bytes[count_at + b] = char(0xFF);
  support::reseal(bytes);
  require_refused(one_cycle, bytes, "truncated in max_lr count");
}

// detail::for_each_state_array (which descent_bench's floors use to run on a
// step's own memory) visits the arrays a checkpoint holds, in their order,
// and nothing else: after Adam's first step on g, m = (1 − β₁)·g and
// v = (1 − β₂)·g², the latter flagged as never negative.
TEST_CASE("checkpoint: for_each_state_array visits the state arrays in use", "[checkpoint]") {
  struct Seen {
    const float* data;
    Eigen::Index size;
    bool nonnegative;
  };
  const auto visit = [](auto& optimizer) {
    std::vector<Seen> seen;
    descent::detail::for_each_state_array(optimizer, [&](float* data, Eigen::Index n, bool nn) {
      seen.push_back({data, n, nn});
    });
    return seen;
  };
  Vec<float> x = Vec<float>::Constant(5, 1.0f);
  const Vec<float> g = Vec<float>::LinSpaced(5, -2.0f, 2.0f);

  descent::Adam<float> adam;
  CHECK(visit(adam).empty());  // no state before the first step
  adam.step(x, g);
  const std::vector<Seen> moments = visit(adam);
  REQUIRE(moments.size() == 2);
  for (int i = 0; i < 5; ++i) {
    CHECK(moments[0].data[i] == (1.0f - 0.9f) * g[i]);
    CHECK(moments[1].data[i] == (1.0f - 0.999f) * g[i] * g[i]);
  }
  CHECK((moments[0].size == 5 && !moments[0].nonnegative));
  CHECK((moments[1].size == 5 && moments[1].nonnegative));

  descent::Adam<float>::Options amsgrad;
  amsgrad.amsgrad = true;
  descent::Adam<float> with_max(amsgrad);
  with_max.step(x, g);
  CHECK(visit(with_max).size() == 3);

  descent::Adam<float>::Options bf16;
  bf16.state_storage = descent::StateStorage::BFloat16;
  descent::Adam<float> narrow(bf16);
  narrow.step(x, g);
  CHECK(visit(narrow).empty());  // bfloat16 arrays are not the parameters' type

  descent::SGD<float> plain;  // no momentum: no velocity
  plain.step(x, g);
  CHECK(visit(plain).empty());
}
