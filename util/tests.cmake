# Unit tests of util/ (included from util/CMakeLists.txt when DOCSHIFT_BUILD_TESTS is on).
foreach(name crc32c fault_injection_env duration token_bucket service_notify cpu_time)
  add_executable(util_${name}_test ${CMAKE_CURRENT_SOURCE_DIR}/${name}_test.cc)
  target_link_libraries(util_${name}_test PRIVATE docshift_util docshift_testutil GTest::gtest_main)
  gtest_discover_tests(util_${name}_test PROPERTIES LABELS unit)
endforeach()
