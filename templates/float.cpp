// descent's optimizer classes in float, compiled once (see CMakeLists.txt).
#include <descent/instantiate.hpp>

DESCENT_INSTANTIATE_TEMPLATES(float);
