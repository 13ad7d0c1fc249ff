#pragma once
/// \file
/// The library version; CMake reads it from here.

#define DESCENT_VERSION_MAJOR 0
#define DESCENT_VERSION_MINOR 2
#define DESCENT_VERSION_PATCH 0
