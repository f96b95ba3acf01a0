#include "aws/dynamodb_client_internal.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <map>
#include <string>

namespace docshift::aws::internal {
namespace {

TEST(ParseErrorResponse, JsonType) {
  auto e = ParseErrorResponse(
      R"({"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"})",
      "");
  EXPECT_EQ(e.aws_type, "ResourceNotFoundException");
  EXPECT_EQ(e.message, "Requested resource not found");
  EXPECT_EQ(ClassifyError(400, e.aws_type), CallErrorKind::kNotFound);
}

TEST(ParseErrorResponse, JsonCapitalMessageAndNoHash) {
  auto e = ParseErrorResponse(R"({"__type":"ExpiredIteratorException","Message":"Iterator expired"})", "");
  EXPECT_EQ(e.aws_type, "ExpiredIteratorException");
  EXPECT_EQ(e.message, "Iterator expired");
  EXPECT_EQ(ClassifyError(400, e.aws_type), CallErrorKind::kExpiredIterator);
}

TEST(ParseErrorResponse, MessageIsOneLineAndBounded) {
  // AWS echoes the canonical request on a signature mismatch: only the first line stays.
  auto e = ParseErrorResponse(
      R"({"__type":"com.amazon.coral.service#InvalidSignatureException","message":"The request signature we calculated does not match.\n\nThe Canonical String for this request should have been\n'POST\n/\n\nx-amz-security-token:SECRET'"})",
      "");
  EXPECT_EQ(e.aws_type, "InvalidSignatureException");
  EXPECT_EQ(e.message, "The request signature we calculated does not match.");
  EXPECT_EQ(ClassifyError(400, e.aws_type), CallErrorKind::kAuth);
  auto long_msg = ParseErrorResponse(R"({"__type":"X","message":")" + std::string(1000, 'a') + "\"}", "");
  EXPECT_LE(long_msg.message.size(), 303u);
}

TEST(ParseErrorResponse, MotoHtml500) {
  auto e = ParseErrorResponse(
      "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server "
      "Error</h1>\n<p>The server encountered an internal error and was unable to complete your "
      "request.</p>\n",
      "");
  EXPECT_EQ(e.aws_type, "");
  EXPECT_EQ(e.message, "500 Internal Server Error");
  EXPECT_EQ(ClassifyError(500, e.aws_type), CallErrorKind::kServer);
  EXPECT_TRUE(IsRetryable(CallErrorKind::kServer));
}

TEST(ParseErrorResponse, Xml403) {
  auto e = ParseErrorResponse(
      R"(<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key &amp; signing method.</Message></Error></Errors><RequestID>x</RequestID></Response>)",
      "");
  EXPECT_EQ(e.aws_type, "SignatureDoesNotMatch");
  EXPECT_EQ(e.message,
            "The request signature we calculated does not match the signature you provided. Check your "
            "AWS Secret Access Key & signing method.");
  EXPECT_EQ(ClassifyError(403, e.aws_type), CallErrorKind::kAuth);
  // moto 5.2.5 with INITIAL_NO_AUTH_ACTION_COUNT=0 and a key IAM does not know.
  auto unknown = ParseErrorResponse(
      R"(<?xml version="1.0" encoding="utf-8"?>
<ErrorResponse><Errors><Error><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message><Type>Sender</Type></Error></Errors></ErrorResponse>)",
      "");
  EXPECT_EQ(unknown.aws_type, "InvalidClientTokenId");
  EXPECT_EQ(unknown.message, "The security token included in the request is invalid.");
  EXPECT_EQ(ClassifyError(403, unknown.aws_type), CallErrorKind::kAuth);
}

TEST(ParseErrorResponse, HeaderTypeWhenBodyHasNone) {
  auto e = ParseErrorResponse("", "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/");
  EXPECT_EQ(e.aws_type, "ThrottlingException");
  EXPECT_EQ(ClassifyError(400, e.aws_type), CallErrorKind::kThrottled);
  EXPECT_EQ(ParseErrorResponse("garbage", "").aws_type, "");
}

TEST(ClassifyError, Table) {
  const std::pair<std::pair<int, const char*>, CallErrorKind> cases[] = {
      {{400, "ProvisionedThroughputExceededException"}, CallErrorKind::kThrottled},
      {{400, "ThrottlingException"}, CallErrorKind::kThrottled},
      {{400, "RequestLimitExceeded"}, CallErrorKind::kThrottled},
      {{400, "LimitExceededException"}, CallErrorKind::kThrottled},
      {{429, ""}, CallErrorKind::kThrottled},
      {{400, "ResourceNotFoundException"}, CallErrorKind::kNotFound},
      {{400, "UnrecognizedClientException"}, CallErrorKind::kAuth},
      {{403, "AccessDeniedException"}, CallErrorKind::kAuth},
      {{400, "MissingAuthenticationTokenException"}, CallErrorKind::kAuth},
      {{403, ""}, CallErrorKind::kAuth},
      {{400, "TrimmedDataAccessException"}, CallErrorKind::kTrimmedData},
      {{400, "ValidationException"}, CallErrorKind::kValidation},
      {{400, "ConditionalCheckFailedException"}, CallErrorKind::kValidation},
      {{404, ""}, CallErrorKind::kValidation},
      {{500, "InternalServerError"}, CallErrorKind::kServer},
      {{503, ""}, CallErrorKind::kServer},
      {{302, ""}, CallErrorKind::kBadResponse},
  };
  for (const auto& [in, want] : cases) {
    EXPECT_EQ(ClassifyError(in.first, in.second), want)
        << in.first << " " << in.second << ": got " << CallErrorKindName(ClassifyError(in.first, in.second));
  }
  EXPECT_TRUE(IsRetryable(CallErrorKind::kNetwork));
  EXPECT_TRUE(IsRetryable(CallErrorKind::kThrottled));
  EXPECT_FALSE(IsRetryable(CallErrorKind::kNotFound));
  EXPECT_FALSE(IsRetryable(CallErrorKind::kValidation));
}

TEST(DefaultEndpoint, Regions) {
  EXPECT_EQ(DefaultEndpoint(false, "us-east-1"), "https://dynamodb.us-east-1.amazonaws.com");
  EXPECT_EQ(DefaultEndpoint(true, "eu-west-3"), "https://streams.dynamodb.eu-west-3.amazonaws.com");
  EXPECT_EQ(DefaultEndpoint(false, "cn-north-1"), "https://dynamodb.cn-north-1.amazonaws.com.cn");
}

TEST(ScanRequestBody, Shapes) {
  ScanRequest r;
  r.table = "orders\"x";  // escaped by the writer, never concatenated
  auto body = ScanRequestBody(r);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(*body, R"({"TableName":"orders\"x","ConsistentRead":true,"ReturnConsumedCapacity":"TOTAL"})");

  r.table = "t";
  r.segment = 2;
  r.total_segments = 4;
  r.limit = 7;
  r.consistent_read = false;
  r.exclusive_start_key_json = R"({"pk": {"S": "a"}})";
  body = ScanRequestBody(r);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(*body,
            R"({"TableName":"t","Segment":2,"TotalSegments":4,"ExclusiveStartKey":{"pk":{"S":"a"}},"Limit":7,)"
            R"("ConsistentRead":false,"ReturnConsumedCapacity":"TOTAL"})");

  r.exclusive_start_key_json = "[1]";
  EXPECT_TRUE(ScanRequestBody(r).status().IsInvalidArgument());
  r.exclusive_start_key_json = "";
  r.segment = 4;
  EXPECT_TRUE(ScanRequestBody(r).status().IsInvalidArgument());
  r.segment = 0;
  r.total_segments = 0;
  EXPECT_TRUE(ScanRequestBody(r).status().IsInvalidArgument());
}

TEST(ParseDescribeTable, HashRangeWithStream) {
  auto t = ParseDescribeTable(R"({"Table":{
    "AttributeDefinitions":[{"AttributeName":"ForumName","AttributeType":"S"},{"AttributeName":"Subject","AttributeType":"S"}],
    "TableName":"Thread","KeySchema":[{"AttributeName":"ForumName","KeyType":"HASH"},{"AttributeName":"Subject","KeyType":"RANGE"}],
    "TableStatus":"ACTIVE","ItemCount":12345678901,"TableSizeBytes":42,
    "StreamSpecification":{"StreamEnabled":true,"StreamViewType":"NEW_AND_OLD_IMAGES"},
    "LatestStreamLabel":"2015-05-20T20:51:10.252",
    "LatestStreamArn":"arn:aws:dynamodb:us-west-2:111122223333:table/Thread/stream/2015-05-20T20:51:10.252"}})");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->name, "Thread");
  EXPECT_EQ(t->status, "ACTIVE");
  EXPECT_EQ(t->keys.hash_name, "ForumName");
  EXPECT_EQ(t->keys.range_name, "Subject");
  EXPECT_TRUE(t->stream_enabled);
  EXPECT_EQ(t->stream_view_type, "NEW_AND_OLD_IMAGES");
  EXPECT_EQ(t->latest_stream_arn, "arn:aws:dynamodb:us-west-2:111122223333:table/Thread/stream/2015-05-20T20:51:10.252");
  EXPECT_EQ(t->item_count, 12345678901);
  EXPECT_EQ(t->size_bytes, 42);
}

TEST(ParseDescribeTable, HashOnlyNoStreamAndBadShapes) {
  auto t = ParseDescribeTable(R"({"Table":{"TableName":"t","KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],"TableStatus":"CREATING"}})");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->keys.hash_name, "id");
  EXPECT_EQ(t->keys.range_name, "");
  EXPECT_FALSE(t->stream_enabled);
  EXPECT_EQ(t->latest_stream_arn, "");
  for (const char* bad : {"", "[]", "{}", R"({"Table":{}})", R"({"Table":{"KeySchema":[{"AttributeName":"x","KeyType":"RANGE"}]}})",
                          R"({"Table":{"KeySchema":[{"AttributeName":"x","KeyType":"OTHER"}]}})"}) {
    EXPECT_TRUE(ParseDescribeTable(bad).status().IsCorruption()) << bad;
  }
}

TEST(ParseScan, ItemsKeyAndCapacity) {
  auto p = ParseScan(R"({"Items":[{"pk":{"S":"a"}},{"pk":{"S":"b"}}],"Count":2,"ScannedCount":2,
      "LastEvaluatedKey":{"pk":{"S":"b"}},"ConsumedCapacity":{"TableName":"t","CapacityUnits":0.5}})");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->Items().Size(), 2u);
  EXPECT_EQ(p->last_evaluated_key_json, R"({"pk":{"S":"b"}})");
  EXPECT_DOUBLE_EQ(p->consumed_capacity, 0.5);
  auto last = ParseScan(R"({"Count":0,"ScannedCount":0})");
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(last->Items().IsArray());
  EXPECT_EQ(last->Items().Size(), 0u);
  EXPECT_EQ(last->last_evaluated_key_json, "");
  EXPECT_TRUE(ParseScan(R"({"Items":{}})").status().IsCorruption());
}

TEST(ParseDescribeStreamPage, ShardsAndPaging) {
  StreamDescription d;
  std::string last;
  ASSERT_TRUE(ParseDescribeStreamPage(R"({"StreamDescription":{
      "StreamArn":"arn:s","StreamStatus":"ENABLED","StreamViewType":"NEW_IMAGE","TableName":"Forum",
      "KeySchema":[{"AttributeName":"ForumName","KeyType":"HASH"},{"AttributeName":"Subject","KeyType":"RANGE"}],
      "Shards":[{"ShardId":"shardId-1","SequenceNumberRange":{"StartingSequenceNumber":"100","EndingSequenceNumber":"200"}},
                {"ShardId":"shardId-2","ParentShardId":"shardId-1","SequenceNumberRange":{"StartingSequenceNumber":"300"}}],
      "LastEvaluatedShardId":"shardId-2"}})",
                                      &d, &last)
                  .ok());
  EXPECT_EQ(last, "shardId-2");
  ASSERT_TRUE(ParseDescribeStreamPage(R"({"StreamDescription":{"StreamArn":"arn:s","StreamStatus":"ENABLED",
      "Shards":[{"ShardId":"shardId-3","ParentShardId":"shardId-2","SequenceNumberRange":{"StartingSequenceNumber":"400"}}]}})",
                                      &d, &last)
                  .ok());
  EXPECT_EQ(last, "");
  EXPECT_EQ(d.stream_arn, "arn:s");
  EXPECT_EQ(d.table_name, "Forum");
  EXPECT_EQ(d.keys.range_name, "Subject");
  ASSERT_EQ(d.shards.size(), 3u);
  EXPECT_EQ(d.shards[0].ending_sequence_number, "200");
  EXPECT_EQ(d.shards[1].parent_shard_id, "shardId-1");
  EXPECT_EQ(d.shards[1].ending_sequence_number, "");
  EXPECT_EQ(d.shards[2].starting_sequence_number, "400");
}

// The shape of the GetRecords example in the DynamoDB Streams API reference
// (API_streams_GetRecords), plus a TTL delete (userIdentity) as Lambda documents it.
constexpr char kGetRecordsDocs[] = R"({
  "NextShardIterator": "arn:aws:dynamodb:us-west-2:111122223333:table/Forum/stream/2015-05-20T20:51:10.252|1|AAAAAAAAAAGQBYshYDEe",
  "Records": [
    {"awsRegion": "us-west-2",
     "dynamodb": {"ApproximateCreationDateTime": 1.46480646E9,
                  "Keys": {"ForumName": {"S": "DynamoDB"}, "Subject": {"S": "DynamoDB Thread 3"}},
                  "SequenceNumber": "300000000000000499659", "SizeBytes": 41, "StreamViewType": "KEYS_ONLY"},
     "eventID": "e2fd9c34eff2d779b297b26f5fef4206", "eventName": "INSERT", "eventSource": "aws:dynamodb",
     "eventVersion": "1.0"},
    {"awsRegion": "us-west-2",
     "dynamodb": {"ApproximateCreationDateTime": 1.464806461234E9,
                  "Keys": {"ForumName": {"S": "DynamoDB"}, "Subject": {"S": "DynamoDB Thread 1"}},
                  "NewImage": {"ForumName": {"S": "DynamoDB"}, "Views": {"N": "2"}},
                  "OldImage": {"ForumName": {"S": "DynamoDB"}, "Views": {"N": "1"}},
                  "SequenceNumber": "400000000000000499660", "SizeBytes": 41, "StreamViewType": "NEW_AND_OLD_IMAGES"},
     "eventID": "4b25bd0da9a181a155114127e4837252", "eventName": "MODIFY", "eventSource": "aws:dynamodb",
     "eventVersion": "1.0"},
    {"awsRegion": "us-west-2",
     "dynamodb": {"ApproximateCreationDateTime": 1464806462,
                  "Keys": {"ForumName": {"S": "DynamoDB"}, "Subject": {"S": "DynamoDB Thread 2"}},
                  "OldImage": {"ForumName": {"S": "DynamoDB"}},
                  "SequenceNumber": "500000000000000499661", "SizeBytes": 41, "StreamViewType": "NEW_AND_OLD_IMAGES"},
     "eventID": "740280c73a3df7842edab3548a1b08ad", "eventName": "REMOVE", "eventSource": "aws:dynamodb",
     "eventVersion": "1.0",
     "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"}}
  ]
})";

TEST(ParseGetRecords, DocsExample) {
  auto p = ParseGetRecords(kGetRecordsDocs);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->next_iterator,
            "arn:aws:dynamodb:us-west-2:111122223333:table/Forum/stream/2015-05-20T20:51:10.252|1|AAAAAAAAAAGQBYshYDEe");
  ASSERT_EQ(p->records.size(), 3u);
  const StreamRecord& ins = p->records[0];
  EXPECT_EQ(ins.event_name, "INSERT");
  EXPECT_EQ(ins.sequence_number, "300000000000000499659");
  EXPECT_EQ(ins.approximate_creation_ms, 1464806460000);
  ASSERT_NE(ins.keys, nullptr);
  EXPECT_STREQ((*ins.keys)["Subject"]["S"].GetString(), "DynamoDB Thread 3");
  EXPECT_EQ(ins.new_image, nullptr);
  EXPECT_EQ(ins.old_image, nullptr);
  EXPECT_FALSE(ins.ttl_delete);

  const StreamRecord& mod = p->records[1];
  EXPECT_EQ(mod.event_name, "MODIFY");
  EXPECT_EQ(mod.approximate_creation_ms, 1464806461234);
  ASSERT_NE(mod.new_image, nullptr);
  ASSERT_NE(mod.old_image, nullptr);
  EXPECT_STREQ((*mod.new_image)["Views"]["N"].GetString(), "2");
  EXPECT_STREQ((*mod.old_image)["Views"]["N"].GetString(), "1");

  const StreamRecord& rem = p->records[2];
  EXPECT_EQ(rem.event_name, "REMOVE");
  EXPECT_EQ(rem.approximate_creation_ms, 1464806462000);
  EXPECT_TRUE(rem.ttl_delete);
  EXPECT_EQ(rem.new_image, nullptr);

  // raw_json is the record serialised back: it parses to the same value.
  for (size_t i = 0; i < p->records.size(); ++i) {
    rapidjson::Document back;
    back.Parse(p->records[i].raw_json.c_str());
    ASSERT_FALSE(back.HasParseError()) << p->records[i].raw_json;
    EXPECT_TRUE(back == (*p->doc)["Records"][static_cast<rapidjson::SizeType>(i)]) << p->records[i].raw_json;
  }
  EXPECT_NE(p->records[2].raw_json.find(R"("userIdentity":{"type":"Service")"), std::string::npos);
}

TEST(ParseGetRecords, EndOfClosedShardAndBadShapes) {
  auto p = ParseGetRecords(R"({"Records":[]})");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->next_iterator, "");
  EXPECT_TRUE(p->records.empty());
  auto n = ParseGetRecords(R"({"Records":[],"NextShardIterator":null})");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->next_iterator, "");
  for (const char* bad : {"<html>", R"({"Records":{}})", R"({"Records":[1]})",
                          R"({"Records":[{"eventName":"INSERT"}]})",
                          R"({"Records":[{"eventName":"INSERT","dynamodb":{}}]})",
                          R"({"Records":[{"dynamodb":{"SequenceNumber":"1"}}]})"}) {
    auto b = ParseGetRecords(bad);
    EXPECT_TRUE(b.status().IsCorruption()) << bad << ": " << b.status().ToString();
  }
  // A user delete (no userIdentity) and a userIdentity that is not the TTL service.
  auto u = ParseGetRecords(R"({"Records":[{"eventName":"REMOVE","dynamodb":{"SequenceNumber":"1"},
      "userIdentity":{"type":"Service","principalId":"other.amazonaws.com"}}]})");
  ASSERT_TRUE(u.ok());
  EXPECT_FALSE(u->records[0].ttl_delete);
  EXPECT_EQ(u->records[0].approximate_creation_ms, 0);
}

TEST(DynamoClientOptionsFromEnv, EndpointsRegionCredentials) {
  auto o = DynamoClientOptionsFromEnv(MapEnv({{"AWS_ACCESS_KEY_ID", "AKID"},
                                              {"AWS_SECRET_ACCESS_KEY", "SECRET"},
                                              {"AWS_REGION", "eu-west-1"},
                                              {"AWS_ENDPOINT_URL", "http://127.0.0.1:1"},
                                              {"AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:2"},
                                              {"AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"},
                                              {"AWS_CONFIG_FILE", "/nonexistent"}}),
                                      "");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->region, "eu-west-1");
  EXPECT_EQ(o->credentials.access_key_id, "AKID");
  EXPECT_EQ(o->dynamodb_endpoint, "http://127.0.0.1:2");
  EXPECT_EQ(o->streams_endpoint, "http://127.0.0.1:1");  // no _STREAMS: AWS_ENDPOINT_URL

  auto uri_region = DynamoClientOptionsFromEnv(
      MapEnv({{"AWS_ACCESS_KEY_ID", "AKID"}, {"AWS_SECRET_ACCESS_KEY", "SECRET"}, {"AWS_REGION", "eu-west-1"}}),
      "ap-south-1");
  ASSERT_TRUE(uri_region.ok());
  EXPECT_EQ(uri_region->region, "ap-south-1");
  EXPECT_EQ(uri_region->dynamodb_endpoint, "");

  auto no_creds = DynamoClientOptionsFromEnv(
      MapEnv({{"AWS_REGION", "eu-west-1"}, {"AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"},
              {"AWS_CONFIG_FILE", "/nonexistent"}, {"HOME", "/nonexistent"}}),
      "");
  EXPECT_FALSE(no_creds.ok());
}

TEST(DynamoClientNew, BadEndpointIsInvalidArgument) {
  DynamoClientOptions o;
  o.region = "us-east-1";
  o.credentials.access_key_id = "a";
  o.credentials.secret_access_key = "b";
  o.dynamodb_endpoint = "127.0.0.1:8000";
  auto c = DynamoClient::New(o);
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.status().IsInvalidArgument()) << c.status().ToString();
  o.dynamodb_endpoint = "";
  auto d = DynamoClient::New(o);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ((*d)->dynamodb_endpoint(), "https://dynamodb.us-east-1.amazonaws.com");
  EXPECT_EQ((*d)->streams_endpoint(), "https://streams.dynamodb.us-east-1.amazonaws.com");
}

}  // namespace
}  // namespace docshift::aws::internal
