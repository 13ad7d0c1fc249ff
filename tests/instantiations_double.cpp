// The generic tests' per-class helpers in double (see instantiations.cpp).

#define DESCENT_TEST_INSTANTIATE_HERE
#include "instantiations.hpp"
#include "variants.hpp"

DESCENT_TEST_CLASSES(DESCENT_TEST_VARIANTS_HERE, double)
