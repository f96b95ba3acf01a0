// A small S3 client for the spool in a bucket (issue #13): PutObject (optionally
// create-only with If-None-Match: * or overwrite-only with If-Match), GetObject (whole
// or a byte range), HeadObject, ListObjectsV2 (every page), DeleteObject, and
// CreateObject, a create-only PUT that survives a lost response. REST/XML over
// aws::HttpClient (libcurl), signed with SigV4 (SigningOptions::ForS3, the body's
// SHA-256 as payload hash).
//
// Addressing: with no endpoint configured, AWS's virtual-host style
// https://BUCKET.s3.REGION.amazonaws.com/KEY (path style on https://s3.REGION... for a
// bucket name with a dot, which a wildcard certificate cannot cover); with an endpoint
// (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL), path style ENDPOINT/BUCKET/KEY.
//
// Checksums: an ETag is never taken for a checksum (it is not one for multipart uploads,
// nor on some servers). Every PUT sends Content-MD5 (the server refuses a body that does
// not match it) and stores the same MD5, hex, in the metadata x-amz-meta-docshift-md5;
// a whole-object GET recomputes it and returns Corruption naming bucket and key when it
// differs or is missing. A range GET cannot be checked this way: its caller verifies
// what it reads (the spool's own framing CRCs).
//
// Writer ids: PutOptions::writer_id goes to x-amz-meta-docshift-writer. A conditional PUT
// (If-None-Match or If-Match) that carries one and gets 412 Precondition Failed asks the
// object's HEAD before calling it a lost race: the same writer id, MD5 and size mean the
// object is this very write (an earlier attempt whose response was lost, or a repeated
// call), which is success (PutResult::resolved). A writer id must therefore be unique
// per writer and attempt, never reused for different content.
//
// Retries: network errors, 5xx, 503 SlowDown/429 and 409 ConditionalRequestConflict /
// OperationAborted are retried inside each call with util/backoff.h's pacing for up to
// retry_for_ms, stopping early when *stop is set (Aborted). Everything else is returned
// at once. Every operation here is safe to repeat (a conditional PUT through the
// resolution above).
//
// Errors (Status) are one line naming the operation, s3://bucket/key and the endpoint,
// and S3's error code and message; never a header value, the secret key or the session
// token. S3Error (optional out-parameter) says what kind of failure it was so no caller
// matches message text. Status codes by kind: kPreconditionFailed -> FailedPrecondition;
// kNotFound -> NotFound; kAuth, kValidation -> InvalidArgument; kCorruption,
// kBadResponse -> Corruption; kNetwork, kThrottled, kServer, kConflict -> Unavailable
// (Aborted when stopped). Arguments refused before any request are InvalidArgument with
// kind kValidation and http_status 0.
//
// Thread safety: an S3Client is used by one thread at a time (it owns one HTTP
// connection). Make one per thread; they are cheap.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/credentials.h"
#include "util/status.h"

namespace docshift::aws {

class HttpClient;
struct HttpResponse;

// Metadata names docshift writes. In the bucket: never rename.
inline constexpr char kS3MetaWriter[] = "docshift-writer";  // x-amz-meta-docshift-writer
inline constexpr char kS3MetaMd5[] = "docshift-md5";        // x-amz-meta-docshift-md5, 32 hex digits

// Describes one request, for the fault-injection hook.
struct S3RequestInfo {
  std::string_view op;      // "PutObject", "GetObject", ...
  std::string_view method;  // "PUT", ...
  std::string_view bucket;
  std::string_view key;     // "" for ListObjectsV2
  int64_t request_number = 0;  // 1-based, counted over the client's life
  int attempt = 0;             // 1-based, within the call
};

struct S3ClientOptions {
  std::string region;
  Credentials credentials;
  // A base URL ("http://127.0.0.1:27107"): path style. Empty: the AWS default.
  std::string endpoint;
  int64_t connect_timeout_ms = 10'000;
  int64_t request_timeout_ms = 60'000;
  // How long one call keeps retrying network errors, 5xx, throttling and conflicts.
  int64_t retry_for_ms = 120'000;
  const std::atomic<bool>* stop = nullptr;
  // Largest body a GET may return (a longer one fails the call: every length is bounded).
  int64_t max_object_bytes = int64_t{1} << 30;
  // Fault injection, for tests only (null in production). Called with every request that
  // got an answer, before the answer is looked at; returning true throws the answer away
  // as if the connection had dropped after the server acted: the attempt counts as a
  // network failure and is retried.
  std::function<bool(const S3RequestInfo&)> drop_response;
};

// Options from the AWS conventions (aws/credentials.h): credentials, region
// (region_from_uri when not empty), AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL.
StatusOr<S3ClientOptions> S3ClientOptionsFromEnv(const EnvLookup& env, std::string_view region_from_uri);

enum class S3ErrorKind {
  kNone,
  kNetwork,             // no answer (refused, reset, timeout) after the retries
  kThrottled,           // 503 SlowDown, 429 ... still, after the retries
  kServer,              // 5xx after the retries
  kConflict,            // 409 ConditionalRequestConflict/OperationAborted after the retries
  kPreconditionFailed,  // 412: a create-only PUT lost the race, an If-Match PUT is not current
  kNotFound,            // 404: NoSuchKey, NoSuchBucket (S3Error::code tells which)
  kAuth,                // 401/403: AccessDenied, SignatureDoesNotMatch, RequestTimeTooSkewed, ...
  kValidation,          // other 4xx, or arguments refused before sending
  kCorruption,          // the bytes do not match their checksum (GET), or BadDigest (PUT)
  kBadResponse,         // a 2xx answer that is not what S3 sends
};

struct S3Error {
  S3ErrorKind kind = S3ErrorKind::kNone;
  std::string code;     // S3's <Code> ("PreconditionFailed"), or "" (HEAD has no body)
  int http_status = 0;  // 0 when no answer came
};

const char* S3ErrorKindName(S3ErrorKind kind);

struct S3ObjectInfo {
  std::string key;
  int64_t size = -1;          // -1 when unknown
  std::string etag;           // As sent, quotes included; for If-Match only, never a checksum.
  std::string last_modified;  // As sent by the server.
  std::string writer_id;      // x-amz-meta-docshift-writer, "" when absent
  std::string md5_hex;        // x-amz-meta-docshift-md5, "" when absent
  // Every x-amz-meta-* header: name lower-cased without the prefix -> value.
  std::map<std::string, std::string> metadata;
};

struct PutOptions {
  enum class Condition { kNone, kIfNoneMatch, kIfMatch };
  Condition condition = Condition::kNone;
  std::string if_match_etag;  // REQUIRES: not empty with kIfMatch.
  std::string writer_id;      // "" for none; printable ASCII, no CR/LF.
  std::string content_type = "application/octet-stream";
  // More x-amz-meta-* pairs: names [a-z0-9-], values printable ASCII.
  std::map<std::string, std::string> metadata;
};

struct PutResult {
  std::string etag;
  int attempts = 0;  // HTTP PUTs sent (retries included)
  // A 412 was resolved as this very write (see the header comment).
  bool resolved = false;
};

struct GetOptions {
  // A byte range [offset, offset + length); length 0: to the end. nullopt: whole object.
  std::optional<std::pair<int64_t, int64_t>> range;
  // Whole-object GET of an object without x-amz-meta-docshift-md5: Corruption when true,
  // else the body is returned unchecked (info.md5_hex empty).
  bool require_checksum = true;
};

struct S3Object {
  S3ObjectInfo info;
  std::string body;
};

struct ListOptions {
  std::string prefix;
  std::string start_after;  // "" for none
  int page_size = 1000;     // max-keys of each request: 1..1000
  int64_t limit = 0;        // stop after this many keys; 0: all
};

class S3Client {
 public:
  // Errors: InvalidArgument for a missing region or an endpoint URL that does not parse.
  static StatusOr<std::unique_ptr<S3Client>> New(S3ClientOptions options);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // PUT with Content-MD5 and the docshift metadata. FailedPrecondition
  // (kPreconditionFailed) when the condition does not hold and the object is not this
  // very write. If-Match on a key that does not exist: S3 answers 404 (NotFound),
  // gofakes3 412 (FailedPrecondition); a caller treats both as "not current".
  StatusOr<PutResult> PutObject(const std::string& bucket, const std::string& key, std::string_view body,
                                const PutOptions& options = {}, S3Error* err = nullptr);
  // PutObject with If-None-Match: * and writer_id: success when this writer's bytes are
  // the object, even if an attempt's response was lost; FailedPrecondition
  // (kPreconditionFailed) when another writer's are. REQUIRES: writer_id not empty.
  StatusOr<PutResult> CreateObject(const std::string& bucket, const std::string& key, std::string_view body,
                                   const std::string& writer_id, S3Error* err = nullptr);
  // The object, checked against its stored MD5 (whole-object reads; see GetOptions).
  // NotFound when it does not exist; Corruption (kCorruption) naming bucket and key when
  // the body does not match.
  StatusOr<S3Object> GetObject(const std::string& bucket, const std::string& key, const GetOptions& options = {},
                               S3Error* err = nullptr);
  // NotFound when it does not exist.
  StatusOr<S3ObjectInfo> HeadObject(const std::string& bucket, const std::string& key, S3Error* err = nullptr);
  // Keys in ascending order, following continuation tokens over every page. Each entry
  // has key, size, etag, last_modified (no metadata: S3 does not list it).
  StatusOr<std::vector<S3ObjectInfo>> ListObjectsV2(const std::string& bucket, const ListOptions& options = {},
                                                    S3Error* err = nullptr);
  // Deleting a key that does not exist succeeds (as S3 does).
  Status DeleteObject(const std::string& bucket, const std::string& key, S3Error* err = nullptr);

  // "http://127.0.0.1:27107" or "https://s3.us-east-1.amazonaws.com": for messages.
  std::string endpoint_for_messages(const std::string& bucket) const;

 private:
  struct Request;
  S3Client(S3ClientOptions options, std::unique_ptr<HttpClient> http);
  // One signed request with retries; the 2xx (or 206/204) response on success.
  Status Call(const Request& req, HttpResponse* out, S3Error* err);
  StatusOr<PutResult> Put(const std::string& bucket, const std::string& key, std::string_view body,
                          const PutOptions& options, const std::string& op, S3Error* err);

  S3ClientOptions options_;
  std::unique_ptr<HttpClient> http_;
  int64_t requests_sent_ = 0;
  int last_call_attempts_ = 0;  // HTTP attempts of the last Call()
};

}  // namespace docshift::aws
