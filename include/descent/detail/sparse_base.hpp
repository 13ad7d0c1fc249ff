#pragma once
/// \file
/// SparseOptimizerBase, between OptimizerBase and an optimizer whose step
/// also takes a sparse gradient (SparseAdam, AdaGrad): the checks of a
/// sparse gradient, the summing of its repeated indices, and the step that
/// updates only the rows present, with the same kernel as a dense step.
///
/// A Derived class provides (and befriends SparseOptimizerBase for),
/// besides what OptimizerBase asks for:
///   - `template <typename Run> void with_kernel(std::int64_t t, const Run& run)`,
///     which computes step t's coefficients and calls run(make), where
///     make(x, g, offset) is the kernel body (detail/kernel.hpp) of step t
///     over the parameters at x and their gradient at g, whose state starts
///     at element `offset` of the state arrays. Its dense update() runs
///     make(params, grad, 0) over all elements;
///   - `void check_sparse_step() const`, which throws std::invalid_argument
///     if the options forbid a sparse step (AdaGrad's weight decay).

#include "../optimizer.hpp"
#include "../row_sparse.hpp"
#include "optimizer_base.hpp"
#include "simd.hpp"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

namespace descent::detail {

template <typename Derived>
std::true_type derives_from_sparse(const Eigen::SparseMatrixBase<Derived>*);
std::false_type derives_from_sparse(...);

/// True for a compressed Eigen sparse vector (`Eigen::SparseVector`), which
/// exposes its indices and values as arrays. (Detected without
/// <Eigen/SparseCore>, which a user of sparse vectors includes anyway.)
template <typename T, typename = void>
struct is_sparse_vector : std::false_type {};
template <typename T>
struct is_sparse_vector<T, std::void_t<decltype(std::declval<const T&>().innerIndexPtr()),
                                       decltype(std::declval<const T&>().valuePtr())>>
    : std::bool_constant<decltype(derives_from_sparse(std::declval<T*>()))::value&& bool(
          T::IsVectorAtCompileTime)> {};

template <typename Derived, typename Scalar_>
class SparseOptimizerBase : public OptimizerBase<Derived, Scalar_> {
 public:
  using Scalar = Scalar_;
  using Index = Eigen::Index;

  using Optimizer<Scalar>::step;

  /// \brief One update of the rows of params that grad holds, in place; the
  /// other rows, and their state, are left alone.
  ///
  /// \param params writable contiguous storage, as for the dense step: a
  ///   row-major matrix (an embedding table, one row per token), or a
  ///   vector, whose rows are its elements. A column-major matrix of more
  ///   than one row and column is refused: its rows are strided.
  /// \param grad row indices into params and their gradient rows (see
  ///   RowSparse): repeated indices are summed in the order given.
  /// \throws std::invalid_argument if grad.rows has another number of
  ///   columns than params, or of rows than grad.indices has entries; if an
  ///   index is negative or not a row of params; if the state was built for
  ///   another size; or if the options forbid a sparse step.
  /// \throws std::domain_error with NonFinite::Throw, if a present (summed)
  ///   value is NaN or ±inf; NonFinite::Skip then skips the step.
  ///
  /// The state is that of a dense step: a checkpoint of either kind of step
  /// continues with the other. The step count, and so the bias corrections
  /// and the lr decay, counts every step, whichever rows it touched. A step
  /// whose gradient holds every row once equals a dense step on that
  /// gradient, bit for bit. It runs on the calling thread; its cost is
  /// proportional to the entries present, plus a sort of the indices when
  /// one repeats (the first sparse step also allocates a bit per row of
  /// params, to find repeats). Whatever it throws, params and state are
  /// untouched.
  template <typename Params>
  void step(Params&& params, const RowSparse<Scalar>& grad) {
    using P = checked_params<Params, Scalar>;
    const Index width = params.cols();
    if (grad.rows.cols() != width || grad.rows.rows() != grad.indices.size()) {
      fail("grad.rows is " + std::to_string(grad.rows.rows()) + " by " +
           std::to_string(grad.rows.cols()) + " for " + std::to_string(grad.indices.size()) +
           " indices into params of " + std::to_string(width) +
           " columns; it must have a row per index and a column per column of params");
    }
    if (!is_contiguous(params) ||
        (params.rows() > 1 && params.cols() > 1 && !bool(P::IsRowMajor))) {
      fail(
          "params must be stored contiguously, a matrix row by row (RowMajor), so that each "
          "of its rows is contiguous");
    }
    apply(params.data(), params.rows(), width, grad.indices.data(), grad.rows.data(),
          grad.indices.size(), "grad.indices");
  }

  /// \brief As the step above, for a gradient that is an `Eigen::SparseVector`
  /// over params taken as a flat vector in its storage order (as the dense
  /// step takes it). Its stored entries are present, zeros included.
  /// \throws std::invalid_argument if grad.size() differs from params.size(),
  ///   or as the step above.
  template <typename Params, typename Grad,
            std::enable_if_t<is_sparse_vector<Grad>::value, int> = 0>
  void step(Params&& params, const Grad& grad) {
    static_assert(std::is_same<typename Grad::Scalar, Scalar>::value,
                  "descent::Optimizer::step: grad must hold the optimizer's Scalar");
    static_cast<void>(sizeof(checked_params<Params, Scalar>));
    if (grad.size() != params.size()) {
      fail("params has " + std::to_string(params.size()) + " elements but grad has " +
           std::to_string(grad.size()));
    }
    if (!is_contiguous(params)) {
      fail("params must be stored contiguously (inner stride 1, no gaps)");
    }
    apply(params.data(), params.size(), 1, grad.innerIndexPtr(), grad.valuePtr(), grad.nonZeros(),
          "grad");
  }

 protected:
  using OptimizerBase<Derived, Scalar>::OptimizerBase;

 private:
  Derived& self() { return static_cast<Derived&>(*this); }

  [[noreturn]] void fail(const std::string& what) const {
    throw std::invalid_argument("descent::" + std::string(this->name()) + "::step: " + what +
                                "; params and state are unchanged");
  }

  // Checks the count indices of rows of `width` elements against
  // [0, n_rows), then steps the rows present: straight from grad when no
  // index repeats (in the order given: distinct rows are independent),
  // else from index_ and values_, the distinct rows in increasing order with
  // the repeated ones summed.
  template <typename I>
  void apply(Scalar* x, Index n_rows, Index width, const I* index, const Scalar* values,
             Index count, const char* what) {
    self().check_sparse_step();
    for (Index k = 0; k < count; ++k) {
      const Index row = static_cast<Index>(index[k]);
      if (row < 0 || row >= n_rows) {
        fail(std::string(what) + "[" + std::to_string(k) + "] is " + std::to_string(row) +
             ", not in [0, " + std::to_string(n_rows) + ")");
      }
    }
    if (n_rows * width == 0) return;
    const Index* rows = nullptr;
    const Scalar* summed = values;
    Index distinct = count;
    if (!repeats(index, count, n_rows)) {
      if constexpr (std::is_same<I, Index>::value) {
        rows = index;
      } else {
        index_.assign(index, index + count);
        rows = index_.data();
      }
    } else {
      distinct = sum_repeated(index, values, count, width);
      rows = index_.data();
      summed = values_.data();
    }
    const auto where = [&](Index k) {
      const Index row = rows[k / width];
      return width == 1 && n_rows > 1
                 ? "grad[" + std::to_string(row) + "]"
                 : "grad of row " + std::to_string(row) + ", column " + std::to_string(k % width);
    };
    this->counted_step(n_rows * width, summed, distinct * width, false, where, [&](std::int64_t t) {
      const auto state = Derived::state_arrays(self());
      const auto state16 = Derived::bf16_state_arrays(self());
      self().with_kernel(t, [&](const auto& make) {
        for (Index k = 0; k < distinct; ++k) {
          if (k + kAhead < distinct) {
            const Index ahead = rows[k + kAhead] * width;
            prefetch(x + ahead, width);
            for (const auto* a : state) {
              if (a->size() > 0) prefetch(a->data() + ahead, width);
            }
            for (const auto* a : state16) {
              if (a->size() > 0) prefetch(a->data() + ahead, width);
            }
          }
          const Index offset = rows[k] * width;
          simd::for_each<Scalar>(0, width, make(x + offset, summed + k * width, offset));
        }
      });
    });
  }

  // The rows present lie anywhere in the table, where the hardware cannot
  // guess the next one: each is fetched (params and state) while the rows
  // kAhead before it are updated.
  static constexpr Index kAhead = 8;
  template <typename T>
  static void prefetch(const T* p, Index n) {
#if defined(__GNUC__) || defined(__clang__)
    const char* bytes = reinterpret_cast<const char*>(p);
    for (Index b = 0; b < n * Index(sizeof(T)); b += 64) __builtin_prefetch(bytes + b, 1);
#else
    static_cast<void>(p);
    static_cast<void>(n);
#endif
  }

  // Whether an index appears twice, by marking each in a bit set of the
  // rows (which is all zeros between steps), in time proportional to count.
  template <typename I>
  bool repeats(const I* index, Index count, Index n_rows) {
    const auto words = static_cast<std::size_t>((n_rows + 63) / 64);
    if (seen_.size() < words) seen_.resize(words, 0);
    bool repeated = false;
    for (Index k = 0; k < count; ++k) {
      const auto row = static_cast<std::size_t>(index[k]);
      const std::uint64_t bit = std::uint64_t(1) << (row % 64);
      repeated = repeated || (seen_[row / 64] & bit) != 0;
      seen_[row / 64] |= bit;
    }
    for (Index k = 0; k < count; ++k) seen_[static_cast<std::size_t>(index[k]) / 64] = 0;
    return repeated;
  }

  template <typename I>
  Index sum_repeated(const I* index, const Scalar* values, Index count, Index width) {
    order_.resize(static_cast<std::size_t>(count));
    std::iota(order_.begin(), order_.end(), Index(0));
    std::stable_sort(order_.begin(), order_.end(),
                     [index](Index a, Index b) { return index[a] < index[b]; });  // ties: as given
    index_.clear();
    values_.resize(static_cast<std::size_t>(count * width));
    for (const Index k : order_) {
      const Scalar* in = values + k * width;
      if (!index_.empty() && index_.back() == static_cast<Index>(index[k])) {
        Scalar* out = values_.data() + (static_cast<Index>(index_.size()) - 1) * width;
        for (Index j = 0; j < width; ++j) out[j] += in[j];
      } else {
        std::copy(in, in + width, values_.data() + static_cast<Index>(index_.size()) * width);
        index_.push_back(static_cast<Index>(index[k]));
      }
    }
    return static_cast<Index>(index_.size());
  }

  // Scratch of the sparse steps, reused: a bit per row, the order of the
  // indices, the distinct ones and their summed rows.
  std::vector<std::uint64_t> seen_;
  std::vector<Index> order_;
  std::vector<Index> index_;
  std::vector<Scalar> values_;
};

}  // namespace descent::detail
