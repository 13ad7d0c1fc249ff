// descent's optimizer classes in double, compiled once (see CMakeLists.txt).
#include <descent/instantiate.hpp>

DESCENT_INSTANTIATE_TEMPLATES(double);
