include(doctest)

add_library(metajoule_doctest_main OBJECT ${PROJECT_SOURCE_DIR}/tests/doctest_main.cc)
target_link_libraries(metajoule_doctest_main PRIVATE doctest::doctest)

# metajoule_add_test(<module> SOURCES ... [DEPS ...] [TIMEOUT s]): builds <module>_tests from the
# module's *_test.cc files and the shared doctest main, linking only that module (plus DEPS for
# test-only helpers), and registers each TEST_CASE with ctest. Suites named "slow" get the ctest
# label "slow" and are left out of the default run (ctest -LE slow).
function(metajoule_add_test module)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${module}_tests ${ARG_SOURCES} $<TARGET_OBJECTS:metajoule_doctest_main>)
  target_link_libraries(${module}_tests PRIVATE metajoule::${module} ${ARG_DEPS} doctest::doctest metajoule_warnings)
  target_include_directories(${module}_tests PRIVATE ${PROJECT_SOURCE_DIR})
  if(METAJOULE_EIGEN_NO_MALLOC_CHECKS)
    target_compile_definitions(${module}_tests PRIVATE EIGEN_RUNTIME_NO_MALLOC)
  endif()
  target_compile_definitions(${module}_tests PRIVATE
    METAJOULE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  doctest_discover_tests(${module}_tests
    TEST_PREFIX "${module}:"
    ADD_LABELS 1
    PROPERTIES TIMEOUT ${ARG_TIMEOUT}
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
endfunction()
