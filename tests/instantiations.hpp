#pragma once
// The optimizer classes the tests use, and make_optimizer, compiled once
// (templates/, shared with the examples) instead of in every test file: each
// class holds every variant of its fused kernel, and compiling those is most
// of the suite's build time. The generic tests' per-class helpers
// (variants.hpp) are compiled once as well, in instantiations*.cpp.

#include <descent/descent.hpp>
#include <descent/instantiate.hpp>

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

DESCENT_EXTERN_TEMPLATES(float);
// Where templates/ compiles float only (DESCENT_TEMPLATES_DOUBLE undefined: a
// build of a few test files), a file that uses a class in double compiles it
// itself.
#ifdef DESCENT_TEMPLATES_DOUBLE
DESCENT_EXTERN_TEMPLATES(double);
#endif
