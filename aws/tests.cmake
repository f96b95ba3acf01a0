# Unit tests of aws/ (included from aws/CMakeLists.txt when DOCSHIFT_BUILD_TESTS is on).
foreach(name sigv4 credentials dynamodb_types dynamodb_uri http_client dynamodb_client_internal s3_client_internal)
  add_executable(aws_${name}_test ${CMAKE_CURRENT_SOURCE_DIR}/${name}_test.cc)
  target_link_libraries(aws_${name}_test PRIVATE docshift_aws docshift_testutil GTest::gtest_main)
  target_compile_definitions(aws_${name}_test PRIVATE
                             DOCSHIFT_SIGV4_TESTDATA="${CMAKE_CURRENT_SOURCE_DIR}/testdata/sigv4")
  gtest_discover_tests(aws_${name}_test PROPERTIES LABELS unit DISCOVERY_TIMEOUT 30)
endforeach()

# The DynamoDB client against a real moto server (scripts/testbed.sh up; DYNAMODB_URL in
# build/testbed.env). Unset: exit 77 (skip), or fail when CI is set.
add_executable(aws_dynamodb_client_test ${CMAKE_CURRENT_SOURCE_DIR}/dynamodb_client_test.cc)
target_link_libraries(aws_dynamodb_client_test PRIVATE docshift_aws docshift_testutil GTest::gtest)
add_test(NAME aws_dynamodb_client_test COMMAND aws_dynamodb_client_test)
set_tests_properties(aws_dynamodb_client_test PROPERTIES LABELS testbed TIMEOUT 300 SKIP_RETURN_CODE 77)

# The S3 client against a real gofakes3 server (scripts/testbed.sh up; S3_URL in
# build/testbed.env). Unset: exit 77 (skip), or fail when CI is set.
add_executable(aws_s3_client_test ${CMAKE_CURRENT_SOURCE_DIR}/s3_client_test.cc)
target_link_libraries(aws_s3_client_test PRIVATE docshift_aws docshift_testutil GTest::gtest)
add_test(NAME aws_s3_client_test COMMAND aws_s3_client_test)
set_tests_properties(aws_s3_client_test PROPERTIES LABELS testbed TIMEOUT 300 SKIP_RETURN_CODE 77)

# The same against moto's S3 (DYNAMODB_URL: moto serves every service on one port), a
# second implementation of conditional writes; S3_SERVER=moto tells its quirks apart.
add_test(NAME aws_s3_client_test_moto
         COMMAND sh -c "S3_URL=\"$DYNAMODB_URL\" S3_SERVER=moto exec \"$0\"" $<TARGET_FILE:aws_s3_client_test>)
set_tests_properties(aws_s3_client_test_moto PROPERTIES LABELS testbed TIMEOUT 300 SKIP_RETURN_CODE 77)
