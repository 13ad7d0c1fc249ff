// Bad input never hangs: whatever one rank does wrong, every rank throws the
// same exception, naming the ranks and their values, and nothing changes on
// any rank. Non-finite gradients are decided on the mean, alike everywhere.

#include "support.hpp"

#include <limits>
#include <stdexcept>

using namespace mpi_support;
using Catch::Matchers::Contains;
using AdamF = descent::Adam<float>;

namespace {

/// The trainer, its params and what they were: nothing may change.
template <typename Trainer>
struct Before {
  Vec<float> x;
  std::string state;
  std::int64_t iterations;
  explicit Before(Trainer& t, const Vec<float>& params)
      : x(params),
        state(descent::detail::mpi::bytes_of(t.optimizer())),
        iterations(t.optimizer().iterations()) {}
  bool unchanged(Trainer& t, const Vec<float>& params) const {
    return same_bits(x, params) && state == descent::detail::mpi::bytes_of(t.optimizer()) &&
           iterations == t.optimizer().iterations();
  }
};

/// Two ordinary steps, so that the state is not empty.
template <typename Trainer>
Vec<float> warmed(Trainer& t, Eigen::Index n) {
  Vec<float> x = start<float>(n);
  for (int s = 0; s < 2; ++s) t.step(x, gradient<float>(t.rank(), s, n));
  return x;
}

}  // namespace

TEMPLATE_TEST_CASE("mpi: ranks that pass different sizes all throw, naming them", "",
                   descent::mpi::DataParallel<AdamF>, descent::mpi::Sharded<AdamF>) {
  const int p = world_size(), me = world_rank();
  TestType t(MPI_COMM_WORLD);
  const Eigen::Index n = 256;
  Vec<float> x = warmed(t, n);
  const Before<TestType> before(t, x);
  if (p > 1) {
    // The last rank passes one element fewer.
    Vec<float> y = me == p - 1 ? Vec<float>(x.head(n - 1)) : x;
    REQUIRE_THROWS_MATCHES(
        t.step(y, gradient<float>(me, 2, y.size())), std::invalid_argument,
        Catch::Matchers::Message(std::string("descent::mpi::") +
                                 (std::is_same<TestType, descent::mpi::Sharded<AdamF>>::value
                                      ? "Sharded"
                                      : "DataParallel") +
                                 "<Adam>::step: the ranks passed different sizes (" +
                                 (p == 2 ? "rank 0: 256 elements; rank 1: 255 elements"
                                         : "ranks 0, 1: 256 elements; rank 2: 255 elements") +
                                 "); nothing was changed on any rank"));
    REQUIRE(before.unchanged(t, x));
  }
  // One rank's params and grad differ in size.
  Vec<float> g = gradient<float>(me, 2, me == 0 ? n + 1 : n);
  REQUIRE_THROWS_WITH(t.step(x, g), Contains("rank 0: params has 256 elements but grad has 257"));
  REQUIRE(before.unchanged(t, x));
  // Another size on every rank than the state's.
  Vec<float> z = start<float>(n + 64);
  REQUIRE_THROWS_WITH(t.step(z, gradient<float>(me, 2, n + 64)),
                      Contains("params has 320 elements but the state was built for 256"));
  REQUIRE(before.unchanged(t, x));
  // Learning rates that differ.
  t.optimizer().set_lr(me == 0 ? 0.5f : 0.25f);
  if (p > 1) {
    REQUIRE_THROWS_WITH(t.step(x, gradient<float>(me, 2, n)),
                        Contains("learning rates differ (rank 0: 0.5; rank"));
    REQUIRE(same_bits(before.x, x));
  }
  t.optimizer().set_lr(0.25f);
  // Bucket sizes that differ.
  t.set_bucket_bytes(me == 0 ? 4096 : 1024);
  if (p > 1) {
    REQUIRE_THROWS_WITH(t.step(x, gradient<float>(me, 2, n)),
                        Contains("bucket sizes differ (rank 0: 4096 bytes; rank"));
  }
  REQUIRE_THROWS_AS(t.set_bucket_bytes(3), std::invalid_argument);
  t.set_bucket_bytes(1024);
  // Shared memory on one rank only.
  t.set_shared_memory(me != p - 1);
  if (p > 1) {
    REQUIRE_THROWS_WITH(t.step(x, gradient<float>(me, 2, n)),
                        Contains("shared-memory settings differ (" +
                                 std::string(p == 2 ? "rank 0: on; rank 1: off)"
                                                    : "ranks 0, 1: on; rank 2: off)")));
  }
  t.set_shared_memory(true);
  // Clipping on one rank only.
  if (p > 1) {
    if (me == 1) {
      REQUIRE_THROWS_WITH(t.step(x, gradient<float>(me, 2, n), descent::mpi::ClipGradNorm{1.0}),
                          Contains("rank 1: max_norm 1, norm_type 2)"));
    } else {
      REQUIRE_THROWS_WITH(t.step(x, gradient<float>(me, 2, n)),
                          Contains("rank 1: max_norm 1, norm_type 2)"));
    }
  }
  REQUIRE_THROWS_WITH(t.step(x, gradient<float>(me, 2, n), descent::mpi::ClipGradNorm{-1.0}),
                      Contains("clip max_norm must be finite and >= 0, got -1"));
  // And then a good step goes through.
  t.step(x, gradient<float>(me, 2, n));
  REQUIRE(t.optimizer().iterations() == 3);
  REQUIRE(same_on_every_rank(x));
}

TEST_CASE("mpi: options that differ between ranks or are refused on one throw on every rank") {
  const int p = world_size(), me = world_rank();
  AdamF::Options o;
  if (me == p - 1) o.beta1 = 0.95f;
  if (p > 1) {
    REQUIRE_THROWS_MATCHES(
        descent::mpi::Sharded<AdamF>(MPI_COMM_WORLD, o), std::invalid_argument,
        Catch::Matchers::Message(std::string("descent::mpi::Sharded<Adam>: the ranks were built "
                                             "with different options: beta1 (") +
                                 (p == 2 ? "rank 0: 0.8999999761581421; rank 1: 0.949999988079071)"
                                         : "ranks 0, 1: 0.8999999761581421; rank 2: "
                                           "0.949999988079071)")));
  }
  AdamF::Options bad;
  if (me == p - 1) bad.beta2 = 1.5f;
  REQUIRE_THROWS_WITH(descent::mpi::DataParallel<AdamF>(MPI_COMM_WORLD, bad),
                      Contains("descent::mpi::DataParallel<Adam>: rank " + std::to_string(p - 1) +
                               ": descent::Adam: beta2 must be in [0, 1), got 1.5"));
}

TEMPLATE_TEST_CASE(
    "mpi: a NaN or inf in one rank's gradient: every rank skips or every rank throws", "",
    descent::mpi::DataParallel<AdamF>, descent::mpi::Sharded<AdamF>) {
  const int p = world_size(), me = world_rank();
  const Eigen::Index n = 200;
  for (const auto policy : {descent::NonFinite::Skip, descent::NonFinite::Throw}) {
    AdamF::Options o;
    o.nonfinite = policy;
    TestType t(MPI_COMM_WORLD, o);
    Vec<float> x = warmed(t, n);
    const Before<TestType> before(t, x);
    Vec<float> g = gradient<float>(me, 2, n);
    if (me == p - 1) g(150) = std::numeric_limits<float>::quiet_NaN();
    if (policy == descent::NonFinite::Skip) {
      t.step(x, g);
      REQUIRE(t.optimizer().skipped_steps() == 1);
      REQUIRE(same_bits(before.x, x));
      REQUIRE(t.optimizer().iterations() == 2);
    } else {
      REQUIRE_THROWS_MATCHES(
          t.step(x, g), std::domain_error,
          Catch::Matchers::Message(
              std::string("descent::mpi::") +
              (std::is_same<TestType, descent::mpi::Sharded<AdamF>>::value ? "Sharded"
                                                                           : "DataParallel") +
              "<Adam>::step: the mean of the " + std::to_string(p) +
              " ranks' gradients has element [150] = nan; params and state are unchanged on "
              "every rank"));
      REQUIRE(before.unchanged(t, x));
    }
    // The next good step is the single-process one.
    t.step(x, gradient<float>(me, 3, n));
    REQUIRE(same_on_every_rank(x));
  }
}

TEST_CASE("mpi: Sharded refuses fewer parameters than ranks and DataParallel steps them") {
  const int p = world_size(), me = world_rank();
  if (p == 1) return;
  descent::mpi::Sharded<AdamF> sharded(MPI_COMM_WORLD);
  Vec<float> x = start<float>(p - 1);
  REQUIRE_THROWS_WITH(sharded.step(x, gradient<float>(me, 0, p - 1)),
                      Contains(std::to_string(p - 1) + " parameters cannot be sharded over " +
                               std::to_string(p) + " ranks"));
  descent::mpi::DataParallel<AdamF> dp(MPI_COMM_WORLD);
  dp.step(x, gradient<float>(me, 0, p - 1));
  REQUIRE(same_on_every_rank(x));
  // Empty params: nothing to do, on every rank.
  Vec<float> empty;
  sharded.step(empty, empty);
  REQUIRE(sharded.optimizer().iterations() == 0);
}
