// Shared by the tests that run against a real AWS-API server of the test bed (moto,
// ministack, gofakes3; URLs from build/testbed.env): the test bed's dummy credentials, a
// per-run tag for names that must not collide between runs against one server, and the
// check of the server's URL variable that skips (77) or, under CI, fails without it.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

#include "aws/credentials.h"
#include "aws/http_client.h"
#include "aws/s3_client_internal.h"
#include "aws/sigv4.h"

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

// Which S3-API server S3_URL points at: S3_SERVER, "gofakes3" (the test bed's main one)
// unless set. Tests of one server's quirks check it; CTest runs the bucket tests a second
// time against moto with S3_SERVER=moto.
inline std::string S3Server() {
  const char* v = std::getenv("S3_SERVER");
  return v != nullptr && *v != '\0' ? v : "gofakes3";
}

// CreateBucket (a signed PUT of the bucket itself), for servers without gofakes3's
// auto-bucket (moto). An existing bucket (409) is fine. "" when done, else what went wrong.
inline std::string CreateBucket(const std::string& url, const std::string& bucket) {
  auto loc = internal::LocateObject(url, "us-east-1", bucket, "");
  if (!loc.ok()) return loc.status().ToString();
  Headers headers = {{"Host", loc->endpoint.HostHeader()}};
  HttpRequest req{"PUT", loc->path, "", headers, ""};
  auto s = SignRequest(req, TestCredentials(),
                       SigningOptions::ForS3("us-east-1", std::chrono::system_clock::now(), Payload::kHashBody));
  if (!s.ok()) return s.status().ToString();
  for (auto& h : s->headers_to_add) headers.push_back(h);
  auto http = HttpClient::New();
  if (!http.ok()) return http.status().ToString();
  auto r = (*http)->Send(loc->endpoint, "PUT", loc->path, "", headers, "");
  if (!r.ok()) return r.status().ToString();
  if (r->status != 200 && r->status != 409) return "CreateBucket: HTTP " + std::to_string(r->status) + " " + r->body;
  return "";
}

inline int SkipOrFail() {
  if (std::getenv("CI") == nullptr) return 77;
  std::cout << "CI is set, so this is a failure" << std::endl;
  return 1;
}

}  // namespace docshift::aws::test
