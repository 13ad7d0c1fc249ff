// Arithmetic limits: sizes, epochs and counters at the ends of their types
// are computed without overflow or refused with a message naming the field,
// and enum options outside their enumerators are refused. Run under UBSan
// (the sanitize preset) these tests also prove the absence of signed
// overflow.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <descent/descent.hpp>
#include <functional>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support.hpp"

using support::require_message;

namespace {

constexpr long kMax = std::numeric_limits<long>::max();

}  // namespace

// ---------------------------------------------------------------------------
// MinibatchSampler

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
