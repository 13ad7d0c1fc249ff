#pragma once
/// \file
/// The library version; CMake reads it from here. The installed CMake
/// package matches the same MAJOR.MINOR only (`find_package(descent 0.2)`
/// accepts any 0.2.x).

/// The major version.
#define DESCENT_VERSION_MAJOR 0
/// The minor version.
#define DESCENT_VERSION_MINOR 2
/// The patch version.
#define DESCENT_VERSION_PATCH 0
