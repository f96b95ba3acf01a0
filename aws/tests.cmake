# Unit tests of aws/ (included from aws/CMakeLists.txt when DOCSHIFT_BUILD_TESTS is on).
foreach(name sigv4 credentials dynamodb_types http_client)
  add_executable(aws_${name}_test ${CMAKE_CURRENT_SOURCE_DIR}/${name}_test.cc)
  target_link_libraries(aws_${name}_test PRIVATE docshift_aws docshift_testutil GTest::gtest_main)
  target_compile_definitions(aws_${name}_test PRIVATE
                             DOCSHIFT_SIGV4_TESTDATA="${CMAKE_CURRENT_SOURCE_DIR}/testdata/sigv4")
  gtest_discover_tests(aws_${name}_test PROPERTIES LABELS unit DISCOVERY_TIMEOUT 30)
endforeach()

