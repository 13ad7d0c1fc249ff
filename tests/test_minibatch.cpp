// MinibatchSampler (lecture section 3) and minibatch SGD on a linear
// regression, checked against the closed-form least-squares solution.

#include "support.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include <Eigen/Dense>
#include <descent/descent.hpp>

using descent::MinibatchSampler;
using Index = Eigen::Index;

TEST_CASE("minibatch: each epoch is a permutation cut into batches", "[minibatch]") {
  MinibatchSampler sampler(10, 3, 42);
  REQUIRE(sampler.batches_per_epoch() == 4);
  std::vector<std::vector<Index>> epochs;
  for (int e = 0; e < 5; ++e) {
    std::vector<Index> seen;
    for (int b = 0; b < 4; ++b) {
      CHECK(sampler.epoch() == e);
      const auto& batch = sampler.next();
      CHECK(batch.size() == (b < 3 ? 3u : 1u));  // the short last batch is kept
      seen.insert(seen.end(), batch.begin(), batch.end());
    }
    CHECK(sampler.epoch() == e + 1);
    std::vector<Index> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    std::vector<Index> all(10);
    std::iota(all.begin(), all.end(), Index{0});
    CHECK(sorted == all);
    epochs.push_back(seen);
  }
  // Fresh permutations: not all epochs in the same order.
  CHECK(std::set<std::vector<Index>>(epochs.begin(), epochs.end()).size() > 1);
}

TEST_CASE("minibatch: drop_last drops the short batch", "[minibatch]") {
  MinibatchSampler sampler(10, 3, 7, true);
  REQUIRE(sampler.batches_per_epoch() == 3);
  std::set<Index> seen;
  for (int b = 0; b < 3; ++b) {
    const auto& batch = sampler.next();
    CHECK(batch.size() == 3u);
    seen.insert(batch.begin(), batch.end());
  }
  CHECK(seen.size() == 9u);
  CHECK(sampler.epoch() == 1);
  CHECK(sampler.next().size() == 3u);  // the next epoch starts at once
}

TEST_CASE("minibatch: the sequence depends only on the seed", "[minibatch]") {
  MinibatchSampler a(100, 16, 2024);
  MinibatchSampler b(100, 16, 2024);
  MinibatchSampler c(100, 16, 2025);
  bool differs = false;
  for (int i = 0; i < 50; ++i) {
    const auto batch_a = a.next();
    CHECK(batch_a == b.next());
    differs = differs || batch_a != c.next();
  }
  CHECK(differs);
}

TEST_CASE("minibatch: degenerate sizes", "[minibatch]") {
  SECTION("no samples") {
    MinibatchSampler sampler(0, 4, 1);
    CHECK(sampler.batches_per_epoch() == 0);
    CHECK(sampler.next().empty());
    CHECK(sampler.epoch() == 1);
  }
  SECTION("batch larger than the data") {
    MinibatchSampler sampler(5, 8, 1);
    CHECK(sampler.next().size() == 5u);
    CHECK(sampler.epoch() == 1);
    MinibatchSampler dropping(5, 8, 1, true);
    CHECK(dropping.next().empty());
    CHECK(dropping.epoch() == 1);
  }
  SECTION("online learning, batch size 1") {
    MinibatchSampler sampler(3, 1, 9);
    CHECK(sampler.batches_per_epoch() == 3);
    for (int i = 0; i < 3; ++i) CHECK(sampler.next().size() == 1u);
    CHECK(sampler.epoch() == 1);
  }
}

TEST_CASE("minibatch: the shuffle is uniform", "[minibatch]") {
  // Where sample 0 lands over many epochs of 5 samples: each of the 5
  // positions has probability 1/5. With 20 000 epochs a count is
  // 4000 ± 57 (one standard deviation); allow six.
  constexpr int kEpochs = 20000;
  MinibatchSampler sampler(5, 5, 12345);
  std::vector<int> position_of_zero(5, 0);
  for (int e = 0; e < kEpochs; ++e) {
    const auto& batch = sampler.next();
    const auto it = std::find(batch.begin(), batch.end(), Index{0});
    ++position_of_zero[static_cast<std::size_t>(it - batch.begin())];
  }
  for (const int count : position_of_zero) {
    INFO("count " << count);
    CHECK(std::abs(count - kEpochs / 5) < 6 * 57);
  }
}

namespace {

/// y = X w + noise, with X of n rows and d columns (the last column ones).
struct Regression {
  Eigen::MatrixXd X;
  Eigen::VectorXd y;
  Eigen::VectorXd w_true;

  Regression(Index n, Index d, double noise) : X(n, d), y(n), w_true(d) {
    std::mt19937_64 rng(17);
    std::normal_distribution<double> normal(0.0, 1.0);
    for (Index i = 0; i < n; ++i) {
      for (Index j = 0; j + 1 < d; ++j) X(i, j) = normal(rng);
      X(i, d - 1) = 1.0;
    }
    for (Index j = 0; j < d; ++j) w_true(j) = 0.5 * double(j) - 1.0;
    y = X * w_true;
    for (Index i = 0; i < n; ++i) y(i) += noise * normal(rng);
  }

  Eigen::VectorXd least_squares() const { return X.colPivHouseholderQr().solve(y); }

  /// Gradient of the mean loss ½ (xᵀw − y)² over the batch.
  Eigen::VectorXd grad(const Eigen::VectorXd& w, const std::vector<Index>& batch) const {
    const Eigen::MatrixXd Xb = X(batch, Eigen::all);
    return Xb.transpose() * (Xb * w - y(batch)) / double(batch.size());
  }
};

/// Minibatch SGD with momentum over `epochs`, the lr decayed by StepLR.
Eigen::VectorXd train(const Regression& data, int epochs, long decay_every, double gamma) {
  descent::SGD<double> sgd({0.05, 0.9});
  descent::StepLR<double> schedule(sgd, decay_every, gamma);
  MinibatchSampler sampler(data.X.rows(), 32, 3);
  Eigen::VectorXd w = Eigen::VectorXd::Zero(data.X.cols());
  for (int e = 0; e < epochs; ++e) {
    while (sampler.epoch() == e) {
      const auto& batch = sampler.next();
      sgd.step(w, data.grad(w, batch));
    }
    schedule.step();
  }
  return w;
}

}  // namespace

TEST_CASE("minibatch SGD reaches the least-squares solution of a consistent system",
          "[minibatch][convergence]") {
  // No noise: every batch's gradient vanishes at the solution, so minibatch
  // SGD converges to it linearly, at a constant lr.
  const Regression data(512, 5, 0.0);
  const Eigen::VectorXd w = train(data, 60, 1000, 1.0);
  INFO("w = " << w.transpose());
  CHECK((w - data.least_squares()).norm() < 1e-10);
}

TEST_CASE("minibatch SGD with a decaying lr reaches the least-squares solution of noisy data",
          "[minibatch][convergence]") {
  // With noise the batch gradients disagree at the solution, so the iterate
  // jitters around it with an amplitude that shrinks with the lr; a geometric
  // decay freezes it at ~2e-5 here, whatever its rate (tried 0.3 to 0.8 per
  // 5 to 20 epochs). It must end 100 times nearer the least-squares solution
  // than the true weights are to it.
  const Regression data(512, 5, 0.1);
  const Eigen::VectorXd w_star = data.least_squares();
  const Eigen::VectorXd w = train(data, 200, 10, 0.5);
  const double distance = (w - w_star).norm();
  INFO("distance to least squares " << distance << ", true weights are "
                                    << (data.w_true - w_star).norm() << " from it");
  CHECK(distance < 1e-4);
  CHECK(distance < 0.01 * (data.w_true - w_star).norm());
}
