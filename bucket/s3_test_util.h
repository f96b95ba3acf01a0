// Shared by the bucket tests that run against a real gofakes3 (S3_URL from
// build/testbed.env): a client with the test bed's dummy credentials, a fresh location
// per run, and the main() that skips (77) or fails under CI without S3_URL.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <random>
#include <string>

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
  o.credentials.access_key_id = "testing";
  o.credentials.secret_access_key = "testing";
  o.credentials.source = "test";
  o.endpoint = Url();
  o.retry_for_ms = 5000;
  auto c = aws::S3Client::New(std::move(o));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

// s3://BUCKET_PREFIX-<pid>-<random>/t/NAME: runs against one server never collide.
inline BucketLocation FreshLocation(const std::string& bucket_prefix, const std::string& name) {
  static const std::string run = [] {
    std::mt19937_64 rng(std::random_device{}());
    return std::to_string(getpid()) + "-" + std::to_string(rng() % 1000000);
  }();
  return BucketLocation{bucket_prefix + "-" + run, "t/" + name};
}

inline int Main(int argc, char** argv, const char* test_name) {
  ::testing::InitGoogleTest(&argc, argv);
  const char* url = std::getenv("S3_URL");
  if (url == nullptr || *url == '\0') {
    std::cerr << test_name << ": S3_URL is not set (run scripts/testbed.sh up and source build/testbed.env)\n";
    return std::getenv("CI") != nullptr ? 1 : 77;
  }
  Url() = url;
  return RUN_ALL_TESTS();
}

}  // namespace docshift::bucket::s3_test
