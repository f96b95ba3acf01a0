# Unit tests of the spool library (included from spool/CMakeLists.txt when
# DOCSHIFT_BUILD_TESTS is on). One executable per reader/writer under test.
foreach(name record segment manifest checkpoint dead_letter spool durable_mark)
  add_executable(spool_${name}_test ${CMAKE_CURRENT_SOURCE_DIR}/${name}_test.cc)
  target_link_libraries(spool_${name}_test PRIVATE docshift_spool docshift_testutil
                        GTest::gtest_main)
  gtest_discover_tests(spool_${name}_test PROPERTIES LABELS unit DISCOVERY_TIMEOUT 30)
endforeach()
