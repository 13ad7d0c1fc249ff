# Runs one example and checks what it wrote; one ctest each (examples/CMakeLists.txt).
#   -DPROGRAM=path -DARGS=a;b -DWORK_DIR=dir -DPYTHON=python3-or-empty -DCHECKER=check_svg.py
#   -DEXPECT=file=count,file=count
if(NOT EXISTS "${PROGRAM}")
  message(FATAL_ERROR "${PROGRAM} does not exist: was the example built?")
endif()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
separate_arguments(_args UNIX_COMMAND "${ARGS}")
execute_process(COMMAND "${PROGRAM}" ${_args} --out "${WORK_DIR}"
                WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE _status)
if(NOT _status STREQUAL "0")
  message(FATAL_ERROR "${PROGRAM} ${ARGS} --out ${WORK_DIR} exited with ${_status}")
endif()

if(NOT PYTHON)
  message(STATUS "Python 3 not found: skipping the check of the files in ${WORK_DIR}")
  return()
endif()
string(REPLACE "," ";" _expect "${EXPECT}")
execute_process(COMMAND "${PYTHON}" "${CHECKER}" "${WORK_DIR}" ${_expect} RESULT_VARIABLE _status)
if(NOT _status STREQUAL "0")
  message(FATAL_ERROR "check_svg.py found a problem in ${WORK_DIR}")
endif()
