#pragma once
/// \file
/// descent::RowSparse, the gradient of an embedding table: some of its rows,
/// as the row indices and a dense block of those rows. SparseAdam and
/// AdaGrad step from it, and from an `Eigen::SparseVector`, updating only
/// the entries present.

#include <Eigen/Core>

namespace descent {

/// \brief A row-sparse gradient: row k of `rows` is the gradient of row
/// `indices[k]` of the parameter matrix; every other row's gradient is
/// absent (not zero: a step leaves its parameters and state alone).
///
/// The indices may come in any order and repeat, as the tokens of a batch
/// do: a step first sums the rows of a repeated index, in the order given
/// (as torch's `coalesce()` does), then updates each distinct row once. An
/// explicitly stored row of zeros is present, and updated as such.
///
/// For a parameter vector (one column), a row is one element, so RowSparse
/// is then a sparse vector that may repeat indices.
///
/// \tparam Scalar float or double, the optimizer's.
template <typename Scalar>
struct RowSparse {
  /// Row indices into the parameters, each in [0, params.rows()).
  Eigen::Matrix<Eigen::Index, Eigen::Dynamic, 1> indices;
  /// One row per index, as many columns as the parameters have.
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows;
};

}  // namespace descent
