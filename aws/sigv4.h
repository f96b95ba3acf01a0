// AWS Signature Version 4 (header signing), with OpenSSL's SHA-256 and HMAC.
//
// SignRequest() turns a request and credentials into the headers to add to it
// (X-Amz-Date, X-Amz-Security-Token, x-amz-content-sha256 when asked, Authorization).
// It follows the published SigV4 test suite (awslabs/aws-c-auth
// tests/aws-signing-test-suite/v4, vectors in aws/testdata/sigv4/):
//   - path: the path as it goes on the wire; with normalize_path, dot segments and empty
//     segments are removed (a trailing slash kept); with double_uri_encode (every
//     service but S3) it is percent-encoded once more, '/' kept. S3 uses neither;
//   - query: each name and value percent-decoded then encoded (RFC 3986 unreserved kept),
//     sorted by name then value; a name without '=' gets an empty value;
//   - headers: names lower-cased, values trimmed with inner whitespace runs (folded lines
//     included) collapsed to one space, repeated names joined with ',' in order; every
//     header of the request is signed except the hop-by-hop/agent ones
//     (user-agent, x-amzn-trace-id, expect, connection, transfer-encoding, authorization);
//   - payload: hex SHA-256 of the body, or UNSIGNED-PAYLOAD (S3 over TLS).
//
// Thread safety: pure function. The secret is used only inside SignRequest and never
// appears in its result or errors.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/credentials.h"
#include "util/status.h"

namespace docshift::aws {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // As sent on the wire, e.g. "/" or "/bucket/key%20name".
  std::string query;   // Without the '?', as sent; may be empty.
  Headers headers;     // Must include Host.
  std::string_view body;
};

enum class Payload {
  kHashBody,  // Hex SHA-256 of the body (DynamoDB, and S3 when the body is known).
  kUnsigned,  // "UNSIGNED-PAYLOAD" (S3 only).
};

struct SigningOptions {
  std::string region;   // "us-east-1"
  std::string service;  // Signing name: "dynamodb", "s3", ...
  std::chrono::system_clock::time_point time;
  bool normalize_path = true;
  bool double_uri_encode = true;
  Payload payload = Payload::kHashBody;
  bool add_content_sha256_header = false;  // x-amz-content-sha256 (always for S3).
  bool sign_session_token = true;          // false: the token header is added unsigned.

  // What S3 requires: no path normalisation, single encoding, x-amz-content-sha256.
  static SigningOptions ForS3(std::string region, std::chrono::system_clock::time_point time,
                              Payload payload);
};

struct SignedRequest {
  Headers headers_to_add;        // In this order: token, date, content hash, Authorization.
  std::string canonical_request;  // For tests and for debugging a refused signature.
  std::string string_to_sign;
  std::string signature;          // Hex.
};

// Errors: InvalidArgument when the request has no Host header, or credentials, region or
// service are empty.
StatusOr<SignedRequest> SignRequest(const HttpRequest& request, const Credentials& creds,
                                    const SigningOptions& options);

// Helpers, exposed for tests and for the HTTP client.
std::string HexSha256(std::string_view data);
// RFC 3986 percent-encoding: unreserved characters kept, '/' kept when keep_slash.
std::string UriEncode(std::string_view s, bool keep_slash);
// "20150830T123600Z".
std::string AmzDate(std::chrono::system_clock::time_point t);

}  // namespace docshift::aws
