// Shared by the tests that run against a real AWS-API server of the test bed (moto,
// ministack, gofakes3; URLs from build/testbed.env): the test bed's dummy credentials, a
// per-run tag for names that must not collide between runs against one server, and the
// check of the server's URL variable that skips (77) or, under CI, fails without it.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

#include "aws/credentials.h"

namespace docshift::aws::test {

// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY when set, else "testing" (the test bed's
// servers check no signature unless told to).
inline aws::Credentials TestCredentials() {
  auto env_or = [](const char* name, const char* dflt) -> std::string {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? v : dflt;
  };
  aws::Credentials c;
  c.access_key_id = env_or("AWS_ACCESS_KEY_ID", "testing");
  c.secret_access_key = env_or("AWS_SECRET_ACCESS_KEY", "testing");
  c.source = "test";
  return c;
}

// "<pid>-<random>", the same for the whole run.
inline const std::string& RunTag() {
  static const std::string tag = [] {
    std::mt19937_64 rng(std::random_device{}());
    return std::to_string(getpid()) + "-" + std::to_string(rng() % 1000000);
  }();
  return tag;
}

// The value of the server's URL variable (e.g. S3_URL). Empty when unset, after printing
// why; the caller then returns SkipOrFail().
inline std::string ServerUrl(const char* env_name) {
  const char* url = std::getenv(env_name);
  if (url != nullptr && *url != '\0') return url;
  std::cout << env_name << " not set: run scripts/testbed.sh up and source build/testbed.env" << std::endl;
  return "";
}

inline int SkipOrFail() {
  if (std::getenv("CI") == nullptr) return 77;
  std::cout << "CI is set, so this is a failure" << std::endl;
  return 1;
}

}  // namespace docshift::aws::test
