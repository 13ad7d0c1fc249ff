// Arithmetic limits: sizes, epochs and counters at the ends of their types
// are computed without overflow or refused with a message naming the field,
// and enum options outside their enumerators are refused. Run under UBSan
// (the sanitize preset) these tests also prove the absence of signed
// overflow.

#include "support.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <descent/descent.hpp>

using support::require_message;

namespace {

constexpr long kMax = std::numeric_limits<long>::max();
constexpr long kMin = std::numeric_limits<long>::min();

// ---------------------------------------------------------------------------
// Crafted checkpoints: bytes from the library's own save(), one field
// overwritten, the trailing CRC-32 recomputed, so only the field is wrong.

/// Where the payload starts: after magic, version, object, scalar size, the
/// kind name's length (u16 at offset 14), the name, and the u64 length.
std::size_t payload_at(const std::string& bytes) {
  const auto k = std::size_t(static_cast<unsigned char>(bytes[14])) |
                 std::size_t(static_cast<unsigned char>(bytes[15])) << 8;
  return 24 + k;
}

/// bytes with value written little-endian at `offset` and the CRC made valid.
template <typename T>
std::string patched(std::string bytes, std::size_t offset, T value) {
  REQUIRE(offset + sizeof(T) <= bytes.size() - 4);
  std::memcpy(&bytes[offset], &value, sizeof(T));  // little-endian host, as the format
  const std::uint32_t crc = descent::detail::crc32(
      reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size() - 4);
  std::memcpy(&bytes[bytes.size() - 4], &crc, 4);
  return bytes;
}

/// The payload offset of the child payload that follows the kind name `kind`.
std::size_t child_payload_at(const std::string& bytes, const std::string& kind) {
  const std::size_t at = bytes.find(kind, payload_at(bytes));
  REQUIRE(at != std::string::npos);
  return at + kind.size();
}

/// Requires that object.load(bytes) throws a CheckpointError with exactly
/// this message, and that the object's checkpoint is what it was.
template <typename T>
void require_refused(T& object, const std::string& bytes, const std::string& message) {
  const std::string before = support::bytes_of(object);
  std::istringstream in(bytes);
  try {
    object.load(in);
    FAIL("no CheckpointError; expected: " << message);
  } catch (const descent::CheckpointError& e) {
    CHECK(std::string(e.what()) == message);
  }
  CHECK(support::bytes_of(object) == before);
}

template <typename T>
void load_bytes(T& object, const std::string& bytes) {
  std::istringstream in(bytes);
  object.load(in);
}

/// Requires that f() throws std::overflow_error with exactly this message.
void require_overflow(const std::function<void()>& f, const std::string& message) {
  try {
    f();
  } catch (const std::overflow_error& e) {
    CHECK(std::string(e.what()) == message);
    return;
  }
  FAIL("no std::overflow_error thrown; expected: " << message);
}

/// A schedule that can be put at any epoch, to reach the last one.
class Settable : public descent::LRScheduler<double> {
 public:
  explicit Settable(descent::Optimizer<double>& o) : LRScheduler<double>(o) { apply(0); }
  void set_epoch(std::int64_t e) { apply(e); }
  std::string_view name() const noexcept override { return "Settable"; }

 protected:
  double compute_lr(std::int64_t e, std::size_t i) const override {
    return double(base_lr(i)) / (1.0 + std::abs(double(e)));
  }
};

/// CosineAnnealingLR's lr as it was computed before its restart was formed
/// without 2·T_max (for T_max small enough that 2·T_max fits).
double cosine_reference(long e, long T_max, double base, double eta_min) {
  const double pi = 3.141592653589793, span = base - eta_min;
  const auto cos_at = [&](long x) { return std::cos(pi * double(x) / double(T_max)); };
  if (e <= T_max) return eta_min + span * (1 + cos_at(e)) / 2;
  const long r = T_max + 1 + (e - 1 - T_max) / (2 * T_max) * (2 * T_max);
  const double restart = span * (1 - std::cos(pi / double(T_max))) / 2;
  if (e == r) return eta_min + restart;
  return eta_min + restart * ((1 + cos_at(e)) / (1 + cos_at(r)));
}

const std::vector<long>& extreme_epochs() {
  static const std::vector<long> epochs{kMin, kMin + 1, -1, 0, 1, 2, kMax / 2, kMax - 1, kMax};
  return epochs;
}

}  // namespace

// ---------------------------------------------------------------------------
// MinibatchSampler

TEST_CASE("limits: the bias corrections' powers are std::pow's bits at every step count",
          "[limits][adam]") {
  // descent::detail::power returns 0 without pow once β^t < 2^-1100; below
  // that, and across the underflow where pow is slow, it must be pow.
  for (const double beta : {0.0, 1e-300, 0.5, 0.9, 0.99, 0.999, 0.9999, 1 - 1e-12, 1.0}) {
    std::vector<double> steps{1, 2, 3, 1e3, 1e6, 1e9, 1e15, 9.2233720368547758e18};
    if (beta > 0 && beta < 1) {
      // Around the least subnormal and around the cutoff, step by step.
      for (const double binades : {1022.0, 1074.0, 1075.0, 1100.0}) {
        const double t = std::floor(-binades / std::log2(beta));
        for (double d = -3; d <= 3; ++d) steps.push_back(std::max(1.0, t + d));
      }
    }
    for (const double t : steps) {
      INFO("beta " << beta << ", t " << t);
      const double expected = std::pow(beta, t);
      const double got = descent::detail::power(beta, t);
      CHECK(std::memcmp(&got, &expected, sizeof got) == 0);
    }
  }
  // The least subnormal and 0 on either side of the underflow, not all 0.
  CHECK(descent::detail::power(0.5, 1074) == std::numeric_limits<double>::denorm_min());
  CHECK(descent::detail::power(0.5, 1076) == 0.0);
}

TEST_CASE("limits: MinibatchSampler takes any batch_size, LONG_MAX included",
          "[limits][minibatch]") {
  for (const bool drop_last : {false, true}) {
    INFO("drop_last " << drop_last);
    descent::MinibatchSampler s(10, kMax, 3, drop_last);
    CHECK(s.batches_per_epoch() == (drop_last ? 0 : 1));
    const auto& batch = s.next();
    CHECK(batch.size() == (drop_last ? 0u : 10u));
    CHECK(s.epoch() == 1);
    s.next();
    CHECK(s.epoch() == 2);
  }
  descent::MinibatchSampler none(0, kMax, 3);
  CHECK(none.batches_per_epoch() == 0);
  CHECK(none.next().empty());
  CHECK(none.epoch() == 1);

  // A last batch shorter than batch_size near the top of long.
  descent::MinibatchSampler s(7, kMax - 1, 5);
  CHECK(s.next().size() == 7u);
}

TEST_CASE("limits: MinibatchSampler counts batches without forming n + batch_size - 1",
          "[limits][minibatch]") {
  using descent::detail::batch_count;
  CHECK(batch_count(kMax, 1, false) == kMax);
  CHECK(batch_count(kMax, kMax, false) == 1);
  CHECK(batch_count(kMax, kMax, true) == 1);
  CHECK(batch_count(kMax - 1, kMax, false) == 1);
  CHECK(batch_count(kMax - 1, kMax, true) == 0);
  CHECK(batch_count(kMax, 2, false) == kMax / 2 + 1);
  CHECK(batch_count(kMax, 2, true) == kMax / 2);
  CHECK(batch_count(0, kMax, false) == 0);
  // The ordinary sizes, as ⌈n / b⌉ and ⌊n / b⌋.
  for (long n = 0; n <= 40; ++n) {
    for (long b = 1; b <= 12; ++b) {
      CHECK(batch_count(n, b, false) == (n + b - 1) / b);
      CHECK(batch_count(n, b, true) == n / b);
    }
  }
}

TEST_CASE("limits: MinibatchSampler refuses more samples than a vector can index",
          "[limits][minibatch]") {
  const long most = long(std::vector<Eigen::Index>().max_size());
  REQUIRE(most < kMax);  // 64-bit: 2^60 − 1
  const std::string range =
      "descent::MinibatchSampler: n_samples must be <= " + std::to_string(most) +
      " (the most indices a std::vector holds), got ";
  require_message([] { descent::MinibatchSampler(kMax, 2, 1); }, range + std::to_string(kMax));
  require_message([&] { descent::MinibatchSampler(most + 1, kMax, 1); },
                  range + std::to_string(most + 1));
}

// ---------------------------------------------------------------------------
// Schedules at the ends of long

TEST_CASE("limits: CosineAnnealingLR forms its restart without 2 * T_max", "[limits][scheduler]") {
  descent::GradientDescent<double> gd({0.1});
  // The same bits as before, for T_max where 2·T_max fits.
  for (const long T_max : {1L, 2L, 7L, 10L, 45L}) {
    gd.set_lr(0.1);
    descent::CosineAnnealingLR<double> cosine(gd, T_max, 0.001);
    for (long e = -3; e <= 12 * T_max + 5; ++e) {
      INFO("T_max " << T_max << " epoch " << e);
      CHECK(cosine.lr_at(e) == cosine_reference(e, T_max, 0.1, 0.001));
    }
  }
  // T_max near 2^62 and LONG_MAX: restarts at T_max + 1, finite lrs.
  for (const long T_max :
       {(1L << 62) - 1, 1L << 62, (1L << 62) + 1, kMax / 2 + 1, kMax - 1, kMax}) {
    INFO("T_max " << T_max);
    gd.set_lr(0.1);
    descent::CosineAnnealingLR<double> cosine(gd, T_max, 0.001);
    for (const long e : extreme_epochs()) {
      const double lr = cosine.lr_at(e);
      INFO("epoch " << e);
      CHECK(std::isfinite(lr));
      CHECK(lr >= 0.001 * (1 - 1e-15));
      CHECK(lr <= 0.1 * (1 + 1e-15));
    }
    if (T_max < kMax) {
      CHECK(cosine.lr_at(T_max) == 0.001);
      CHECK_THAT(cosine.lr_at(T_max + 1), Catch::Matchers::WithinRel(0.001, 1e-15));
    }
  }
  // T_max beyond about 1e8: PyTorch's restart factor is 0/0 in double, the
  // closed form is the value.
  gd.set_lr(0.1);
  const long T_wide = 1000000000L;
  descent::CosineAnnealingLR<double> wide(gd, T_wide, 0.0);
  for (const long e : {T_wide + 2, T_wide + 7, 2 * T_wide, 3 * T_wide + 9}) {
    INFO("epoch " << e);
    CHECK(wide.lr_at(e) ==
          0.0 + 0.1 * (1 + std::cos(3.141592653589793 * double(e) / double(T_wide))) / 2);
  }
}

TEST_CASE("limits: every schedule computes lr_at for any epoch without overflow",
          "[limits][scheduler]") {
  descent::GradientDescent<double> gd({0.1});
  // Parameters at the top of their ranges; each from base lr 0.1 (a
  // scheduler's construction sets the lr of epoch 0).
  const auto at = [&gd](double lr) -> descent::Optimizer<double>& {
    gd.set_lr(lr);
    return gd;
  };
  descent::StepLR<double> step(at(0.1), kMax, 0.5);
  descent::StepLR<double> step_one(at(0.1), 1, 0.5);
  descent::MultiStepLR<double> multi(at(0.1), {0, kMax - 1, kMax}, 0.5);
  descent::ExponentialLR<double> exponential(at(0.1), 0.5);
  descent::LinearLR<double> linear(at(0.1), 0.5, 1.0, kMax);
  descent::ConstantLR<double> constant(at(0.1), 0.5, kMax);
  descent::LambdaLR<double> lambda(at(0.1), [](std::int64_t) { return 1.0; });
  descent::OneCycleLR<double> one_cycle(at(0.1), 0.1, kMax);
  descent::LinearLR<double> warm(at(0.1), 0.5, 1.0, 3);
  descent::CosineAnnealingLR<double> cosine(gd, kMax);
  descent::SequentialLR<double> sequential({&warm, &cosine}, {kMax});
  descent::ConstantLR<double> c2(at(0.1), 0.5, kMax);
  descent::StepLR<double> s2(gd, kMax - 1, 0.5);
  descent::ChainedScheduler<double> chained({&c2, &s2});
  const std::vector<descent::LRScheduler<double>*> all{
      &step,   &step_one, &multi,     &exponential, &linear, &constant,
      &lambda, &cosine,   &one_cycle, &sequential,  &chained};
  for (const auto* s : all) {
    for (const long e : extreme_epochs()) {
      INFO(s->name() << " at epoch " << e);
      CHECK_NOTHROW(s->lr_at(e));
    }
  }
  CHECK(step.lr_at(kMax) == 0.05);
  CHECK(step.lr_at(kMax - 1) == 0.1);
  CHECK(step_one.lr_at(kMax) == 0.0);
  CHECK(multi.lr_at(kMax) == 0.1 * 0.5 * 0.5 * 0.5);
  CHECK(constant.lr_at(kMax) == 0.1);
  CHECK(linear.lr_at(kMax) == 0.1);
  CHECK(sequential.lr_at(kMax) == cosine.lr_at(0));
  CHECK(chained.lr_at(kMax) == 0.1 * 0.5);
}

TEST_CASE("limits: step() at the largest epoch refuses and changes nothing",
          "[limits][scheduler]") {
  descent::GradientDescent<double> gd({0.1});
  Settable s(gd);
  s.set_epoch(kMax - 1);
  s.step();
  CHECK(s.epoch() == kMax);
  const double lr = gd.lr();
  require_overflow(
      [&] { s.step(); },
      "descent::Settable::step: epoch 9223372036854775807 is the largest a std::int64_t "
      "holds; there is no next epoch");
  CHECK(s.epoch() == kMax);
  CHECK(gd.lr() == lr);
  CHECK(s.last_lr() == lr);
}

// ---------------------------------------------------------------------------
// Enum options

TEMPLATE_TEST_CASE("limits: enum options outside their enumerators are refused", "[limits][errors]",
                   float, double) {
  using S = TestType;
  using descent::EpsPlacement;
  using descent::MomentumForm;
  using descent::NonFinite;
  const auto eps = static_cast<EpsPlacement>(7);
  const auto form = static_cast<MomentumForm>(-1);
  const auto nonfinite = static_cast<NonFinite>(9);
  const std::string nonfinite_range =
      ": nonfinite must be Propagate (0), Throw (1) or Skip (2), got 9";

  // nonfinite, which every optimizer has.
  const auto refuses_nonfinite = [&](auto make, const std::string& cls) {
    require_message(make, "descent::" + cls + nonfinite_range);
  };
  refuses_nonfinite(
      [&] {
        typename descent::GradientDescent<S>::Options o;
        o.nonfinite = nonfinite;
        descent::GradientDescent<S>{o};
      },
      "GradientDescent");
  refuses_nonfinite(
      [&] {
        typename descent::SGD<S>::Options o;
        o.nonfinite = nonfinite;
        descent::SGD<S>{o};
      },
      "SGD");
  refuses_nonfinite(
      [&] {
        typename descent::Momentum<S>::Options o;
        o.nonfinite = nonfinite;
        descent::Momentum<S>{o};
      },
      "Momentum");
  refuses_nonfinite(
      [&] {
        typename descent::Nesterov<S>::Options o;
        o.nonfinite = nonfinite;
        descent::Nesterov<S>{o};
      },
      "Nesterov");
  refuses_nonfinite(
      [&] {
        typename descent::AdaGrad<S>::Options o;
        o.nonfinite = nonfinite;
        descent::AdaGrad<S>{o};
      },
      "AdaGrad");
  refuses_nonfinite(
      [&] {
        typename descent::RMSprop<S>::Options o;
        o.nonfinite = nonfinite;
        descent::RMSprop<S>{o};
      },
      "RMSprop");
  refuses_nonfinite(
      [&] {
        typename descent::Adam<S>::Options o;
        o.nonfinite = nonfinite;
        descent::Adam<S>{o};
      },
      "Adam");
  refuses_nonfinite(
      [&] {
        typename descent::AdamW<S>::Options o;
        o.nonfinite = nonfinite;
        descent::AdamW<S>{o};
      },
      "AdamW");

  // eps_placement: Adam takes all three, AdaGrad and RMSprop the first two.
  require_message(
      [&] {
        typename descent::Adam<S>::Options o;
        o.eps_placement = eps;
        descent::Adam<S>{o};
      },
      "descent::Adam: eps_placement must be InsideSqrt (0), OutsideSqrt (1) or EpsHat (2), got 7");
  require_message(
      [&] {
        typename descent::AdamW<S>::Options o;
        o.eps_placement = static_cast<EpsPlacement>(3);
        descent::AdamW<S>{o};
      },
      "descent::AdamW: eps_placement must be InsideSqrt (0), OutsideSqrt (1) or EpsHat (2), got "
      "3");
  require_message(
      [&] {
        typename descent::AdaGrad<S>::Options o;
        o.eps_placement = eps;
        descent::AdaGrad<S>{o};
      },
      "descent::AdaGrad: eps_placement must be InsideSqrt (0) or OutsideSqrt (1), got 7");
  require_message(
      [&] {
        typename descent::RMSprop<S>::Options o;
        o.eps_placement = eps;
        descent::RMSprop<S>{o};
      },
      "descent::RMSprop: eps_placement must be InsideSqrt (0) or OutsideSqrt (1), got 7");

  // momentum_form, also where momentum is 0 and the form unused.
  require_message(
      [&] {
        typename descent::SGD<S>::Options o;
        o.momentum_form = form;
        descent::SGD<S>{o};
      },
      "descent::SGD: momentum_form must be Keras (0) or PyTorch (1), got -1");
  require_message(
      [&] {
        typename descent::RMSprop<S>::Options o;
        o.momentum = S(0.9);
        o.momentum_form = static_cast<MomentumForm>(2);
        descent::RMSprop<S>{o};
      },
      "descent::RMSprop: momentum_form must be Keras (0) or PyTorch (1), got 2");

  // Every enumerator itself is accepted.
  for (const auto n : {NonFinite::Propagate, NonFinite::Throw, NonFinite::Skip}) {
    typename descent::GradientDescent<S>::Options o;
    o.nonfinite = n;
    CHECK_NOTHROW(descent::GradientDescent<S>{o});
  }
  for (const auto p : {EpsPlacement::InsideSqrt, EpsPlacement::OutsideSqrt, EpsPlacement::EpsHat}) {
    typename descent::Adam<S>::Options o;
    o.eps_placement = p;
    CHECK_NOTHROW(descent::Adam<S>{o});
  }
  for (const auto f : {MomentumForm::Keras, MomentumForm::PyTorch}) {
    typename descent::SGD<S>::Options o;
    o.momentum_form = f;
    CHECK_NOTHROW(descent::SGD<S>{o});
  }
}

TEST_CASE("limits: make_optimizer still reads every enumerator and refuses other words",
          "[limits][make_optimizer]") {
  for (const char* p : {"inside_sqrt", "OutsideSqrt", "eps_hat"}) {
    const auto opt = descent::make_optimizer<double>("adam", {{"eps_placement", p}});
    CHECK(opt->name() == "Adam");
  }
  for (const char* n : {"propagate", "throw", "Skip"}) {
    CHECK_NOTHROW(descent::make_optimizer<float>("rmsprop", {{"nonfinite", n}}));
  }
  require_message(
      [] {
        descent::make_optimizer<double>("sgd", {{"momentum_form", "7"}});
      },
      "descent::make_optimizer: SGD option momentum_form='7' is not a MomentumForm; valid "
      "values: keras, pytorch");
}

TEST_CASE("limits: scheduler enum arguments outside their enumerators are refused",
          "[limits][scheduler][errors]") {
  descent::GradientDescent<double> gd({0.1});
  using O = descent::OneCycleLR<double>;
  O::Options o;
  o.anneal_strategy = static_cast<O::Anneal>(-3);
  require_message([&] { O(gd, 0.1, 100, o); },
                  "descent::OneCycleLR: anneal_strategy must be cos (0) or linear (1), got -3");
  using P = descent::ReduceLROnPlateau<double>;
  P::Options p;
  p.mode = static_cast<P::Mode>(-1);
  require_message([&] { P(gd, p); },
                  "descent::ReduceLROnPlateau: mode must be min (0) or max (1), got -1");
  p = {};
  p.threshold_mode = static_cast<P::ThresholdMode>(5);
  require_message([&] { P(gd, p); },
                  "descent::ReduceLROnPlateau: threshold_mode must be rel (0) or abs (1), got 5");
  CHECK(gd.lr() == 0.1);
}

TEST_CASE("limits: enum fields of scheduler checkpoints are checked before they are cast",
          "[limits][scheduler][checkpoint]") {
  descent::GradientDescent<double> gd({0.1});
  descent::OneCycleLR<double> one_cycle(gd, 0.5, 10);
  std::string bytes = support::bytes_of(one_cycle);
  // OneCycleLR's parameters: total_steps i64, pct_start f64, anneal_strategy u32.
  const std::size_t anneal_at = payload_at(bytes) + 24 + 16;
  require_refused(one_cycle, patched<std::uint32_t>(bytes, anneal_at, 2),
                  "descent::OneCycleLR::load: descent::OneCycleLR: anneal_strategy must be cos "
                  "(0) or linear (1), got 2");
  require_refused(one_cycle, patched<std::uint32_t>(bytes, anneal_at, 0xFFFFFFFFu),
                  "descent::OneCycleLR::load: descent::OneCycleLR: anneal_strategy must be cos "
                  "(0) or linear (1), got 4294967295");

  descent::ReduceLROnPlateau<double> plateau(gd);
  bytes = support::bytes_of(plateau);
  const std::size_t at = payload_at(bytes);
  require_refused(plateau, patched<std::uint32_t>(bytes, at + 32, 0x80000000u),
                  "descent::ReduceLROnPlateau::load: descent::ReduceLROnPlateau: mode must be "
                  "min (0) or max (1), got 2147483648");
  require_refused(plateau, patched<std::uint32_t>(bytes, at + 60, 2),
                  "descent::ReduceLROnPlateau::load: descent::ReduceLROnPlateau: "
                  "threshold_mode must be rel (0) or abs (1), got 2");
}

// ---------------------------------------------------------------------------
// Scheduler checkpoints: what no run could have saved

TEST_CASE("limits: scheduler checkpoints refuse an epoch the next step would overflow",
          "[limits][scheduler][checkpoint]") {
  descent::GradientDescent<double> gd({0.1});
  descent::StepLR<double> saved(gd, 3, 0.5);
  saved.step();
  const std::string bytes = support::bytes_of(saved);
  const std::size_t epoch_at = payload_at(bytes);

  descent::StepLR<double> target(gd, 4, 0.25);
  require_refused(target, patched<std::int64_t>(bytes, epoch_at, kMax),
                  "descent::StepLR::load: epoch 9223372036854775807 is not in [0, "
                  "9223372036854775806] (the next step would overflow)");
  require_refused(target, patched<std::int64_t>(bytes, epoch_at, -1),
                  "descent::StepLR::load: epoch -1 is not in [0, 9223372036854775806]");
  require_refused(target, patched<std::int64_t>(bytes, epoch_at, std::int64_t(kMin)),
                  "descent::StepLR::load: epoch -9223372036854775808 is not in [0, "
                  "9223372036854775806]");
  CHECK(target.epoch() == 0);
  CHECK(target.step_size() == 4);

  // The last epoch that can be stepped loads; its step reaches LONG_MAX, and
  // the step after that is refused.
  load_bytes(target, patched<std::int64_t>(bytes, epoch_at, kMax - 1));
  CHECK(target.epoch() == kMax - 1);
  target.step();
  CHECK(target.epoch() == kMax);
  CHECK(gd.lr() == 0.1 * std::pow(0.5, double(kMax / 3)));
  CHECK_THROWS_AS(target.step(), std::overflow_error);
  CHECK(target.epoch() == kMax);
}

TEST_CASE("limits: a OneCycleLR checkpoint past total_steps is refused",
          "[limits][scheduler][checkpoint]") {
  descent::GradientDescent<double> gd({0.1});
  descent::OneCycleLR<double> saved(gd, 0.5, 10);
  const std::string bytes = support::bytes_of(saved);
  const std::size_t epoch_at = payload_at(bytes);
  descent::OneCycleLR<double> target(gd, 0.25, 20);
  require_refused(target, patched<std::int64_t>(bytes, epoch_at, 11),
                  "descent::OneCycleLR::load: epoch 11 is past total_steps 10");
  require_refused(target, patched<std::int64_t>(bytes, epoch_at, kMax - 1),
                  "descent::OneCycleLR::load: epoch 9223372036854775806 is past total_steps 10");
  // Step T itself is a state step() reaches.
  load_bytes(target, patched<std::int64_t>(bytes, epoch_at, 10));
  CHECK(target.epoch() == 10);
  CHECK(target.total_steps() == 10);
  CHECK_THROWS_AS(target.step(), std::invalid_argument);
}

TEST_CASE("limits: ReduceLROnPlateau checkpoints refuse counters no step leaves",
          "[limits][scheduler][checkpoint]") {
  descent::GradientDescent<double> gd({0.1});
  descent::ReduceLROnPlateau<double>::Options o;
  o.patience = 3;
  o.cooldown = 2;
  descent::ReduceLROnPlateau<double> saved(gd, o);
  saved.step(1.0);
  saved.step(2.0);
  const std::string bytes = support::bytes_of(saved);
  // Payload: epoch i64, best f64, num_bad_epochs i64, cooldown_counter i64,
  // mode u32, factor f64, patience i64, threshold f64, threshold_mode u32,
  // cooldown i64, …
  const std::size_t at = payload_at(bytes);
  const std::size_t epoch = at, bad = at + 16, cooling = at + 24, patience = at + 44,
                    cooldown = at + 64;
  descent::ReduceLROnPlateau<double> target(gd);
  const std::string who = "descent::ReduceLROnPlateau::load: ";
  require_refused(target, patched<std::int64_t>(bytes, epoch, kMax),
                  who +
                      "epoch 9223372036854775807 is not in [0, 9223372036854775806] (the next "
                      "step would overflow)");
  require_refused(target, patched<std::int64_t>(bytes, epoch, -2),
                  who + "epoch -2 is not in [0, 9223372036854775806]");
  require_refused(target, patched<std::int64_t>(bytes, bad, 4),
                  who + "num_bad_epochs 4 is not in [0, 3] (more than patience)");
  require_refused(target, patched<std::int64_t>(bytes, bad, -1),
                  who + "num_bad_epochs -1 is not in [0, 3]");
  require_refused(target, patched<std::int64_t>(bytes, cooling, 3),
                  who + "cooldown_counter 3 is not in [0, 2] (more than cooldown)");
  require_refused(target, patched<std::int64_t>(bytes, cooling, std::int64_t(kMin)),
                  who + "cooldown_counter -9223372036854775808 is not in [0, 2]");
  require_refused(target, patched<std::int64_t>(bytes, patience, -1),
                  who + "descent::ReduceLROnPlateau: patience must be >= 0, got -1");
  require_refused(target, patched<std::int64_t>(bytes, cooldown, -5),
                  who + "descent::ReduceLROnPlateau: cooldown must be >= 0, got -5");
  CHECK(target.epoch() == 0);

  // The largest values a run can leave load, and their next step neither
  // overflows nor reduces the lr.
  std::string top = patched<std::int64_t>(bytes, patience, kMax);
  top = patched<std::int64_t>(top, bad, kMax);
  top = patched<std::int64_t>(top, epoch, kMax - 1);
  load_bytes(target, top);
  CHECK(target.num_bad_epochs() == kMax);
  gd.set_lr(0.1);
  target.step(NAN);  // not better: a bad epoch
  CHECK(target.num_bad_epochs() == kMax);
  CHECK(target.epoch() == kMax);
  CHECK(gd.lr() == 0.1);
  require_overflow([&] { target.step(1.0); },
                   "descent::ReduceLROnPlateau::step: epoch 9223372036854775807 is the largest a "
                   "std::int64_t holds; there is no next epoch");
  CHECK(target.epoch() == kMax);
  CHECK(target.num_bad_epochs() == kMax);
}

TEST_CASE("limits: SequentialLR and ChainedScheduler check their children's epochs",
          "[limits][scheduler][checkpoint]") {
  descent::GradientDescent<double> gd({0.1});
  descent::LinearLR<double> warm(gd, 0.5, 1.0, 3);
  descent::StepLR<double> decay(gd, 4, 0.5);
  descent::SequentialLR<double> sequential({&warm, &decay}, {3});
  std::string bytes = support::bytes_of(sequential);
  require_refused(sequential, patched<std::int64_t>(bytes, child_payload_at(bytes, "StepLR"), kMax),
                  "descent::SequentialLR::load: schedulers[1].epoch 9223372036854775807 is not in "
                  "[0, 9223372036854775806] (the next step would overflow)");
  require_refused(sequential, patched<std::int64_t>(bytes, payload_at(bytes), kMax),
                  "descent::SequentialLR::load: epoch 9223372036854775807 is not in [0, "
                  "9223372036854775806] (the next step would overflow)");

  descent::ConstantLR<double> constant(gd, 0.5, 2);
  descent::ExponentialLR<double> exponential(gd, 0.9);
  descent::ChainedScheduler<double> chained({&constant, &exponential});
  bytes = support::bytes_of(chained);
  require_refused(chained, patched<std::int64_t>(bytes, child_payload_at(bytes, "ConstantLR"), -7),
                  "descent::ChainedScheduler::load: schedulers[0].epoch -7 is not in [0, "
                  "9223372036854775806]");
}
