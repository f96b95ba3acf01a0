// Shared by the bucket tests that run against a real gofakes3 (S3_URL from
// build/testbed.env): a client with the test bed's dummy credentials, a fresh location
// per run, and the main() that skips (77) or fails under CI without S3_URL.
#pragma once

#include <gtest/gtest.h>
#include <iostream>
#include <memory>
#include <string>

#include "aws/aws_test_util.h"
#include "aws/s3_client.h"
#include "bucket/location.h"

namespace docshift::bucket::s3_test {

inline std::string& Url() {
  static std::string url;
  return url;
}

inline std::unique_ptr<aws::S3Client> NewClient() {
  aws::S3ClientOptions o;
  o.region = "us-east-1";
  o.credentials = aws::test::TestCredentials();
  o.endpoint = Url();
  o.retry_for_ms = 5000;
  auto c = aws::S3Client::New(std::move(o));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

// s3://BUCKET_PREFIX-<pid>-<random>/t/NAME, the bucket created: runs against one server
// never collide.
inline BucketLocation FreshLocation(const std::string& bucket_prefix, const std::string& name) {
  BucketLocation loc{bucket_prefix + "-" + aws::test::RunTag(), "t/" + name};
  EXPECT_EQ(aws::test::CreateBucket(Url(), loc.bucket), "");
  return loc;
}

inline int Main(int argc, char** argv, const char* test_name) {
  ::testing::InitGoogleTest(&argc, argv);
  Url() = aws::test::ServerUrl("S3_URL");
  if (Url().empty()) {
    std::cout << test_name << ": cannot run without a server\n";
    return aws::test::SkipOrFail();
  }
  return RUN_ALL_TESTS();
}

}  // namespace docshift::bucket::s3_test
