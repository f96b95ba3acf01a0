# Unit tests of bucket/ (included from bucket/CMakeLists.txt when DOCSHIFT_BUILD_TESTS is on).
foreach(name location log retention)
  add_executable(bucket_${name}_test ${CMAKE_CURRENT_SOURCE_DIR}/${name}_test.cc)
  target_link_libraries(bucket_${name}_test PRIVATE docshift_bucket docshift_testutil GTest::gtest_main)
  gtest_discover_tests(bucket_${name}_test PROPERTIES LABELS unit DISCOVERY_TIMEOUT 30)
endforeach()

# The commit log against a real gofakes3 server (S3_URL in build/testbed.env). Unset: exit
# 77 (skip), or fail when CI is set.
add_executable(bucket_log_s3_test ${CMAKE_CURRENT_SOURCE_DIR}/log_s3_test.cc)
target_link_libraries(bucket_log_s3_test PRIVATE docshift_bucket docshift_testutil GTest::gtest)
add_test(NAME bucket_log_s3_test COMMAND bucket_log_s3_test)
set_tests_properties(bucket_log_s3_test PROPERTIES LABELS testbed TIMEOUT 300 SKIP_RETURN_CODE 77)

# The cache and the checkpoint store of a bucket spool, against gofakes3 (as above).
add_executable(bucket_cache_s3_test ${CMAKE_CURRENT_SOURCE_DIR}/cache_s3_test.cc)
target_link_libraries(bucket_cache_s3_test PRIVATE docshift_bucket docshift_testutil GTest::gtest)
add_test(NAME bucket_cache_s3_test COMMAND bucket_cache_s3_test)
set_tests_properties(bucket_cache_s3_test PROPERTIES LABELS testbed TIMEOUT 300 SKIP_RETURN_CODE 77)


# Remote retention run by the shipper (bucket/retention.h), against gofakes3 (as above).
add_executable(bucket_retention_s3_test ${CMAKE_CURRENT_SOURCE_DIR}/retention_s3_test.cc)
target_link_libraries(bucket_retention_s3_test PRIVATE docshift_bucket docshift_testutil GTest::gtest)
add_test(NAME bucket_retention_s3_test COMMAND bucket_retention_s3_test)
set_tests_properties(bucket_retention_s3_test PROPERTIES LABELS testbed TIMEOUT 300 SKIP_RETURN_CODE 77)

# The commit log, cache and checkpoint store against moto's S3 too (DYNAMODB_URL), a second
# implementation of If-None-Match / If-Match: fencing must not depend on one server.
foreach(name log cache retention)
  add_test(NAME bucket_${name}_s3_test_moto
           COMMAND sh -c "S3_URL=\"$DYNAMODB_URL\" S3_SERVER=moto exec \"$0\"" $<TARGET_FILE:bucket_${name}_s3_test>)
  set_tests_properties(bucket_${name}_s3_test_moto PROPERTIES LABELS testbed TIMEOUT 300 SKIP_RETURN_CODE 77)
endforeach()
