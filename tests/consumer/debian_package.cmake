# Builds the Debian package with CPack, checks its control fields and
# contents, and unpacks it with dpkg-deb -x into a scratch root, as dpkg
# would install it under / (no root rights or container needed):
#
# cmake -DCPACK=… -DDPKG_DEB=… [-DPKG_CONFIG=…] -DCONFIG=<CPackConfig.cmake>
#       -DOUT=<folder> -DVERSION=<x.y.z> -P debian_package.cmake
#
# Leaves the unpacked tree in OUT/root.
foreach(var CPACK DPKG_DEB CONFIG OUT VERSION)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "debian_package.cmake: ${var} is not set")
  endif()
endforeach()

file(REMOVE_RECURSE "${OUT}")
execute_process(COMMAND "${CPACK}" -G DEB --config "${CONFIG}" -B "${OUT}"
                RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "cpack failed")
endif()
set(deb "${OUT}/descent-dev_${VERSION}_all.deb")
if(NOT EXISTS "${deb}")
  message(FATAL_ERROR "cpack did not write ${deb}")
endif()

foreach(field_value "Package|descent-dev" "Architecture|all" "Version|${VERSION}"
                    "Depends|libeigen3-dev (>= 3.4)")
  string(REPLACE "|" ";" pair "${field_value}")
  list(GET pair 0 field)
  list(GET pair 1 expected)
  execute_process(COMMAND "${DPKG_DEB}" -f "${deb}" "${field}" OUTPUT_VARIABLE value
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT value STREQUAL expected)
    message(FATAL_ERROR "${deb}: ${field} is '${value}', expected '${expected}'")
  endif()
endforeach()

execute_process(COMMAND "${DPKG_DEB}" -x "${deb}" "${OUT}/root" RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "dpkg-deb -x failed")
endif()
foreach(file include/descent/descent.hpp include/descent/detail/kernel.hpp
             share/cmake/descent/descentConfig.cmake share/cmake/descent/descentTargets.cmake
             share/pkgconfig/descent.pc)
  if(NOT EXISTS "${OUT}/root/usr/${file}")
    message(FATAL_ERROR "the package lacks /usr/${file}")
  endif()
endforeach()
file(STRINGS "${OUT}/root/usr/share/pkgconfig/descent.pc" prefix REGEX "^prefix=")
if(NOT prefix STREQUAL "prefix=/usr")
  message(FATAL_ERROR "the package's descent.pc says '${prefix}', not prefix=/usr")
endif()
# Its descent.pc, read where it was unpacked, points into that tree.
if(PKG_CONFIG)
  set(ENV{PKG_CONFIG_PATH} "${OUT}/root/usr/share/pkgconfig")
  execute_process(COMMAND "${PKG_CONFIG}" --define-prefix --cflags descent
                  OUTPUT_VARIABLE cflags RESULT_VARIABLE status OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT status EQUAL 0 OR NOT cflags MATCHES "-I${OUT}/root/usr/include( |$)")
    message(FATAL_ERROR "pkg-config --define-prefix --cflags descent gave '${cflags}'")
  endif()
  message(STATUS "pkg-config --define-prefix --cflags descent: ${cflags}")
endif()
message(STATUS "${deb} unpacked into ${OUT}/root")
