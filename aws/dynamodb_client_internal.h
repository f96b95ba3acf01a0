// The pure pieces of aws/dynamodb_client.cc — request bodies, response parsing, error
// classification — exposed for unit tests. Not for other callers: use DynamoClient.
//
// Parse* functions take the response body of a 2xx answer; their errors are Corruption
// saying what was missing or malformed (DynamoClient reports them as kBadResponse).
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "aws/dynamodb_client.h"

namespace docshift::aws::internal {

// What an error response says.
struct ErrorInfo {
  std::string aws_type;  // "ResourceNotFoundException": the part after '#', or the XML
                         // <Code>, or the x-amzn-ErrorType header's name; "" when none.
  std::string message;   // First line of message/Message/<Message>, or of the HTML
                         // <title>; at most 300 characters; "" when none.
};

// Parses an error answer: the JSON protocol's {"__type": "...#Type", "message": "..."}
// (also "Message"), an XML <Code>/<Message> (moto's 403 for a bad signature, S3), or an
// HTML page (moto's 500 for a bad iterator: the <title> becomes the message).
// error_type_header: the x-amzn-ErrorType header ("" when none), used when the body
// names no type.
ErrorInfo ParseErrorResponse(std::string_view body, std::string_view error_type_header);

// The kind of a failed answer (http_status > 0) by AWS error type, then HTTP status.
CallErrorKind ClassifyError(int http_status, std::string_view aws_type);

// Throttling, 5xx and network failures: retried inside a call.
bool IsRetryable(CallErrorKind kind);

// "kNotFound" etc., for messages and test output.
const char* CallErrorKindName(CallErrorKind kind);

// The AWS default endpoints for a region: https://dynamodb.REGION.amazonaws.com and
// https://streams.dynamodb.REGION.amazonaws.com (".com.cn" for cn-* regions).
std::string DefaultEndpoint(bool streams, std::string_view region);

// The Scan request body. Errors: InvalidArgument when exclusive_start_key_json is not a
// JSON object, or segment/total_segments/limit are out of range.
StatusOr<std::string> ScanRequestBody(const ScanRequest& request);

StatusOr<TableDescription> ParseDescribeTable(std::string_view json);
StatusOr<ScanPage> ParseScan(std::string_view json);
// One DescribeStream page: fills `out` (shards appended), sets *last_shard_id to
// LastEvaluatedShardId ("" on the last page).
Status ParseDescribeStreamPage(std::string_view json, StreamDescription* out,
                               std::string* last_shard_id);
StatusOr<RecordsPage> ParseGetRecords(std::string_view json);

}  // namespace docshift::aws::internal
