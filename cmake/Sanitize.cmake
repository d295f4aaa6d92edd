# Sanitizer and fuzzing builds (issue #20; scripts/sanitize.sh drives them).
#
#   -DSCALELAW_SANITIZE=address,undefined   ASan + UBSan on every target this
#                                           project builds (libraries, tests,
#                                           the CLI); Debian's gRPC, protobuf,
#                                           abseil and SQLite stay as shipped.
#   -DSCALELAW_SANITIZE=thread              TSan, for the coordinator's
#                                           concurrency tests (fuzz/tsan.supp).
#   -DSCALELAW_FUZZ=ON                      clang only: the libFuzzer harnesses
#                                           under fuzz/, with ASan + UBSan and
#                                           -fsanitize=fuzzer-no-link on our
#                                           own code so libFuzzer sees its
#                                           coverage.
#
# Both turn the libtorch worker and bench/ off (top-level CMakeLists.txt):
# libtorch is not instrumented, and the code under test (coordinator, sweeps,
# fitting, data) does not need it.
# Included before any add_subdirectory so the flags reach every target.

if(SCALELAW_FUZZ AND NOT SCALELAW_SANITIZE)
  set(SCALELAW_SANITIZE "address,undefined")
endif()

if(SCALELAW_FUZZ AND NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "SCALELAW_FUZZ needs clang (libFuzzer): configure with "
                      "-DCMAKE_CXX_COMPILER=/usr/bin/clang++, got ${CMAKE_CXX_COMPILER_ID}")
endif()

if(SCALELAW_SANITIZE)
  add_compile_options(-fsanitize=${SCALELAW_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${SCALELAW_SANITIZE})
  # A sanitizer report fails the test or fuzz run instead of scrolling past.
  if(SCALELAW_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
endif()

if(SCALELAW_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
