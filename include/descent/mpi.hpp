#pragma once
/// \file
/// Training on several processes with MPI: DataParallel (every rank holds
/// all of the optimizer's state) and Sharded (ZeRO stage 1: rank r holds
/// the state of its shard of the parameters). Include <descent/mpi.hpp> and
/// link MPI (CMake: descent::mpi). The rest of descent does not need MPI.
///
/// Every rank computes the gradient of its own share of the batch and calls
/// step(params, grad) with it; the step applies the optimizer to the mean of
/// the ranks' gradients,
///
///     mean = ((g₀ + g₁) + g₂ + … + g_{P−1}) / P       (in rank order)
///
/// computed the same way whatever the MPI implementation and its collective
/// algorithms: the parameters are cut into P contiguous shards, and the
/// owner of a shard adds the ranks' pieces of it in rank order. How the
/// pieces travel:
/// - **Shared memory**, when every rank is on one node (the default there;
///   MPI_Comm_split_type tells): each rank copies its gradient outside its
///   own shard into a window every rank can read (MPI_Win_allocate_shared);
///   the owner reads the pieces in place. The shards' means (DataParallel)
///   or new parameters (Sharded) lie one after the other in a second
///   window, where every rank reads them. No messages, two barriers a step.
/// - **Point-to-point** otherwise, or after set_shared_memory(false): each
///   rank sends its pieces of the other shards to their owners in buckets
///   (nonblocking), and the owner adds each bucket as it arrives, while the
///   next ones are in flight; the reduced (DataParallel) or stepped
///   (Sharded) buckets go back the same way.
///
/// DataParallel steps all of the parameters on every rank with its own copy
/// of the optimizer; Sharded steps only its shard, with an optimizer whose
/// state is sized to it, in pieces as soon as each piece's mean is ready.
/// Either way, on either path, a step gives, bit for bit, what a
/// single-process optimizer of the same class gives when stepped on that
/// mean, and the parameters are bitwise the same on every rank after it;
/// DataParallel and Sharded give the same bits.
///
/// Requirements and rules:
/// - MPI is initialised by the caller (MPI_Init, or MPI_Init_thread with
///   MPI_THREAD_FUNNELED or more: only the thread that calls step() calls
///   MPI, also when the optimizer uses set_threads()), and finalised after
///   the last of these objects is destroyed. The objects use a duplicate of
///   the communicator, so their messages never meet the caller's.
/// - Construction, step, save_file, load_file and destruction are
///   collective: every rank of the communicator calls them, in the same
///   order (the shared windows are freed collectively).
/// - Every rank starts from the same parameters (e.g. broadcast them).
/// - optimizer() is each rank's own optimizer: drive it alike on every rank
///   (set_lr, a scheduler's step(), set_threads). A step checks that the
///   ranks' sizes, learning rates, step counts, bucket sizes, shared-memory
///   settings and clipping agree, and throws std::invalid_argument on every rank, naming the ranks
///   and their values, with nothing changed, if they do not. Options that
///   differ at construction are refused the same way.
/// - Non-finite gradients: with the optimizer's `nonfinite` option Skip or
///   Throw, the decision is taken on the mean, which holds NaN or ±inf
///   exactly when some rank's gradient does (or the sum overflows): every
///   rank skips the step (counted in optimizer().skipped_steps()), or every
///   rank throws std::domain_error, with nothing changed anywhere.
///
/// Cost: with N parameters and P ranks a step moves about 2·(P−1)/P·N
/// scalars per rank, as an allreduce does. Sharded keeps 1/P of the
/// optimizer's state per rank, DataParallel all of it. Buffers per rank:
/// N scalars through shared memory, for either class; point-to-point, a
/// mean buffer of N/P (Sharded) or N (DataParallel) and a receive ring of
/// 2·(P−1) buckets. Clipping and the Skip and Throw policies decide on the
/// whole mean before any parameter changes: those steps go point-to-point
/// and reduce all of the mean before they step.

#include "detail/mpi_trainer.hpp"
#include "detail/optimizer_base.hpp"

#include <string>
#include <utility>

#include <Eigen/Core>
#include <mpi.h>

namespace descent::mpi {

/// \brief Data-parallel steps with replicated optimizer state: every rank
/// holds all of it and steps all of the parameters.
///
/// \tparam Opt a descent optimizer class, e.g. descent::Adam<float>.
template <typename Opt>
class DataParallel : public detail::mpi::Trainer<Opt, false> {
  using Base = detail::mpi::Trainer<Opt, false>;

 public:
  /// Opt's scalar, float or double.
  using Scalar = typename Opt::Scalar;
  /// Opt's options, which every rank must give alike.
  using Options = typename Opt::Options;

  /// Collective over comm (which it duplicates).
  /// \throws std::logic_error if MPI is not initialised;
  ///   std::invalid_argument on every rank if a rank's options are refused
  ///   by Opt or the ranks' options differ (naming the options, ranks and
  ///   values).
  explicit DataParallel(MPI_Comm comm, Options options = {}) : Base(comm, options) {}

#ifdef DESCENT_DOXYGEN
  /// \brief One step on the mean of the ranks' gradients. Collective.
  ///
  /// \param params as Optimizer::step: contiguous, writable; the same values
  ///   on every rank.
  /// \param grad this rank's gradient at params, as Optimizer::step.
  /// \throws std::invalid_argument on every rank, nothing changed, if a rank's
  ///   arguments are wrong or the ranks disagree (see the file comment);
  ///   std::domain_error as described there.
  template <typename Params, typename Grad>
  void step(Params&& params, const Eigen::DenseBase<Grad>& grad);

  /// \brief The step with the mean gradient clipped first, as
  /// clip_grad_norm(clip.max_norm, clip.options, mean) would clip it; returns
  /// the mean's total norm before clipping.
  ///
  /// The norm is summed in double per shard and the shards' sums in rank
  /// order (Sharded and DataParallel agree bit for bit); a single process
  /// summing in another order may differ in the norm's last bits.
  /// \throws std::invalid_argument on every rank if clip is invalid or, with
  ///   error_if_nonfinite, the norm is not finite; nothing is changed.
  template <typename Params, typename Grad>
  double step(Params&& params, const Eigen::DenseBase<Grad>& grad, const ClipGradNorm& clip);

  /// This rank's optimizer: lr, set_lr, schedulers, iterations, threads.
  Opt& optimizer() noexcept;
  int rank() const noexcept;
  int size() const noexcept;

  /// Messages between ranks carry at most this many bytes (default 4 MiB);
  /// the same on every rank. \throws std::invalid_argument if < sizeof(Scalar).
  void set_bucket_bytes(std::size_t bytes);
  std::size_t bucket_bytes() const noexcept;
  /// Bytes of this object's own buffers (shared windows, or mean gradient
  /// and receive ring).
  std::size_t buffer_bytes() const noexcept;

  /// \brief Whether steps may go through shared memory when every rank is
  /// on one node (default true); the same on every rank. false keeps them
  /// point-to-point, with buffers bounded by the bucket size.
  void set_shared_memory(bool on) noexcept;
  /// Whether steps go through shared memory: set_shared_memory's setting,
  /// more than one rank, and every rank on one node.
  bool shared_memory() const noexcept;

  /// \brief Writes, from rank 0, the checkpoint Opt::save_file would write
  /// for the whole state: a single-process Opt loads it. Collective.
  /// \throws CheckpointError on every rank if it cannot be written.
  void save_file(const std::string& path) const;

  /// \brief Reads a checkpoint of Opt (written by either class with any
  /// number of ranks, or by Opt::save_file) on rank 0 and hands it to every
  /// rank. Collective.
  /// \throws CheckpointError on every rank, nothing changed, if the file is
  ///   missing, corrupt, invalid or for another size than the state's.
  void load_file(const std::string& path);
#endif
};

/// \brief Data-parallel steps with the optimizer's state sharded (ZeRO
/// stage 1): rank r holds the state of its contiguous shard of the
/// parameters, about N/P of them (at multiples of 64 when N >= 64·P),
/// steps that shard, and gathers the others' new parameters.
///
/// The same members as DataParallel, with the same results bit for bit.
/// optimizer().state_size() is the shard's size. Sharding needs at least
/// as many parameters as ranks. save_file gathers the shards to rank 0 (which
/// then briefly holds all of the state) and writes the checkpoint a
/// single-process Opt would write; load_file cuts a checkpoint into this
/// run's shards, whatever number of ranks wrote it. An optimizer whose step
/// depends on the whole tensor (LAMB and LARS, through their norms) cannot
/// be sharded, and does not compile here.
template <typename Opt>
class Sharded : public detail::mpi::Trainer<Opt, true> {
  using Base = detail::mpi::Trainer<Opt, true>;
  static_assert(!detail::whole_tensor<Opt>::value,
                "descent::mpi::Sharded: Opt scales its step by norms of the whole tensor (LAMB, "
                "LARS), which no shard holds; use DataParallel");

 public:
  /// Opt's scalar, float or double.
  using Scalar = typename Opt::Scalar;
  /// Opt's options, which every rank must give alike.
  using Options = typename Opt::Options;

  /// Collective over comm; throws as DataParallel's constructor.
  explicit Sharded(MPI_Comm comm, Options options = {}) : Base(comm, options) {}

  /// [begin, end) of this rank's shard, once a step or load_file has given
  /// the size; (0, 0) before.
  std::pair<Eigen::Index, Eigen::Index> shard() const { return this->shard_range(); }
};

}  // namespace descent::mpi
