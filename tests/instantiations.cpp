// The one place the tests' optimizer classes are compiled (see
// instantiations.hpp), in float here and in double in
// instantiations_double.cpp: two files that compile side by side.

#define DESCENT_TEST_INSTANTIATE_HERE
#include "instantiations.hpp"

DESCENT_TEST_INSTANTIATIONS(, float)
