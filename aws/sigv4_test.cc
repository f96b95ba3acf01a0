// The SigV4 signer against the published test suite (aws/testdata/sigv4/, from
// awslabs/aws-c-auth), plus the S3 cases the suite does not cover.
#include "aws/sigv4.h"
#include "aws/text.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "util/test_util.h"

namespace docshift::aws {
namespace {

namespace fs = std::filesystem;

// Cases of the suite this signer does not pass, with the reason. Keep empty if possible.
const std::map<std::string, std::string> kSkipped = {};

std::string ReadAll(const fs::path& p) { return test_util::ReadBytes(p.string()); }

// request.txt: "METHOD TARGET HTTP/1.1", header lines (a line starting with whitespace
// continues the previous value), a blank line, the body.
struct ParsedRequest {
  HttpRequest req;
  std::string body;
};

ParsedRequest ParseRequest(const std::string& text) {
  ParsedRequest out;
  size_t pos = text.find('\n');
  std::string first = text.substr(0, pos);
  size_t sp1 = first.find(' '), sp2 = first.rfind(' ');
  out.req.method = first.substr(0, sp1);
  std::string target = first.substr(sp1 + 1, sp2 - sp1 - 1);
  size_t q = target.find('?');
  out.req.path = target.substr(0, q);
  if (q != std::string::npos) out.req.query = target.substr(q + 1);
  pos = pos == std::string::npos ? text.size() : pos + 1;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) {
      if (pos < text.size()) out.body = text.substr(pos);
      break;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !out.req.headers.empty()) {
      out.req.headers.back().second += "\n" + line;
      continue;
    }
    size_t colon = line.find(':');
    out.req.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  return out;
}

// The value of "key": "string" or "key": true/false in context.json (flat enough).
std::string JsonField(const std::string& json, const std::string& key) {
  std::smatch m;
  std::regex re("\"" + key + "\"\\s*:\\s*(\"([^\"]*)\"|true|false)");
  if (!std::regex_search(json, m, re)) return "";
  return m[2].matched ? m[2].str() : m[1].str();
}

std::chrono::system_clock::time_point ParseIsoTime(const std::string& s) {
  std::tm tm{};
  std::istringstream in(s);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string StripTrailingNewlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// Headers of header-signed-request.txt that are not in request.txt, as (lower name, value).
std::multiset<std::pair<std::string, std::string>> AddedHeaders(const HttpRequest& signed_req,
                                                                 const HttpRequest& orig) {
  std::multiset<std::pair<std::string, std::string>> have, out;
  for (const auto& [n, v] : orig.headers) have.emplace(AsciiLower(n), v);
  for (const auto& [n, v] : signed_req.headers) {
    auto key = std::make_pair(AsciiLower(n), v);
    auto it = have.find(key);
    if (it != have.end()) {
      have.erase(it);
    } else {
      out.insert(key);
    }
  }
  return out;
}

TEST(SigV4SuiteTest, EveryCommittedVector) {
  const fs::path root = DOCSHIFT_SIGV4_TESTDATA;
  std::vector<fs::path> cases;
  for (const auto& e : fs::directory_iterator(root)) {
    if (e.is_directory()) cases.push_back(e.path());
  }
  std::sort(cases.begin(), cases.end());
  ASSERT_GE(cases.size(), 38u) << "vectors missing under " << root;
  int passed = 0;
  for (const fs::path& dir : cases) {
    const std::string name = dir.filename().string();
    if (auto it = kSkipped.find(name); it != kSkipped.end()) {
      std::printf("[ SKIPPED  ] %s: %s\n", name.c_str(), it->second.c_str());
      continue;
    }
    SCOPED_TRACE(name);
    const std::string ctx = ReadAll(dir / "context.json");
    ParsedRequest pr = ParseRequest(ReadAll(dir / "request.txt"));
    pr.req.body = pr.body;
    Credentials creds;
    creds.access_key_id = JsonField(ctx, "access_key_id");
    creds.secret_access_key = JsonField(ctx, "secret_access_key");
    creds.session_token = JsonField(ctx, "token");
    SigningOptions opt;
    opt.region = JsonField(ctx, "region");
    opt.service = JsonField(ctx, "service");
    opt.time = ParseIsoTime(JsonField(ctx, "timestamp"));
    opt.normalize_path = JsonField(ctx, "normalize") != "false";
    opt.add_content_sha256_header = JsonField(ctx, "sign_body") == "true";
    opt.sign_session_token = JsonField(ctx, "omit_session_token") != "true";

    auto signed_or = SignRequest(pr.req, creds, opt);
    ASSERT_TRUE(signed_or.ok()) << signed_or.status().ToString();
    const SignedRequest& s = *signed_or;
    EXPECT_EQ(s.canonical_request,
              StripTrailingNewlines(ReadAll(dir / "header-canonical-request.txt")));
    EXPECT_EQ(s.string_to_sign, StripTrailingNewlines(ReadAll(dir / "header-string-to-sign.txt")));
    EXPECT_EQ(s.signature, StripTrailingNewlines(ReadAll(dir / "header-signature.txt")));

    ParsedRequest expected = ParseRequest(ReadAll(dir / "header-signed-request.txt"));
    std::multiset<std::pair<std::string, std::string>> got;
    for (const auto& [n, v] : s.headers_to_add) got.emplace(AsciiLower(n), v);
    EXPECT_EQ(got, AddedHeaders(expected.req, pr.req));
    ++passed;
  }
  std::printf("SigV4 suite: %d of %zu vectors passed, %zu skipped\n", passed, cases.size(),
              kSkipped.size());
}

Credentials Example() {
  Credentials c;
  c.access_key_id = "AKIAIOSFODNN7EXAMPLE";
  c.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  return c;
}

std::chrono::system_clock::time_point May24() {
  return std::chrono::system_clock::from_time_t(1369353600);  // 2013-05-24T00:00:00Z
}

SigningOptions DynamoDbOptions() {
  SigningOptions opt;
  opt.region = "us-east-1";
  opt.service = "dynamodb";
  opt.time = May24();
  return opt;
}

// The GET Object example of the S3 SigV4 documentation ("Signature Calculations for the
// Authorization Header: Transferring Payload in a Single Chunk").
TEST(SigV4S3Test, DocumentationGetObjectExample) {
  HttpRequest req;
  req.method = "GET";
  req.path = "/test.txt";
  req.headers = {{"Host", "examplebucket.s3.amazonaws.com"}, {"Range", "bytes=0-9"}};
  auto s = SignRequest(req, Example(), SigningOptions::ForS3("us-east-1", May24(), Payload::kHashBody));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(s->headers_to_add.back().second,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4S3Test, UnsignedPayloadAndNoNormalisation) {
  HttpRequest req;
  req.method = "PUT";
  req.path = "/bucket//a/./b%20c";
  req.headers = {{"Host", "localhost:9000"}};
  req.body = "payload that is not hashed";
  Credentials c = Example();
  c.session_token = "TOKEN";
  auto s = SignRequest(req, c, SigningOptions::ForS3("eu-west-1", May24(), Payload::kUnsigned));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->canonical_request,
            "PUT\n/bucket//a/./b%20c\n\nhost:localhost:9000\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n"
            "x-amz-date:20130524T000000Z\nx-amz-security-token:TOKEN\n\n"
            "host;x-amz-content-sha256;x-amz-date;x-amz-security-token\nUNSIGNED-PAYLOAD");
  ASSERT_EQ(s->headers_to_add.size(), 4u);
  EXPECT_EQ(s->headers_to_add[0], std::make_pair(std::string("X-Amz-Security-Token"), std::string("TOKEN")));
  EXPECT_EQ(s->headers_to_add[2].second, "UNSIGNED-PAYLOAD");
}

TEST(SigV4Test, DynamoDbStyleRequestHashesTheBody) {
  HttpRequest req;
  req.method = "POST";
  req.path = "/";
  req.headers = {{"Host", "dynamodb.us-east-1.amazonaws.com"},
                 {"Content-Type", "application/x-amz-json-1.0"},
                 {"X-Amz-Target", "DynamoDB_20120810.ListTables"},
                 {"User-Agent", "docshift"}};
  req.body = "{}";
  SigningOptions opt = DynamoDbOptions();
  auto s = SignRequest(req, Example(), opt);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_NE(s->canonical_request.find("\ncontent-type;host;x-amz-date;x-amz-target\n" +
                                      HexSha256("{}")),
            std::string::npos)
      << s->canonical_request;  // user-agent is not signed.
  EXPECT_EQ(HexSha256("{}"), "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
}

TEST(SigV4Test, RefusesBadInputWithoutTheSecret) {
  HttpRequest req;
  req.method = "GET";
  req.path = "/";
  SigningOptions opt = DynamoDbOptions();
  auto no_host = SignRequest(req, Example(), opt);
  ASSERT_FALSE(no_host.ok());
  EXPECT_TRUE(no_host.status().IsInvalidArgument());
  EXPECT_NE(no_host.status().message().find("Host"), std::string::npos);

  req.headers = {{"Host", "h"}, {"X-Amz-Date", "20130524T000000Z"}};
  auto dup = SignRequest(req, Example(), opt);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().message().find(Example().secret_access_key), std::string::npos);

  req.headers = {{"Host", "h"}};
  Credentials empty;
  EXPECT_FALSE(SignRequest(req, empty, opt).ok());
  opt.region.clear();
  EXPECT_FALSE(SignRequest(req, Example(), opt).ok());
}

TEST(SigV4Test, UriEncodeAndDate) {
  EXPECT_EQ(UriEncode("a b/c~-._é", true), "a%20b/c~-._%C3%A9");
  EXPECT_EQ(UriEncode("a/b+c=", false), "a%2Fb%2Bc%3D");
  EXPECT_EQ(AmzDate(May24()), "20130524T000000Z");
}

}  // namespace
}  // namespace docshift::aws
