// A small DynamoDB and DynamoDB Streams client: the JSON protocol (POST with
// X-Amz-Target, application/x-amz-json-1.0) over libcurl (aws/http_client.h), signed with
// SigV4 (aws/sigv4.h, signing name "dynamodb" for both services), parsed with RapidJSON.
// Only the calls docshift needs: DescribeTable, Scan, DescribeStream, GetShardIterator,
// GetRecords.
//
// Retries: throttling (ProvisionedThroughputExceededException, ThrottlingException,
// RequestLimitExceeded, LimitExceededException), HTTP 5xx and network errors are retried
// inside each call with util/backoff.h's pacing for up to options.retry_for_ms, stopping
// early when *options.stop is set (Aborted). What is still failing then is returned as
// Unavailable with CallError.kind saying why. Every other error is returned at once.
//
// Errors (Status) are one line naming the call, the table/stream/shard and the endpoint,
// and the AWS error type and message; never the secret key or the session token.
// CallError (optional out-parameter) tells the caller what kind of failure it was, so no
// caller ever matches message text. Status codes by kind: kNetwork/kThrottled/kServer ->
// Unavailable (Aborted when stopped), kNotFound -> NotFound, kAuth/kValidation ->
// InvalidArgument, kExpiredIterator/kTrimmedData -> FailedPrecondition, kBadResponse ->
// Corruption. Arguments refused before any request (a missing sequence number, a GetRecords
// limit outside 0..1000, a Scan start key that is not a JSON object) are InvalidArgument
// with kind kValidation and http_status 0.
//
// Thread safety: a DynamoClient is used by one thread at a time (it owns one HTTP
// connection). Make one per reader thread; they are cheap.
#pragma once

#include <rapidjson/document.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/credentials.h"
#include "aws/dynamodb_types.h"
#include "util/status.h"

namespace docshift::aws {

class HttpClient;

struct DynamoClientOptions {
  std::string region;
  Credentials credentials;
  // Full base URLs ("http://127.0.0.1:5000"); empty: the AWS default for the region
  // (https://dynamodb.REGION.amazonaws.com, https://streams.dynamodb.REGION.amazonaws.com).
  std::string dynamodb_endpoint;
  std::string streams_endpoint;
  int64_t connect_timeout_ms = 10'000;
  int64_t request_timeout_ms = 60'000;
  // How long one call keeps retrying throttling, 5xx and network errors.
  int64_t retry_for_ms = 120'000;
  const std::atomic<bool>* stop = nullptr;
};

// Options from the AWS conventions (aws/credentials.h): credentials, region (region_from_uri
// when not empty), AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_DYNAMODB_STREAMS /
// AWS_ENDPOINT_URL.
StatusOr<DynamoClientOptions> DynamoClientOptionsFromEnv(const EnvLookup& env, std::string_view region_from_uri);

enum class CallErrorKind {
  kNone,
  kNetwork,          // no answer (refused, reset, timeout) after the retries
  kThrottled,        // still throttled after the retries
  kServer,           // 5xx after the retries
  kNotFound,         // ResourceNotFoundException
  kAuth,             // UnrecognizedClientException, InvalidSignatureException,
                     // SignatureDoesNotMatch, AccessDenied*, MissingAuthenticationToken
  kExpiredIterator,  // ExpiredIteratorException
  kTrimmedData,      // TrimmedDataAccessException
  kValidation,       // ValidationException and other 4xx
  kBadResponse,      // a 2xx answer that is not the JSON expected
};

struct CallError {
  CallErrorKind kind = CallErrorKind::kNone;
  std::string aws_type;  // "ExpiredIteratorException" (the part after '#'), or ""
  int http_status = 0;   // 0 when no answer came
};

struct TableDescription {
  std::string name;
  std::string status;  // ACTIVE, CREATING, ...
  KeySchema keys;
  bool stream_enabled = false;
  std::string stream_view_type;  // NEW_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY, OLD_IMAGE, or ""
  std::string latest_stream_arn;  // "" when the table never had a stream
  int64_t item_count = 0;         // DynamoDB's estimate (refreshed about every 6 hours)
  int64_t size_bytes = 0;
};

struct ScanRequest {
  std::string table;
  int segment = 0;
  int total_segments = 1;  // 1: no parallel scan parameters are sent
  // LastEvaluatedKey of the previous page as JSON ("" for the first page).
  std::string exclusive_start_key_json;
  int limit = 0;  // 0: the server's page size (1 MB)
  bool consistent_read = true;
};

struct ScanPage {
  // The parsed response; Items() points into it.
  std::unique_ptr<rapidjson::Document> doc;
  // LastEvaluatedKey as JSON, "" on the last page.
  std::string last_evaluated_key_json;
  double consumed_capacity = 0;  // ConsumedCapacity.CapacityUnits (ReturnConsumedCapacity TOTAL)
  // The Items array (empty array when none).
  const rapidjson::Value& Items() const;
};

struct ShardInfo {
  std::string shard_id;
  std::string parent_shard_id;  // "" when none
  std::string starting_sequence_number;
  std::string ending_sequence_number;  // "" while the shard is open
};

struct StreamDescription {
  std::string stream_arn;
  std::string stream_status;  // ENABLING, ENABLED, DISABLING, DISABLED
  std::string stream_view_type;
  std::string table_name;
  KeySchema keys;
  std::vector<ShardInfo> shards;  // every page of DescribeStream, in the order given
};

enum class IteratorType { kTrimHorizon, kLatest, kAtSequenceNumber, kAfterSequenceNumber };

struct StreamRecord {
  std::string event_name;       // INSERT, MODIFY, REMOVE
  std::string sequence_number;  // dynamodb.SequenceNumber
  // dynamodb.ApproximateCreationDateTime in ms since the epoch (0 when absent).
  int64_t approximate_creation_ms = 0;
  // userIdentity {type: Service, principalId: dynamodb.amazonaws.com}: a TTL delete.
  bool ttl_delete = false;
  // Point into RecordsPage::doc; null when absent.
  const rapidjson::Value* keys = nullptr;
  const rapidjson::Value* new_image = nullptr;
  const rapidjson::Value* old_image = nullptr;
  // The record as received (one element of Records, serialised back to JSON).
  std::string raw_json;
};

struct RecordsPage {
  std::unique_ptr<rapidjson::Document> doc;
  std::vector<StreamRecord> records;
  // NextShardIterator; empty once a closed shard has been read to its end.
  std::string next_iterator;
};

class DynamoClient {
 public:
  // Errors: InvalidArgument for an endpoint URL that does not parse.
  static StatusOr<std::unique_ptr<DynamoClient>> New(DynamoClientOptions options);
  ~DynamoClient();
  DynamoClient(const DynamoClient&) = delete;
  DynamoClient& operator=(const DynamoClient&) = delete;

  StatusOr<TableDescription> DescribeTable(const std::string& table, CallError* err = nullptr);
  StatusOr<ScanPage> Scan(const ScanRequest& request, CallError* err = nullptr);
  // All shards, following LastEvaluatedShardId.
  StatusOr<StreamDescription> DescribeStream(const std::string& stream_arn, CallError* err = nullptr);
  // sequence_number is required for kAt/kAfterSequenceNumber.
  StatusOr<std::string> GetShardIterator(const std::string& stream_arn, const std::string& shard_id,
                                         IteratorType type, const std::string& sequence_number,
                                         CallError* err = nullptr);
  // limit: at most 1,000.
  StatusOr<RecordsPage> GetRecords(const std::string& iterator, int limit, CallError* err = nullptr);

  // "http://127.0.0.1:5000" or "https://dynamodb.us-east-1.amazonaws.com": for messages.
  const std::string& dynamodb_endpoint() const { return dynamodb_endpoint_; }
  const std::string& streams_endpoint() const { return streams_endpoint_; }

 private:
  DynamoClient(DynamoClientOptions options, std::unique_ptr<HttpClient> http);
  // One signed POST with retries; the parsed JSON response on success.
  StatusOr<std::unique_ptr<rapidjson::Document>> Call(bool streams, std::string_view target,
                                                      const std::string& body, const std::string& what,
                                                      CallError* err);

  DynamoClientOptions options_;
  std::string dynamodb_endpoint_, streams_endpoint_;
  std::unique_ptr<HttpClient> http_;
};

}  // namespace docshift::aws
