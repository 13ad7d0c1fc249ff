// The tests' optimizer classes in double (see instantiations.cpp).

#define DESCENT_TEST_INSTANTIATE_HERE
#include "instantiations.hpp"

DESCENT_TEST_INSTANTIATIONS(, double)
