#pragma once
/// \file
/// The optimizers compiled once per program instead of once per file.
///
/// A header-only library's templates are compiled in every file that uses
/// them, and each optimizer class holds every variant of its fused kernel:
/// a file that steps a few optimizers or calls make_optimizer spends most of
/// its compile time there. A program of several files can compile them in
/// one of its files only, with C++'s explicit instantiations:
///
///     // in every file, after including descent (a common header is the
///     // place, or the compiler's -include):
///     #include <descent/instantiate.hpp>
///     DESCENT_EXTERN_TEMPLATES(float);
///
///     // in exactly one .cpp file of the program:
///     #include <descent/instantiate.hpp>
///     DESCENT_INSTANTIATE_TEMPLATES(float);
///
/// The declarations tell every file that the classes below, in scalar S,
/// are compiled elsewhere; the definition compiles them (with that file's
/// optimization flags). They cover every optimizer class of the registry,
/// their common bases, `make_optimizer<S>`, `ParamGroups<S>` and `LBFGS<S>`;
/// templates not listed (the schedulers, the wrappers) are compiled where
/// used, as without this header. A program may list float and double, each
/// once. A class's results do not depend on where it is compiled.

#include "descent.hpp"

#include <map>
#include <memory>
#include <string>
#include <string_view>

/// The explicit instantiations of descent's optimizer classes in scalar S,
/// each preceded by KW: `extern` declares them, nothing defines them.
#define DESCENT_TEMPLATES(KW, S)                                                                   \
  KW template class descent::Optimizer<S>;                                                         \
  KW template class descent::detail::OptimizerBase<descent::GradientDescent<S>, S>;                \
  KW template class descent::GradientDescent<S>;                                                   \
  KW template class descent::detail::OptimizerBase<descent::SGD<S>, S>;                            \
  KW template class descent::SGD<S>;                                                               \
  KW template class descent::detail::OptimizerBase<descent::detail::DampenedMomentum<S, false>,    \
                                                   S>;                                             \
  KW template class descent::detail::DampenedMomentum<S, false>;                                   \
  KW template class descent::Momentum<S>;                                                          \
  KW template class descent::detail::OptimizerBase<descent::detail::DampenedMomentum<S, true>, S>; \
  KW template class descent::detail::DampenedMomentum<S, true>;                                    \
  KW template class descent::Nesterov<S>;                                                          \
  KW template class descent::detail::OptimizerBase<descent::AdaGrad<S>, S>;                        \
  KW template class descent::detail::SparseOptimizerBase<descent::AdaGrad<S>, S>;                  \
  KW template class descent::AdaGrad<S>;                                                           \
  KW template class descent::detail::OptimizerBase<descent::RMSprop<S>, S>;                        \
  KW template class descent::RMSprop<S>;                                                           \
  KW template class descent::detail::OptimizerBase<descent::detail::AdamFamily<S, false>, S>;      \
  KW template class descent::detail::AdamFamily<S, false>;                                         \
  KW template class descent::Adam<S>;                                                              \
  KW template class descent::detail::OptimizerBase<descent::detail::AdamFamily<S, true>, S>;       \
  KW template class descent::detail::AdamFamily<S, true>;                                          \
  KW template class descent::AdamW<S>;                                                             \
  KW template class descent::detail::OptimizerBase<descent::Adamax<S>, S>;                         \
  KW template class descent::Adamax<S>;                                                            \
  KW template class descent::detail::OptimizerBase<descent::NAdam<S>, S>;                          \
  KW template class descent::NAdam<S>;                                                             \
  KW template class descent::detail::OptimizerBase<descent::RAdam<S>, S>;                          \
  KW template class descent::RAdam<S>;                                                             \
  KW template class descent::detail::OptimizerBase<descent::Adadelta<S>, S>;                       \
  KW template class descent::Adadelta<S>;                                                          \
  KW template class descent::detail::OptimizerBase<descent::Rprop<S>, S>;                          \
  KW template class descent::Rprop<S>;                                                             \
  KW template class descent::detail::OptimizerBase<descent::ASGD<S>, S>;                           \
  KW template class descent::ASGD<S>;                                                              \
  KW template class descent::detail::OptimizerBase<descent::Lion<S>, S>;                           \
  KW template class descent::Lion<S>;                                                              \
  KW template class descent::detail::OptimizerBase<descent::AdaBelief<S>, S>;                      \
  KW template class descent::AdaBelief<S>;                                                         \
  KW template class descent::detail::OptimizerBase<descent::SparseAdam<S>, S>;                     \
  KW template class descent::detail::SparseOptimizerBase<descent::SparseAdam<S>, S>;               \
  KW template class descent::SparseAdam<S>;                                                        \
  KW template class descent::detail::OptimizerBase<descent::Muon<S>, S>;                           \
  KW template class descent::Muon<S>;                                                              \
  KW template class descent::detail::OptimizerBase<descent::Adafactor<S>, S>;                      \
  KW template class descent::Adafactor<S>;                                                         \
  KW template class descent::detail::OptimizerBase<descent::LAMB<S>, S>;                           \
  KW template class descent::LAMB<S>;                                                              \
  KW template class descent::detail::OptimizerBase<descent::LARS<S>, S>;                           \
  KW template class descent::LARS<S>;                                                              \
  KW template class descent::ParamGroups<S>;                                                       \
  KW template class descent::LBFGS<S>;                                                             \
  KW template std::unique_ptr<descent::Optimizer<S>> descent::make_optimizer<S>(                   \
      std::string_view, const std::map<std::string, std::string>&)

/// Declares descent's optimizer classes in scalar S compiled elsewhere.
#define DESCENT_EXTERN_TEMPLATES(S) DESCENT_TEMPLATES(extern, S)
/// Compiles descent's optimizer classes in scalar S: in one file of a program.
#define DESCENT_INSTANTIATE_TEMPLATES(S) DESCENT_TEMPLATES(, S)
