#pragma once
/// \file
/// Random minibatches for minibatch SGD (lecture section 3).

#include "detail/check.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <Eigen/Core>

namespace descent {
namespace detail {

/// Batches of batch_size (>= 1) in an epoch of n_samples (>= 0): the last,
/// shorter one counted unless drop_last. ⌈n / b⌉ without n + b − 1, which
/// overflows a long for large sizes.
constexpr long batch_count(long n_samples, long batch_size, bool drop_last) noexcept {
  const long whole = n_samples / batch_size;
  return drop_last || n_samples % batch_size == 0 ? whole : whole + 1;
}

}  // namespace detail

/// \brief Hands out the sample indices of random minibatches B⁽ᵗ⁾: each epoch
/// is a fresh random permutation of 0 … n_samples − 1 cut into batches of
/// batch_size.
///
/// The last, shorter batch of an epoch is kept unless drop_last. Minibatch
/// SGD is any optimizer fed the gradient of the mean loss over the batch
/// (lecture section 3); batch_size 1 is online SGD.
///
/// The sequence depends only on the seed: the permutation is a Fisher–Yates
/// shuffle driven by std::mt19937_64 (whose output the standard fixes) with
/// unbiased rejection sampling, so it is the same with every standard
/// library.
///
/// Any batch_size >= 1 is valid, LONG_MAX included (one batch of all the
/// samples). The sampler holds a permutation of all n_samples indices, made
/// at construction.
class MinibatchSampler {
 public:
  /// Eigen's signed size type.
  using Index = Eigen::Index;

  /// \throws std::invalid_argument if n_samples < 0 or more indices than a
  ///   std::vector holds (2⁶⁰ − 1 with 64-bit indices), or batch_size <= 0;
  ///   std::bad_alloc if the permutation of n_samples indices does not fit
  ///   in memory.
  MinibatchSampler(long n_samples, long batch_size, std::uint64_t seed, bool drop_last = false)
      : n_samples_(n_samples), batch_size_(batch_size), drop_last_(drop_last), rng_(seed) {
    detail::check_at_least("MinibatchSampler", "n_samples", n_samples, 0);
    if (n_samples > max_n_samples()) {
      detail::throw_invalid(
          "MinibatchSampler", "n_samples",
          "<= " + std::to_string(max_n_samples()) + " (the most indices a std::vector holds)",
          n_samples);
    }
    detail::check_at_least("MinibatchSampler", "batch_size", batch_size, 1);
    permutation_.resize(static_cast<std::size_t>(n_samples));
    batch_.reserve(static_cast<std::size_t>(std::min(n_samples, batch_size)));
  }

  /// The indices of the next batch, valid until the next call. A new epoch
  /// starts with a new permutation. If an epoch has no batch (no samples, or
  /// drop_last with fewer samples than batch_size), returns an empty batch
  /// and counts the epoch.
  /// \throws std::overflow_error if epoch() is already the largest long (so
  ///   the epoch this batch belongs to could not be counted); nothing is
  ///   then changed.
  const std::vector<Index>& next() {
    if (epoch_ == std::numeric_limits<long>::max()) {
      throw std::overflow_error("descent::MinibatchSampler::next: epoch " + std::to_string(epoch_) +
                                " is the largest a long holds; there is no next epoch");
    }
    batch_.clear();
    if (batches_per_epoch() == 0) {
      ++epoch_;
      return batch_;
    }
    if (position_ == 0) shuffle();
    // position_ < n_samples_ here, so the remainder is > 0 and the sum
    // position_ + batch_size_, which can overflow, is never formed.
    const long end = position_ + std::min(batch_size_, n_samples_ - position_);
    batch_.assign(permutation_.begin() + position_, permutation_.begin() + end);
    position_ = end;
    const bool epoch_done =
        position_ == n_samples_ || (drop_last_ && n_samples_ - position_ < batch_size_);
    if (epoch_done) {
      position_ = 0;
      ++epoch_;
    }
    return batch_;
  }

  /// Epochs completed: increases when next() hands out an epoch's last batch.
  long epoch() const noexcept { return epoch_; }

  /// Batches in each epoch.
  long batches_per_epoch() const noexcept {
    return detail::batch_count(n_samples_, batch_size_, drop_last_);
  }

  /// Samples per epoch, as constructed.
  long n_samples() const noexcept { return n_samples_; }
  /// Samples per batch (the last batch of an epoch may hold fewer).
  long batch_size() const noexcept { return batch_size_; }
  /// Whether an epoch's incomplete last batch is dropped.
  bool drop_last() const noexcept { return drop_last_; }

 private:
  /// As many indices as a std::vector holds (2⁶⁰ − 1 with 64-bit indices),
  /// whether memory does or not.
  static long max_n_samples() noexcept {
    const std::size_t most = std::vector<Index>().max_size();
    constexpr long kLong = std::numeric_limits<long>::max();
    return most < static_cast<std::size_t>(kLong) ? static_cast<long>(most) : kLong;
  }

  /// Uniform in [0, bound], without the modulo bias of rng() % (bound + 1).
  std::uint64_t uniform(std::uint64_t bound) {
    const std::uint64_t range = bound + 1;
    const std::uint64_t threshold = (0 - range) % range;  // 2^64 mod range
    std::uint64_t r;
    do {
      r = rng_();
    } while (r < threshold);
    return r % range;
  }

  void shuffle() {
    std::iota(permutation_.begin(), permutation_.end(), Index{0});
    for (std::size_t i = permutation_.size(); i > 1; --i) {
      const auto j = static_cast<std::size_t>(uniform(i - 1));
      std::swap(permutation_[i - 1], permutation_[j]);
    }
  }

  long n_samples_;
  long batch_size_;
  bool drop_last_;
  std::mt19937_64 rng_;
  std::vector<Index> permutation_;
  std::vector<Index> batch_;
  long position_ = 0;
  long epoch_ = 0;
};

}  // namespace descent
