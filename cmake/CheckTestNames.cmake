# cmake -DSOURCE_DIR=<repo> -P CheckTestNames.cmake
# doctest_discover_tests turns each TEST_CASE name into a ctest name and a --test-case filter.
# Some characters break that silently (the ctest entry then runs zero cases and still passes):
# '[' and ';' are list syntax to CMake, '\"' does not survive the round trip, and a comma in a
# name is escaped for the filter but not for the suite lookup that sets the "slow" label.
cmake_minimum_required(VERSION 3.25)
file(GLOB_RECURSE sources "${SOURCE_DIR}/tests/*.cc")
set(problems "")
foreach(source IN LISTS sources)
  file(READ "${source}" text)
  string(FIND "${text}" "TEST_SUITE(\"slow\")" slow_at)
  file(STRINGS "${source}" cases REGEX "TEST_CASE\\(\"")
  foreach(line IN LISTS cases)
    file(RELATIVE_PATH rel "${SOURCE_DIR}" "${source}")
    if(line MATCHES "TEST_CASE\\(\"[^\"]*(\\[|\\\\)")
      list(APPEND problems "${rel}: '[' or a backslash in a test name: ${line}")
    elseif(NOT slow_at EQUAL -1 AND line MATCHES "TEST_CASE\\(\"[^\"]*,")
      list(APPEND problems "${rel}: a comma in a test name in a file with a slow suite: ${line}")
    endif()
  endforeach()
endforeach()
if(problems)
  list(JOIN problems "\n  " message)
  message(FATAL_ERROR "test names that ctest cannot run reliably:\n  ${message}")
endif()
message(STATUS "test names: ok")
