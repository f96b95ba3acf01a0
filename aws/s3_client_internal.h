// The pure pieces of aws/s3_client.cc — addressing, a minimal XML reader, response
// parsing, error classification, the 412 resolution — exposed for unit tests. Not for
// other callers: use S3Client.
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/http_client.h"
#include "aws/s3_client.h"

namespace docshift::aws::internal {

// ---- XML: just enough for S3's answers (ListBucketResult, Error).
//
// Elements, attributes (skipped), text with the five named entities and numeric
// character references (decoded to UTF-8), CDATA, comments and processing instructions
// (skipped). A DOCTYPE is refused (no entity expansion), as are unknown entities,
// mismatched or unclosed tags, text outside the root and nesting deeper than 32.
// Namespaces are not interpreted: names are compared as written (S3 uses a default
// namespace, no prefixes).
struct XmlElement {
  std::string name;
  std::string text;  // The element's own text pieces, concatenated, entities decoded.
  std::vector<XmlElement> children;

  // The first child named `name`, or null.
  const XmlElement* Child(std::string_view child_name) const;
  // Its text, or "" when there is no such child.
  std::string ChildText(std::string_view child_name) const;
};

// Errors: Corruption saying what is malformed and at which offset.
StatusOr<XmlElement> ParseXml(std::string_view doc);

// ---- Responses.

struct ListPage {
  std::vector<S3ObjectInfo> objects;
  bool truncated = false;
  std::string next_continuation_token;  // "" on the last page
};

// A ListObjectsV2 answer (root ListBucketResult). Errors: Corruption for a different
// root, a Contents without Key, a bad Size, a bad IsTruncated, or a truncated page
// without NextContinuationToken.
StatusOr<ListPage> ParseListObjectsV2(std::string_view xml);

struct S3ErrorInfo {
  std::string code;     // <Code>, "" when the body has none (HEAD, or not XML)
  std::string message;  // <Message>'s first line, at most 300 characters
};
// An error answer's body: <Error><Code/><Message/>...</Error>; anything else gives
// empty fields.
S3ErrorInfo ParseS3Error(std::string_view body);

// The kind of a failed answer (http_status > 0) by S3 error code, then HTTP status.
S3ErrorKind ClassifyS3Error(int http_status, std::string_view code);
// Network, 5xx, throttling and conflicts: retried inside a call.
bool IsRetryable(S3ErrorKind kind);
// The Status code for a kind (see s3_client.h).
Status S3StatusForKind(S3ErrorKind kind, const std::string& message);

// ---- Addressing.

struct S3Location {
  Endpoint endpoint;
  std::string path;  // Percent-encoded as sent and signed: "/bucket/key" or "/key".
};
// Where bucket/key lives. endpoint_url "" : the AWS default for the region, virtual-host
// style (path style on https://s3.REGION.amazonaws.com for a bucket with a dot);
// otherwise path style under endpoint_url. key "" addresses the bucket (ListObjectsV2).
// Errors: InvalidArgument for a bad endpoint URL, a bucket name S3 would refuse
// (3..63 characters of a-z 0-9 . -), a key over 1024 bytes, or a key with "." or ".."
// path segments (libcurl would remove them).
StatusOr<S3Location> LocateObject(std::string_view endpoint_url, std::string_view region, std::string_view bucket,
                                  std::string_view key);

// The query string of one ListObjectsV2 request, parameters sorted and encoded.
std::string ListQuery(const ListOptions& options, std::string_view continuation_token);

// ---- Objects.

// Lower-case hex MD5 of data, and the same digest base64 (the Content-MD5 value).
std::string HexMd5(std::string_view data);
std::string Base64Md5(std::string_view data);

// The headers of a PutObject before signing (Host excluded). Errors: InvalidArgument
// for a metadata name outside [a-z0-9-], a value with a control or non-ASCII character,
// an If-Match without an ETag, or metadata that would overwrite docshift's own names.
StatusOr<Headers> PutHeaders(std::string_view body, const PutOptions& options);

// What a HEAD/GET answer says about the object (key not set).
S3ObjectInfo ObjectInfoFromHeaders(const HttpResponse& response);

// Checks a whole-object body against the stored MD5. Errors: Corruption (no prefix: the
// caller names bucket and key) for a missing MD5 when required, a malformed one, a
// mismatch, or a size different from Content-Length.
Status VerifyBody(const S3ObjectInfo& info, std::string_view body, bool require_checksum);

// After a 412 to a conditional PUT: is the object that is there now this very write?
enum class PreconditionVerdict {
  kOurs,    // same writer id, MD5 and size: an earlier attempt (or call) wrote it
  kTheirs,  // someone else's object (or ours with other bytes): a lost race / not current
  kGone,    // no object any more (deleted since): a create-only PUT may try again
};
// current: the HEAD of the key, or nullopt when it answered 404.
PreconditionVerdict ResolvePreconditionFailed(const std::optional<S3ObjectInfo>& current, std::string_view writer_id,
                                              std::string_view md5_hex, int64_t size);

}  // namespace docshift::aws::internal
