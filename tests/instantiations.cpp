// The one place the tests' optimizer classes are compiled (see
// instantiations.hpp).

#define DESCENT_TEST_INSTANTIATE_HERE
#include "instantiations.hpp"

DESCENT_TEST_INSTANTIATIONS(, float)
DESCENT_TEST_INSTANTIATIONS(, double)
