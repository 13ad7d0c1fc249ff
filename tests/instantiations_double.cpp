// The tests' optimizer classes in double (see instantiations.cpp).

#define DESCENT_TEST_INSTANTIATE_HERE
#include "instantiations.hpp"
#include "variants.hpp"

DESCENT_TEST_INSTANTIATIONS(, double)
DESCENT_TEST_CLASSES(DESCENT_TEST_VARIANTS_HERE, double)
