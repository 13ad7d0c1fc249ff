# Builds and runs the consumer the way a project without CMake would:
#
#   c++ -std=c++17 main.cpp $(pkg-config --cflags --libs descent) && ./consumer
#
# cmake -DCXX=… -DPKG_CONFIG=… -DPC_DIR=<folder of descent.pc> -DSOURCE=<main.cpp>
#       -DBINARY=<executable to write> [-DDEFINE_PREFIX=ON] -P pkg_config.cmake
#
# DEFINE_PREFIX takes the prefix from where descent.pc lies rather than from
# the file, for a package unpacked somewhere other than its prefix.
foreach(var CXX PKG_CONFIG PC_DIR SOURCE BINARY)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "pkg_config.cmake: ${var} is not set")
  endif()
endforeach()

set(ENV{PKG_CONFIG_PATH} "${PC_DIR}")
set(options --cflags --libs)
if(DEFINE_PREFIX)
  list(PREPEND options --define-prefix)
endif()
execute_process(COMMAND "${PKG_CONFIG}" ${options} descent
                OUTPUT_VARIABLE flags ERROR_VARIABLE error RESULT_VARIABLE status
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "pkg-config ${options} descent failed: ${error}")
endif()
message(STATUS "pkg-config ${options} descent: ${flags}")
separate_arguments(flags UNIX_COMMAND "${flags}")

execute_process(COMMAND "${CXX}" -std=c++17 -O1 "${SOURCE}" ${flags} -o "${BINARY}"
                RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "compiling ${SOURCE} with the pkg-config flags failed")
endif()
execute_process(COMMAND "${BINARY}" RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${BINARY} failed (${status})")
endif()
