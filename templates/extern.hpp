#pragma once
// descent's optimizer classes in float and double, compiled in float.cpp and
// double.cpp: the programs of this project that include this file (first, by
// their compile line) do not compile them again.

#include <descent/instantiate.hpp>

DESCENT_EXTERN_TEMPLATES(float);
DESCENT_EXTERN_TEMPLATES(double);
