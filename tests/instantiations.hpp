#pragma once
// The optimizer classes the tests use, and make_optimizer, compiled once
// (instantiations.cpp) instead of in every test file: each class holds
// every variant of its fused kernel, and compiling those is most of the
// suite's build time.

#include <descent/descent.hpp>

// KW is `extern` for the declarations, empty for the definitions.
#define DESCENT_TEST_INSTANTIATIONS(KW, S)                                                         \
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
  KW template std::unique_ptr<descent::Optimizer<S>> descent::make_optimizer<S>(                   \
      std::string_view, const std::map<std::string, std::string>&);

// X(Opt) for every public optimizer class in scalar S (instantiations.cpp
// checks that they are the registry's): the generic tests' per-class
// helpers (variants.hpp) are compiled for these once.
#define DESCENT_TEST_CLASSES(X, S) \
  X(descent::GradientDescent<S>)   \
  X(descent::SGD<S>)               \
  X(descent::Momentum<S>)          \
  X(descent::Nesterov<S>)          \
  X(descent::AdaGrad<S>)           \
  X(descent::RMSprop<S>)           \
  X(descent::Adam<S>)              \
  X(descent::AdamW<S>)             \
  X(descent::Adamax<S>)            \
  X(descent::NAdam<S>)             \
  X(descent::RAdam<S>)             \
  X(descent::Adadelta<S>)          \
  X(descent::Rprop<S>)             \
  X(descent::ASGD<S>)              \
  X(descent::Lion<S>)              \
  X(descent::AdaBelief<S>)         \
  X(descent::SparseAdam<S>)        \
  X(descent::Muon<S>)              \
  X(descent::Adafactor<S>)         \
  X(descent::LAMB<S>)              \
  X(descent::LARS<S>)

#ifndef DESCENT_TEST_INSTANTIATE_HERE
DESCENT_TEST_INSTANTIATIONS(extern, float)
DESCENT_TEST_INSTANTIATIONS(extern, double)
#endif
