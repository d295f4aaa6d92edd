# Helpers shared by every folder's CMakeLists.txt.

# scalelaw_warnings(TARGET): our own targets get warnings, and -Werror when
# SCALELAW_WERROR is on (CI). Third-party headers are included as SYSTEM.
function(scalelaw_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  if(SCALELAW_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# scalelaw_library(NAME ALIAS SOURCES ... ) — a static library rooted at the
# repository, so includes read "fitting/power_law.h".
function(scalelaw_library name)
  cmake_parse_arguments(ARG "" "ALIAS" "SOURCES" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  scalelaw_warnings(${name})
  if(ARG_ALIAS)
    add_library(${ARG_ALIAS} ALIAS ${name})
  endif()
endfunction()

# scalelaw_test(NAME SOURCES ... LIBS ... LABELS ... [TIMEOUT s]) — a GoogleTest
# executable registered with CTest under the given labels (unit, integration,
# slurm, prometheus, slow) so `ctest -L unit` runs a subset.
function(scalelaw_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  scalelaw_warnings(${name})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "SCALELAW_BINARY_DIR=${PROJECT_BINARY_DIR};SCALELAW_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()
