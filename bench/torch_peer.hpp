#pragma once
/// \file
/// libtorch's torch::optim as a contender, behind an interface free of torch
/// headers: only torch_peer.cpp includes them, and it is compiled only when
/// CMake found libtorch (DESCENT_BENCH_HAVE_TORCH).

#include "stepper.hpp"

#include <memory>
#include <string>

namespace bench {

enum class TorchOptimizer { SgdMomentum, Adagrad, RMSprop, Adam, AdamW };

/// Which torch::optim optimizer to run: its options are the defaults, apart
/// from lr and those below that apply to it, which match descent's.
struct TorchSpec {
  TorchOptimizer kind;
  double lr;
  /// SGD, RMSprop.
  double momentum = 0;
  /// SGD, Adam, AdamW (whose default, 0.01, is descent::AdamW's).
  double weight_decay = 0;
  /// Adagrad.
  double lr_decay = 0;
  /// Adam.
  bool amsgrad = false;
  /// RMSprop: its ρ (alpha) and centered.
  double alpha = 0.99;
  bool centered = false;
};

/// One float or double tensor of n elements with its grad set once, stepped by
/// spec's optimizer with at::set_num_threads(threads) in force while the
/// Stepper lives.
template <typename S>
std::unique_ptr<Stepper<S>> make_torch_stepper(const TorchSpec& spec, Index n, int threads);

/// "1.13.0", from the headers compiled against.
std::string torch_version();

}  // namespace bench
