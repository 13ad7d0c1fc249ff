// The float optimizers' fuzz targets, compiled beside fuzz_checkpoint.cpp
// (which holds the rest) so that the two halves build in parallel.

#include "checkpoint_targets.hpp"

#include <string>

template void checkpoint_targets::optimizer_targets<float>(const std::string&,
                                                           const checkpoint_targets::Check&);
