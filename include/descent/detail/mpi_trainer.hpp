#pragma once
/// \file
/// What descent::mpi::DataParallel and descent::mpi::Sharded share: the
/// agreement before a step, the reduction, clipping, the non-finite
/// decision, and the checkpoints; see mpi.hpp for the contract.

#include "../checkpoint.hpp"
#include "../clip.hpp"
#include "../nonfinite.hpp"
#include "../optimizer.hpp"
#include "check.hpp"
#include "kernel.hpp"
#include "mpi_checkpoint.hpp"
#include "mpi_exchange.hpp"
#include "serialize.hpp"

#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <exception>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <mpi.h>

namespace descent::detail::mpi {

/// Σ (|x_i| / scale)^p in double, always in the same order for the same
/// elements wherever they are stored: eight sums by index modulo 8, then
/// added pairwise.
template <typename S>
double sum_of_powers(const S* x, Index n, double p, double scale) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const auto term = [p, scale](S v) {
    const double a = std::abs(double(v)) / scale;
    return p == 2.0 ? a * a : p == 1.0 ? a : std::pow(a, p);
  };
  for (Index i = 0; i < n; ++i) acc[i % 8] += term(x[i]);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/// max |x_i|, NaN if an element is NaN.
template <typename S>
double largest(const S* x, Index n) {
  double m = 0;
  for (Index i = 0; i < n; ++i) {
    const double a = std::abs(double(x[i]));
    if (a > m || std::isnan(a)) m = a;
    if (std::isnan(m)) break;
  }
  return m;
}

template <typename Opt, bool kSharded>
class Trainer {
 public:
  using Scalar = typename Opt::Scalar;
  using Options = typename Opt::Options;
  using Index = Eigen::Index;

  Trainer(MPI_Comm comm, const Options& options)
      : who_(std::string("descent::mpi::") + (kSharded ? "Sharded<" : "DataParallel<") +
             std::string(Opt().name()) + ">"),
        comm_(comm, who_),
        opt_(make(options, refused_)) {
    // Options refused on one rank are refused on all, before anything else.
    std::string error =
        refused_.empty() ? refused_ : "rank " + std::to_string(rank()) + ": " + refused_;
    error = first_error(error, comm_.get());
    if (!error.empty()) throw std::invalid_argument(who_ + ": " + error);
    agree_on_options();
    one_node_ = on_one_node(comm_.get());
  }

  Opt& optimizer() noexcept { return opt_; }
  const Opt& optimizer() const noexcept { return opt_; }
  int rank() const noexcept { return comm_.rank(); }
  int size() const noexcept { return comm_.size(); }

  void set_bucket_bytes(std::size_t bytes) {
    if (bytes < sizeof(Scalar)) {
      throw std::invalid_argument(who("set_bucket_bytes") +
                                  ": bucket_bytes must be >= " + std::to_string(sizeof(Scalar)) +
                                  ", got " + std::to_string(bytes));
    }
    bucket_ = Index(std::min<std::size_t>(bytes / sizeof(Scalar), std::size_t{INT_MAX}));
  }
  std::size_t bucket_bytes() const noexcept { return std::size_t(bucket_) * sizeof(Scalar); }
  std::size_t buffer_bytes() const noexcept {
    return std::size_t(mean_.size()) * sizeof(Scalar) + exchange_.buffer_bytes() + grads_.bytes() +
           shards_.bytes();
  }
  void set_shared_memory(bool on) noexcept { shared_memory_ = on; }
  bool shared_memory() const noexcept { return shared_memory_ && one_node_ && size() > 1; }

  template <typename Params, typename Grad>
  void step(Params&& params, const Eigen::DenseBase<Grad>& grad) {
    step_impl(params, grad, nullptr);
  }
  template <typename Params, typename Grad>
  double step(Params&& params, const Eigen::DenseBase<Grad>& grad,
              const descent::mpi::ClipGradNorm& clip) {
    return step_impl(params, grad, &clip);
  }

  void save_file(const std::string& path) const;
  void load_file(const std::string& path);

 protected:
  /// The number of parameters the ranks' state is for, or -1.
  Index established() const noexcept {
    if (kSharded) return opt_.state_size() >= 0 ? n_ : -1;
    return opt_.state_size();
  }
  /// [begin, end) of this rank's shard of the last size stepped or loaded.
  std::pair<Index, Index> shard_range() const {
    const Index n = established() >= 0 ? n_ : last_n_;
    if (n < 0) return {0, 0};
    return {shard_begin(n, size(), rank()), shard_begin(n, size(), rank() + 1)};
  }

 private:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  // The facts every rank shares before a step.
  enum Fact {
    kParams,
    kGrad,
    kProblem,
    kState,
    kIterations,
    kLr,
    kBucket,
    kClip,
    kMax,
    kP,
    kShared,
    kFacts
  };

  static Opt make(const Options& options, std::string& refused) {
    try {
      return Opt(options);
    } catch (const std::invalid_argument& e) {
      refused = e.what();
      return Opt();
    }
  }
  std::string who(const char* method) const { return who_ + "::" + method; }

  void agree_on_options();
  void agree_on_step(const std::vector<std::int64_t>& all) const;
  template <typename Params, typename Grad>
  double step_impl(Params&& params, const Eigen::DenseBase<Grad>& grad,
                   const descent::mpi::ClipGradNorm* clip);
  template <typename Drive>
  std::exception_ptr step_fed(Scalar* x, const Scalar* mean, Index m, Drive drive);
  void step_pipelined(Scalar* x, const Scalar* g, Index n, Index begin, Index len);
  bool allocate_shared(Index n);
  void step_shared(Scalar* x, const Scalar* g, Index n, Index begin, Index len);
  double clip_mean(Index n, const descent::mpi::ClipGradNorm& clip);
  /// f(pointer, length) over every shard of the mean, in rank order.
  template <typename F>
  std::vector<double> per_shard(Index n, const F& f) const;

  std::string refused_;  // before comm_ and opt_: make() writes it
  std::string who_;
  Communicator comm_;
  Opt opt_;
  Index n_ = -1;       // the size the state is for, when established() says so
  Index last_n_ = -1;  // the size of the last step
  Index bucket_ = Index((std::size_t{4} << 20) / sizeof(Scalar));  // 4 MiB: bench/README.md
  Vector mean_;  // the mean gradient: all of it (DataParallel) or this rank's shard
  Exchange<Scalar> exchange_;
  bool one_node_ = false;                // every rank on one node
  bool shared_memory_ = true;            // set_shared_memory
  SharedWindow<Scalar> grads_, shards_;  // step_shared
  std::vector<const Scalar*> sources_, pieces_;
};

template <typename Opt, bool kSharded>
void Trainer<Opt, kSharded>::agree_on_options() {
  const std::string fresh = bytes_of(opt_);
  // FNV-1a (a CRC-32 of bytes that end in their own CRC-32 is a constant).
  std::uint64_t hash = 14695981039346656037ull;
  for (const char c : fresh) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  const auto all =
      allgather({static_cast<std::int64_t>(hash), std::int64_t(fresh.size())}, comm_.get());
  bool same = true;
  for (std::size_t r = 1; r < std::size_t(size()); ++r) {
    same = same && all[2 * r] == all[0] && all[2 * r + 1] == all[1];
  }
  if (same) return;
  // Name the options that differ, with every rank's value.
  std::vector<CheckpointParts<Scalar>> heads(static_cast<std::size_t>(size()));
  for (int r = 0; r < size(); ++r) {
    std::string bytes = r == rank() ? fresh : std::string();
    broadcast_bytes(bytes, r, comm_.get());
    std::istringstream in(bytes);
    Reader reader(in, who_, ObjectKind::Optimizer, opt_.name(), int(sizeof(Scalar)));
    read_head(reader, heads[std::size_t(r)]);
  }
  std::string differ;
  const auto& first = heads[0].options;
  for (std::size_t k = 0; k < first.size(); ++k) {
    bool equal = true;
    for (const auto& h : heads) equal = equal && h.options[k].second == first[k].second;
    if (equal) continue;
    differ +=
        (differ.empty() ? "" : "; ") + first[k].first + " (" +
        by_rank(size(), [&](int r) { return to_text(heads[std::size_t(r)].options[k].second); }) +
        ")";
  }
  throw std::invalid_argument(who_ + ": the ranks were built with different options: " + differ);
}

template <typename Opt, bool kSharded>
void Trainer<Opt, kSharded>::agree_on_step(const std::vector<std::int64_t>& all) const {
  const int p = size();
  const auto at = [&](int r, Fact f) { return all[std::size_t(r) * kFacts + f]; };
  const auto differ = [&](Fact f) {
    for (int r = 1; r < p; ++r) {
      if (at(r, f) != at(0, f)) return true;
    }
    return false;
  };
  const auto fail = [&](const std::string& what) {
    throw std::invalid_argument(who("step") + ": " + what + "; nothing was changed on any rank");
  };
  std::string problems;
  for (int r = 0; r < p; ++r) {
    const std::int64_t code = at(r, kProblem);
    if (code == 0) continue;
    std::string what =
        code == 1 ? "params has " + std::to_string(at(r, kParams)) + " elements but grad has " +
                        std::to_string(at(r, kGrad))
        : code == 2 ? "params is not stored contiguously"
        : code == 3 ? "params and grad are matrices of different storage orders"
        : code == 4
            ? "clip max_norm must be finite and >= 0, got " + to_text(double_of(at(r, kMax)))
            : "clip norm_type must be > 0, got " + to_text(double_of(at(r, kP)));
    problems += (problems.empty() ? "rank " : "; rank ") + std::to_string(r) + ": " + what;
  }
  if (!problems.empty()) fail(problems);
  if (differ(kParams)) {
    fail("the ranks passed different sizes (" +
         by_rank(p, [&](int r) { return std::to_string(at(r, kParams)) + " elements"; }) + ")");
  }
  if (differ(kState) || differ(kIterations)) {
    fail("the ranks' optimizers are out of step (" +
         by_rank(p,
                 [&](int r) {
                   return "state for " + std::to_string(at(r, kState)) + ", " +
                          std::to_string(at(r, kIterations)) + " steps";
                 }) +
         "): drive optimizer() alike on every rank");
  }
  const std::int64_t n = at(0, kParams), state = at(0, kState);
  if (state >= 0 && n != state) {
    fail("params has " + std::to_string(n) + " elements but the state was built for " +
         std::to_string(state) + " (call optimizer().reset() on every rank to change the size)");
  }
  if (kSharded && n > 0 && n < p) {
    fail(std::to_string(n) + " parameters cannot be sharded over " + std::to_string(p) +
         " ranks (DataParallel can step them)");
  }
  if (differ(kLr)) {
    fail("the ranks' learning rates differ (" +
         by_rank(p, [&](int r) { return to_text(double_of(at(r, kLr))); }) + ")");
  }
  if (differ(kShared)) {
    fail(
        "the ranks' shared-memory settings differ (" +
        by_rank(p, [&](int r) { return at(r, kShared) ? std::string("on") : std::string("off"); }) +
        ")");
  }
  if (differ(kBucket)) {
    fail("the ranks' bucket sizes differ (" +
         by_rank(p,
                 [&](int r) {
                   return std::to_string(at(r, kBucket) * std::int64_t(sizeof(Scalar))) + " bytes";
                 }) +
         ")");
  }
  if (differ(kClip) || differ(kMax) || differ(kP)) {
    fail("the ranks asked for different clipping (" +
         by_rank(p,
                 [&](int r) {
                   if (at(r, kClip) < 0) return std::string("none");
                   return "max_norm " + to_text(double_of(at(r, kMax))) + ", norm_type " +
                          to_text(double_of(at(r, kP))) +
                          (at(r, kClip) == 1 ? ", error_if_nonfinite" : "");
                 }) +
         ")");
  }
}

template <typename Opt, bool kSharded>
template <typename Params, typename Grad>
double Trainer<Opt, kSharded>::step_impl(Params&& params, const Eigen::DenseBase<Grad>& grad,
                                         const descent::mpi::ClipGradNorm* clip) {
  using P = std::remove_reference_t<Params>;
  using PD = std::remove_cv_t<P>;
  static_assert(is_dense<PD>, "descent::mpi: params must be an Eigen dense object");
  static_assert(std::is_same<typename PD::Scalar, Scalar>::value,
                "descent::mpi: params must hold the optimizer's Scalar");
  static_assert(std::is_same<typename Grad::Scalar, Scalar>::value,
                "descent::mpi: grad must hold the optimizer's Scalar");
  static_assert(has_direct_access<PD>(),
                "descent::mpi: params must expose its storage (a Matrix, Array, Map or "
                "contiguous Block), not an expression");
  static_assert(!std::is_const<P>::value && (int(PD::Flags) & Eigen::LvalueBit) != 0,
                "descent::mpi: params must be writable");
  const Grad& g = grad.derived();

  // Every local problem becomes a fact, so that all ranks reach the
  // agreement and throw the same exception rather than leave one waiting.
  std::int64_t problem = 0;
  if (params.size() != g.size()) {
    problem = 1;
  } else if (!is_contiguous(params)) {
    problem = 2;
  } else if (params.rows() > 1 && params.cols() > 1 && g.rows() > 1 && g.cols() > 1 &&
             bool(PD::IsRowMajor) != bool(Grad::IsRowMajor)) {
    problem = 3;
  } else if (clip && (!(clip->max_norm >= 0) || !std::isfinite(clip->max_norm))) {
    problem = 4;
  } else if (clip && !(clip->options.norm_type > 0)) {
    problem = 5;
  }
  std::vector<std::int64_t> facts(kFacts);
  facts[kParams] = params.size();
  facts[kGrad] = g.size();
  facts[kProblem] = problem;
  facts[kState] = established();
  facts[kIterations] = opt_.iterations();
  facts[kLr] = bits_of(double(opt_.lr()));
  facts[kBucket] = bucket_;
  facts[kClip] = clip ? (clip->options.error_if_nonfinite ? 1 : 0) : -1;
  facts[kMax] = bits_of(clip ? clip->max_norm : 0.0);
  facts[kP] = bits_of(clip ? clip->options.norm_type : 0.0);
  facts[kShared] = shared_memory_ ? 1 : 0;
  agree_on_step(allgather(facts, comm_.get()));

  const Index n = params.size();
  last_n_ = n;
  if (n == 0) return 0.0;
  const Scalar* gp = nullptr;
  typename Grad::PlainObject plain;
  if constexpr (has_direct_access<Grad>()) {
    if (is_contiguous(g)) gp = g.data();
  }
  if (gp == nullptr) {
    plain = g;
    gp = plain.data();
  }

  const int p = size(), me = rank();
  const Index begin = shard_begin(n, p, me), len = shard_begin(n, p, me + 1) - begin;
  Scalar* x = params.data();
  // A shard's elements at their place in the whole, for stochastic
  // rounding's bits: the same on any number of ranks.
  opt_.set_element_offset(kSharded ? begin : 0);
  // With nothing to decide over the whole mean first, each piece of it is
  // stepped as soon as it is reduced, while it is in cache.
  const bool fed = clip == nullptr && opt_.options().nonfinite == NonFinite::Propagate &&
                   opt_.iterations() < std::numeric_limits<std::int64_t>::max();
  const bool shared = fed && shared_memory() && n >= p && allocate_shared(n);
  if (shared || (fed && kSharded)) {
    if (shared) {
      step_shared(x, gp, n, begin, len);
    } else {
      step_pipelined(x, gp, n, begin, len);
    }
    if (opt_.state_size() >= 0) n_ = n;
    return 0.0;
  }
  if (mean_.size() != (kSharded ? len : n)) mean_.resize(kSharded ? len : n);
  exchange_.reduce(comm_.get(), gp, n, bucket_, mean_.data(), kSharded ? 0 : begin, !kSharded);
  const double norm = clip ? clip_mean(n, *clip) : 0.0;

  // The mean holds NaN or ±inf exactly when a rank's gradient does (or the
  // sum overflowed): the same decision on every rank.
  bool skip = false;
  if (opt_.options().nonfinite != NonFinite::Propagate) {
    const Index bad = first_nonfinite(mean_.data(), mean_.size());
    std::int64_t index = bad < 0 ? -1 : (kSharded ? begin : 0) + bad;
    double value = bad < 0 ? 0.0 : double(mean_[bad]);
    if (kSharded) {
      const auto all = allgather({index, bits_of(value)}, comm_.get());
      for (int r = p - 1; r >= 0; --r) {
        if (all[2 * std::size_t(r)] >= 0) {
          index = all[2 * std::size_t(r)];
          value = double_of(all[2 * std::size_t(r) + 1]);
        }
      }
    }
    if (index >= 0) {
      if (opt_.options().nonfinite == NonFinite::Throw) {
        throw std::domain_error(who("step") + ": the mean of the " + std::to_string(p) +
                                " ranks' gradients has element [" + std::to_string(index) + "] = " +
                                to_text(value) + "; params and state are unchanged on every rank");
      }
      skip = true;
    }
  }

  if (kSharded) {
    Eigen::Map<Vector> mine(x + begin, len);
    // A skipped step goes through the optimizer so that it counts it in
    // skipped_steps(), as a single-process one would.
    if (skip) mean_[0] = std::numeric_limits<Scalar>::quiet_NaN();
    opt_.step(mine, mean_);
    if (!skip) exchange_.allgather(comm_.get(), x, n, bucket_);
  } else {
    Eigen::Map<Vector> all(x, n);
    opt_.step(all, mean_);
  }
  if (opt_.state_size() >= 0) n_ = n;
  return norm;
}

/// An ElementFeed that hands the update's loop to drive(piece), which calls
/// piece(lo, hi) for consecutive ranges as their gradient becomes ready,
/// and does its communication around them.
template <typename Drive>
class Feed final : public ElementFeed {
 public:
  explicit Feed(Drive drive) : drive_(std::move(drive)) {}

  void feed(Index, Run run, const void* context) override {
    fed_ = true;
    drive_([run, context](Index lo, Index hi) { run(context, lo, hi); });
  }

  /// The communication without the update, if no update ran (an empty
  /// shard, or a step that threw first), so that every rank's part of the
  /// exchange still takes place.
  void drain() {
    if (fed_) return;
    fed_ = true;
    drive_([](Index, Index) {});
  }

 private:
  Drive drive_;
  bool fed_ = false;
};

template <typename Opt, bool kSharded>
template <typename Drive>
std::exception_ptr Trainer<Opt, kSharded>::step_fed(Scalar* x, const Scalar* mean, Index m,
                                                    Drive drive) {
  Feed<Drive> feed(std::move(drive));
  std::exception_ptr error;
  next_feed = &feed;
  try {
    opt_.step(Eigen::Map<Vector>(x, m), Eigen::Map<const Vector>(mean, m));
  } catch (...) {
    error = std::current_exception();
  }
  next_feed = nullptr;
  feed.drain();
  return error;
}

template <typename Opt, bool kSharded>
void Trainer<Opt, kSharded>::step_pipelined(Scalar* x, const Scalar* g, Index n, Index begin,
                                            Index len) {
  // Each bucket of the shard is reduced in cache-sized pieces, each piece
  // is stepped at once, and the stepped bucket goes to the peers while the
  // next bucket arrives.
  if (mean_.size() != len) mean_.resize(len);
  exchange_.start_reduce(comm_.get(), g, n, bucket_);
  exchange_.receive_shards(x);
  Scalar* shard = x + begin;
  Scalar* mean = mean_.data();
  const auto error = step_fed(shard, mean, len, [&](const auto& piece) {
    for (Index k = 0; k < exchange_.buckets(); ++k) {
      exchange_.reduce_bucket(k, mean, piece);
      exchange_.send_bucket(k, shard);
    }
  });
  exchange_.finish();
  if (error) std::rethrow_exception(error);
}

template <typename Opt, bool kSharded>
bool Trainer<Opt, kSharded>::allocate_shared(Index n) {
  const int p = size();
  const Index len = shard_begin(n, p, rank() + 1) - shard_begin(n, p, rank());
  grads_.allocate(comm_.get(), n - len, false);
  shards_.allocate(comm_.get(), len, true);
  for (int r = 0; r < p; ++r) {
    if (shards_.of(r) != shards_.of(0) + shard_begin(n, p, r)) {
      // An MPI library that does not place the segments one after the
      // other, as the standard says it does by default: point-to-point.
      grads_ = SharedWindow<Scalar>();
      shards_ = SharedWindow<Scalar>();
      one_node_ = false;
      return false;
    }
  }
  return true;
}

template <typename Opt, bool kSharded>
void Trainer<Opt, kSharded>::step_shared(Scalar* x, const Scalar* g, Index n, Index begin,
                                         Index len) {
  // Two windows: grads_ holds every rank's gradient outside its own shard,
  // where the shards' owners read it; shards_, one segment a rank placed
  // one after the other, is the mean gradient (DataParallel) or, piece by
  // piece, the mean of a rank's shard and then its new parameters
  // (Sharded).
  const int p = size(), me = rank();
  const MPI_Comm comm = comm_.get();
  Scalar* out = grads_.of(me);
  std::copy(g, g + begin, out);
  std::copy(g + begin + len, g + n, out + begin);
  sync(comm, grads_, shards_);
  // Where rank r put its gradient at this rank's shard.
  const auto put = [&](int r) {
    return grads_.of(r) +
           (r < me ? begin - (shard_begin(n, p, r + 1) - shard_begin(n, p, r)) : begin);
  };
  sources_.resize(std::size_t(p));
  for (int r = 0; r < p; ++r) sources_[std::size_t(r)] = r == me ? g + begin : put(r);
  // Sharded writes each piece's mean over the piece of rank 0's or rank 1's
  // gradient it was just read from (whichever is not this rank's: only this
  // rank reads it, and the sum reads every element before writing it), so
  // that memory is not read in again to be written; DataParallel to its own
  // segment of shards_.
  Scalar* mean = kSharded ? put(me == 0 ? 1 : 0) : shards_.of(me);
  constexpr Index kPiece = 32768;  // elements: the piece's inputs stay in cache
  pieces_.resize(std::size_t(p));
  const auto reduce = [&](Index c, Index k) {
    for (std::size_t r = 0; r < pieces_.size(); ++r) pieces_[r] = sources_[r] + c;
    rank_order_mean(mean + c, pieces_.data(), p, k);
  };
  if constexpr (kSharded) {
    Scalar* shard = x + begin;
    Scalar* published = shards_.of(me);
    const auto error = step_fed(shard, mean, len, [&](const auto& piece) {
      for (Index c = 0; c < len; c += kPiece) {
        const Index k = std::min(kPiece, len - c);
        reduce(c, k);
        piece(c, c + k);
        std::copy(shard + c, shard + c + k, published + c);
      }
    });
    sync(comm, grads_, shards_);
    for (int r = 0; r < p; ++r) {
      const Index b = shard_begin(n, p, r), e = shard_begin(n, p, r + 1);
      if (r != me) std::copy(shards_.of(0) + b, shards_.of(0) + e, x + b);
    }
    if (error) std::rethrow_exception(error);
  } else {
    for (Index c = 0; c < len; c += kPiece) reduce(c, std::min(kPiece, len - c));
    sync(comm, grads_, shards_);
    opt_.step(Eigen::Map<Vector>(x, n), Eigen::Map<const Vector>(shards_.of(0), n));
  }
  // Every read of a rank's gradient window ends before this step's second
  // sync, after which alone the rank writes it again (the next step); every
  // read of its segment of shards_ ends before the next step's first sync,
  // after which alone the rank writes that.
}

template <typename Opt, bool kSharded>
template <typename F>
std::vector<double> Trainer<Opt, kSharded>::per_shard(Index n, const F& f) const {
  const int p = size();
  std::vector<double> out(static_cast<std::size_t>(p));
  if (kSharded) {
    const auto all = allgather({bits_of(f(mean_.data(), mean_.size()))}, comm_.get());
    for (int r = 0; r < p; ++r) out[std::size_t(r)] = double_of(all[std::size_t(r)]);
  } else {
    for (int r = 0; r < p; ++r) {
      const Index b = shard_begin(n, p, r);
      out[std::size_t(r)] = f(mean_.data() + b, shard_begin(n, p, r + 1) - b);
    }
  }
  return out;
}

template <typename Opt, bool kSharded>
double Trainer<Opt, kSharded>::clip_mean(Index n, const descent::mpi::ClipGradNorm& clip) {
  // clip_grad_norm's algorithm, with each sum taken per shard and the
  // shards' sums added in rank order, so DataParallel and Sharded agree.
  const double p = clip.options.norm_type;
  const auto max_of = [&] {
    double m = 0;
    for (const double s : per_shard(n, [](const Scalar*x, Index k) { return largest(x, k); })) {
      if (s > m || std::isnan(s)) m = s;
      if (std::isnan(m)) break;
    }
    return m;
  };
  const auto sum_of = [&](double scale) {
    double sum = 0;
    for (const double s :
         per_shard(n, [&](const Scalar*x, Index k) { return sum_of_powers(x, k, p, scale); })) {
      sum += s;
    }
    return sum;
  };
  double total;
  if (std::isinf(p)) {
    total = max_of();
  } else {
    const double sum = sum_of(1.0);
    if (std::isfinite(sum) && sum >= DBL_MIN / DBL_EPSILON) {
      total = descent::detail::root(sum, p);
    } else {
      const double m = max_of();
      total =
          (std::isnan(m) || std::isinf(m) || m == 0) ? m : m * descent::detail::root(sum_of(m), p);
    }
  }
  if (clip.options.error_if_nonfinite && !std::isfinite(total)) {
    throw std::invalid_argument(who("step") + ": the total " +
                                (std::isinf(p) ? std::string("inf") : to_text(p)) +
                                "-norm of the mean gradient is " + to_text(total) +
                                ", so it cannot be clipped (error_if_nonfinite); nothing was "
                                "changed on any rank");
  }
  const double coef = clip.max_norm / (total + 1e-6);
  if (!(coef >= 1.0)) mean_ *= static_cast<Scalar>(coef);
  return total;
}

template <typename Opt, bool kSharded>
void Trainer<Opt, kSharded>::save_file(const std::string& path) const {
  const std::string who = this->who("save_file");
  std::string error;
  if (!kSharded) {
    if (rank() == 0) {
      try {
        opt_.save_file(path);
      } catch (const CheckpointError& e) {
        error = e.what();
      }
    }
  } else if (rank() != 0) {
    send_bytes(bytes_of(opt_), 0, comm_.get());
  } else {
    // Rank 0 receives every shard's checkpoint, in rank order, and writes
    // the one a single optimizer holding all of the state would write.
    CheckpointParts<Scalar> full;
    const std::vector<bool> used = used_arrays<Opt>(opt_.options());
    const Index n = established();
    for (int r = 0; r < size(); ++r) {
      const std::string bytes = r == 0 ? bytes_of(opt_) : recv_bytes(r, comm_.get());
      if (!error.empty()) continue;
      try {
        std::istringstream in(bytes);
        Reader reader(in, who, ObjectKind::Optimizer, opt_.name(), int(sizeof(Scalar)));
        CheckpointParts<Scalar> part;
        read_head(reader, part);
        read_arrays(reader, part, used);
        const Index b = n < 0 ? 0 : shard_begin(n, size(), r);
        const Index len = n < 0 ? -1 : shard_begin(n, size(), r + 1) - b;
        if (r == 0) {
          full = part;
          full.state_size = n;
          for (std::size_t k = 0; k < used.size(); ++k) {
            full.arrays[k].resize(used[k] && n > 0 ? n : 0);
          }
        }
        if (part.iterations != full.iterations || part.skipped != full.skipped ||
            part.lr != full.lr || part.options != full.options || part.values != full.values ||
            part.state_size != len) {
          reader.fail("rank " + std::to_string(r) +
                      "'s optimizer is out of step with rank 0's (drive optimizer() alike on "
                      "every rank)");
        }
        for (std::size_t k = 0; k < used.size(); ++k) {
          if (used[k] && n > 0) full.arrays[k].segment(b, len) = part.arrays[k];
        }
      } catch (const CheckpointError& e) {
        error = e.what();
      }
    }
    if (error.empty()) {
      try {
        const std::string bytes = write_parts(full, opt_.name(), who);
        descent::detail::save_file(path, who, [&bytes](std::ostream& out) {
          out.write(bytes.data(), std::streamsize(bytes.size()));
        });
      } catch (const CheckpointError& e) {
        error = e.what();
      }
    }
  }
  error = first_error(error, comm_.get());
  if (!error.empty()) throw CheckpointError(error);
}

template <typename Opt, bool kSharded>
void Trainer<Opt, kSharded>::load_file(const std::string& path) {
  const std::string who = this->who("load_file");
  const int p = size(), me = rank();
  std::string error, bytes;
  CheckpointParts<Scalar> full;
  if (me == 0) {
    try {
      std::ifstream file(path, std::ios::binary);
      if (!file) throw CheckpointError(who + ": cannot open " + path);
      bytes.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
      if (file.bad()) throw CheckpointError(who + ": reading " + path + " failed");
      std::istringstream in(bytes);
      Reader reader(in, who, ObjectKind::Optimizer, opt_.name(), int(sizeof(Scalar)));
      read_head(reader, full);
      // The file's options, checked by the optimizer itself, say which state
      // arrays the file holds.
      CheckpointParts<Scalar> options_only = full;
      options_only.iterations = options_only.skipped = 0;
      options_only.state_size = -1;
      options_only.arrays.assign(used_arrays<Opt>(opt_.options()).size(), {});
      Opt probe(opt_.options());
      try {
        std::istringstream stateless(write_parts(options_only, opt_.name(), who));
        probe.load(stateless);
      } catch (const CheckpointError& e) {
        reader.fail(e.what());
      }
      read_arrays(reader, full, used_arrays<Opt>(probe.options()));
      if (established() >= 0 && full.state_size != established()) {
        reader.fail("the checkpoint's state is for " + std::to_string(full.state_size) +
                    " parameters, this one's for " + std::to_string(established()) +
                    " (call optimizer().reset() on every rank first to load another size)");
      }
      if (kSharded && full.state_size > 0 && full.state_size < p) {
        reader.fail("the checkpoint's " + std::to_string(full.state_size) +
                    " parameters cannot be sharded over " + std::to_string(p) + " ranks");
      }
    } catch (const CheckpointError& e) {
      error = e.what();
    }
  }
  error = first_error(error, comm_.get());
  if (!error.empty()) throw CheckpointError(error);

  std::int64_t n = full.state_size;
  MPI_Bcast(&n, 1, MPI_INT64_T, 0, comm_.get());
  std::string mine;
  if (!kSharded) {
    if (me == 0) mine = std::move(bytes);
    broadcast_bytes(mine, 0, comm_.get());
  } else if (me != 0) {
    mine = recv_bytes(0, comm_.get());
  } else {
    for (int r = p - 1; r >= 0; --r) {
      CheckpointParts<Scalar> part = full;
      const Index b = n < 0 ? 0 : shard_begin(n, p, r);
      const Index len = n < 0 ? 0 : shard_begin(n, p, r + 1) - b;
      part.state_size = n < 0 ? -1 : len;
      for (std::size_t k = 0; k < part.arrays.size(); ++k) {
        if (full.arrays[k].size() > 0) part.arrays[k] = full.arrays[k].segment(b, len);
      }
      std::string piece = write_parts(part, opt_.name(), who);
      if (r == 0) {
        mine = std::move(piece);
      } else {
        send_bytes(piece, r, comm_.get());
      }
    }
  }
  // Every rank loads into a staged optimizer; all commit, or none.
  Opt staged(opt_.options());
  std::string local;
  try {
    std::istringstream in(mine);
    staged.load(in);
  } catch (const CheckpointError& e) {
    local = "rank " + std::to_string(me) + ": " + e.what();
  }
  error = first_error(local, comm_.get());
  if (!error.empty()) throw CheckpointError(who + ": " + error);
  staged.set_threads(opt_.threads());
  opt_ = std::move(staged);
  n_ = Index(n);
}

}  // namespace descent::detail::mpi
