// DynamoClient against a real moto server (never a mock). The server comes from
// DYNAMODB_URL (scripts/testbed.sh up writes it to build/testbed.env); unset: exit 77
// (ctest: skipped), or fail when CI is set. Credentials: AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY when set, else "testing" (moto accepts any).
//
// The product client has no CreateTable/PutItem; the setup here signs and POSTs them
// itself through HttpClient + SignRequest (test-only code). Every table is named with a
// per-run prefix and deleted at the end, so runs against one server do not collide.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "aws/dynamodb_client.h"
#include "aws/aws_test_util.h"
#include "aws/http_client.h"
#include "aws/sigv4.h"
#include "util/test_util.h"

namespace docshift::aws {
namespace {

std::string g_url;  // DYNAMODB_URL

using test::TestCredentials;

DynamoClientOptions TestOptions() {
  DynamoClientOptions o;
  o.region = "us-east-1";
  o.credentials = TestCredentials();
  o.dynamodb_endpoint = g_url;
  o.streams_endpoint = g_url;
  o.retry_for_ms = 5000;
  return o;
}

std::unique_ptr<DynamoClient> NewClient(DynamoClientOptions o = TestOptions()) {
  auto c = DynamoClient::New(std::move(o));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

std::string RunPrefix() {
  static const std::string prefix = "dsdy" + test::RunTag() + "_";
  return prefix;
}

// Test-only setup calls: any DynamoDB operation, signed, through HttpClient.
class RawDynamo {
 public:
  RawDynamo() {
    auto h = HttpClient::New();
    EXPECT_TRUE(h.ok());
    http_ = std::move(h).value();
    auto ep = ParseEndpoint(g_url);
    EXPECT_TRUE(ep.ok()) << ep.status().ToString();
    ep_ = *ep;
  }

  // Returns the response body; fails the test unless HTTP 200.
  std::string Call(const std::string& op, const std::string& body) {
    Headers headers = {{"Host", ep_.HostHeader()},
                       {"Content-Type", "application/x-amz-json-1.0"},
                       {"X-Amz-Target", "DynamoDB_20120810." + op}};
    SigningOptions so;
    so.region = "us-east-1";
    so.service = "dynamodb";
    so.time = std::chrono::system_clock::now();
    auto s = SignRequest(HttpRequest{"POST", "/", "", headers, body}, TestCredentials(), so);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return "";
    for (auto& h : s->headers_to_add) headers.push_back(h);
    auto r = http_->Send(ep_, "POST", "/", "", headers, body);
    EXPECT_TRUE(r.ok()) << op << ": " << r.status().ToString();
    if (!r.ok()) return "";
    EXPECT_EQ(r->status, 200) << op << " " << body << ": " << r->body;
    return r->body;
  }

  // A table with a string hash key `pk`, optionally a number range key `sk` and a stream.
  void CreateTable(const std::string& name, bool range, const char* stream_view = nullptr) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    w.Key("TableName");
    w.String(name.c_str());
    w.Key("BillingMode");
    w.String("PAY_PER_REQUEST");
    w.Key("KeySchema");
    w.StartArray();
    w.StartObject();
    w.Key("AttributeName");
    w.String("pk");
    w.Key("KeyType");
    w.String("HASH");
    w.EndObject();
    if (range) {
      w.StartObject();
      w.Key("AttributeName");
      w.String("sk");
      w.Key("KeyType");
      w.String("RANGE");
      w.EndObject();
    }
    w.EndArray();
    w.Key("AttributeDefinitions");
    w.StartArray();
    w.StartObject();
    w.Key("AttributeName");
    w.String("pk");
    w.Key("AttributeType");
    w.String("S");
    w.EndObject();
    if (range) {
      w.StartObject();
      w.Key("AttributeName");
      w.String("sk");
      w.Key("AttributeType");
      w.String("N");
      w.EndObject();
    }
    w.EndArray();
    if (stream_view != nullptr) {
      w.Key("StreamSpecification");
      w.StartObject();
      w.Key("StreamEnabled");
      w.Bool(true);
      w.Key("StreamViewType");
      w.String(stream_view);
      w.EndObject();
    }
    w.EndObject();
    Call("CreateTable", buf.GetString());
    created_.insert(name);
  }

  // item_json: the Item object ({"pk": {"S": "a"}, ...}).
  void Put(const std::string& table, const std::string& item_json) {
    Call("PutItem", Wrap(table, "Item", item_json));
  }
  void Delete(const std::string& table, const std::string& key_json) {
    Call("DeleteItem", Wrap(table, "Key", key_json));
  }
  // SET v = :v on the item with key_json.
  void UpdateV(const std::string& table, const std::string& key_json, int v) {
    rapidjson::Document key;
    key.Parse(key_json.c_str());
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    w.Key("TableName");
    w.String(table.c_str());
    w.Key("Key");
    key.Accept(w);
    w.Key("UpdateExpression");
    w.String("SET v = :v");
    w.Key("ExpressionAttributeValues");
    w.StartObject();
    w.Key(":v");
    w.StartObject();
    w.Key("N");
    w.String(std::to_string(v).c_str());
    w.EndObject();
    w.EndObject();
    w.EndObject();
    Call("UpdateItem", buf.GetString());
  }

  ~RawDynamo() {
    for (const auto& t : created_) Call("DeleteTable", Wrap(t, nullptr, ""));
  }

 private:
  static std::string Wrap(const std::string& table, const char* key, const std::string& value_json) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    w.Key("TableName");
    w.String(table.c_str());
    if (key != nullptr) {
      rapidjson::Document v;
      v.Parse(value_json.c_str());
      EXPECT_FALSE(v.HasParseError()) << value_json;
      w.Key(key);
      v.Accept(w);
    }
    w.EndObject();
    return buf.GetString();
  }

  std::unique_ptr<HttpClient> http_;
  Endpoint ep_;
  std::set<std::string> created_;
};

std::string ItemS(const std::string& pk, int v) {
  return R"({"pk":{"S":")" + pk + R"("},"v":{"N":")" + std::to_string(v) + R"("}})";
}

using test_util::UnusedPort;

TEST(DynamoClient, DescribeTableHashOnlyAndHashRangeWithStream) {
  RawDynamo setup;
  const std::string hash = RunPrefix() + "hash", hr = RunPrefix() + "hr";
  setup.CreateTable(hash, false);
  setup.CreateTable(hr, true, "NEW_AND_OLD_IMAGES");
  for (int i = 0; i < 3; ++i) setup.Put(hash, ItemS("k" + std::to_string(i), i));
  auto client = NewClient();
  ASSERT_NE(client, nullptr);

  CallError err;
  auto t = client->DescribeTable(hash, &err);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(err.kind, CallErrorKind::kNone);
  EXPECT_EQ(err.http_status, 200);
  EXPECT_EQ(t->name, hash);
  EXPECT_EQ(t->status, "ACTIVE");
  EXPECT_EQ(t->keys.hash_name, "pk");
  EXPECT_EQ(t->keys.range_name, "");
  EXPECT_FALSE(t->stream_enabled);
  EXPECT_EQ(t->latest_stream_arn, "");
  EXPECT_EQ(t->item_count, 3);  // moto counts live; AWS refreshes about every 6 hours
  EXPECT_GE(t->size_bytes, 0);  // moto always answers TableSizeBytes 0

  auto r = client->DescribeTable(hr, &err);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->keys.hash_name, "pk");
  EXPECT_EQ(r->keys.range_name, "sk");
  EXPECT_TRUE(r->stream_enabled);
  EXPECT_EQ(r->stream_view_type, "NEW_AND_OLD_IMAGES");
  EXPECT_NE(r->latest_stream_arn.find(":table/" + hr + "/stream/"), std::string::npos) << r->latest_stream_arn;
  EXPECT_EQ(r->item_count, 0);
}

TEST(DynamoClient, MissingTableIsNotFound) {
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  const std::string name = RunPrefix() + "missing";
  CallError err;
  auto t = client->DescribeTable(name, &err);
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(t.status().IsNotFound()) << t.status().ToString();
  EXPECT_EQ(err.kind, CallErrorKind::kNotFound);
  EXPECT_EQ(err.aws_type, "ResourceNotFoundException");
  EXPECT_EQ(err.http_status, 400);
  const std::string want = "DynamoDB DescribeTable on table '" + name + "' at " + client->dynamodb_endpoint() +
                           ": ResourceNotFoundException: ";
  EXPECT_TRUE(t.status().message().starts_with(want)) << t.status().message();
  EXPECT_EQ(t.status().message().find('\n'), std::string::npos);
}

TEST(DynamoClient, ParallelScanReturnsEveryItemOnceWithPaging) {
  RawDynamo setup;
  const std::string table = RunPrefix() + "scan";
  setup.CreateTable(table, false);
  constexpr int kItems = 60;
  for (int i = 0; i < kItems; ++i) setup.Put(table, ItemS("item-" + std::to_string(i), i));
  auto client = NewClient();
  ASSERT_NE(client, nullptr);

  std::map<std::string, int> seen;
  int nonempty_segments = 0, pages = 0;
  for (int seg = 0; seg < 4; ++seg) {
    ScanRequest req;
    req.table = table;
    req.segment = seg;
    req.total_segments = 4;
    req.limit = 7;
    int in_segment = 0;
    for (int guard = 0; guard < 100; ++guard) {
      CallError err;
      auto page = client->Scan(req, &err);
      ASSERT_TRUE(page.ok()) << page.status().ToString();
      ++pages;
      ASSERT_TRUE(page->Items().IsArray());
      EXPECT_LE(page->Items().Size(), 7u);
      for (const auto& item : page->Items().GetArray()) {
        ++seen[item["pk"]["S"].GetString()];
        ++in_segment;
      }
      EXPECT_GE(page->consumed_capacity, 0);
      if (page->last_evaluated_key_json.empty()) break;
      req.exclusive_start_key_json = page->last_evaluated_key_json;
    }
    if (in_segment > 0) ++nonempty_segments;
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kItems));
  for (const auto& [pk, n] : seen) EXPECT_EQ(n, 1) << pk;
  EXPECT_GE(nonempty_segments, 2) << "the server ignored Segment/TotalSegments";
  EXPECT_GE(pages, kItems / 7);

  // One unsegmented scan sees the same items.
  ScanRequest all;
  all.table = table;
  auto page = client->Scan(all);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->Items().Size(), static_cast<size_t>(kItems));
  EXPECT_EQ(page->last_evaluated_key_json, "");
}

TEST(DynamoClient, StreamInsertModifyRemove) {
  RawDynamo setup;
  const std::string table = RunPrefix() + "stream";
  setup.CreateTable(table, true, "NEW_AND_OLD_IMAGES");
  const std::string key = R"({"pk":{"S":"a"},"sk":{"N":"1"}})";
  setup.Put(table, R"({"pk":{"S":"a"},"sk":{"N":"1"},"v":{"N":"1"}})");
  setup.UpdateV(table, key, 2);
  setup.Delete(table, key);
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();

  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  auto t = client->DescribeTable(table);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_FALSE(t->latest_stream_arn.empty());

  auto d = client->DescribeStream(t->latest_stream_arn);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->stream_arn, t->latest_stream_arn);
  EXPECT_EQ(d->stream_status, "ENABLED");
  EXPECT_EQ(d->stream_view_type, "NEW_AND_OLD_IMAGES");
  EXPECT_EQ(d->table_name, table);
  EXPECT_EQ(d->keys.hash_name, "pk");
  EXPECT_EQ(d->keys.range_name, "sk");
  ASSERT_EQ(d->shards.size(), 1u);
  const ShardInfo& shard = d->shards[0];
  EXPECT_FALSE(shard.shard_id.empty());
  EXPECT_FALSE(shard.starting_sequence_number.empty());
  EXPECT_EQ(shard.ending_sequence_number, "");

  auto it = client->GetShardIterator(d->stream_arn, shard.shard_id, IteratorType::kTrimHorizon, "");
  ASSERT_TRUE(it.ok()) << it.status().ToString();
  auto page = client->GetRecords(*it, 1000);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->records.size(), 3u);
  EXPECT_FALSE(page->next_iterator.empty());
  const StreamRecord &ins = page->records[0], &mod = page->records[1], &rem = page->records[2];
  EXPECT_EQ(ins.event_name, "INSERT");
  EXPECT_EQ(mod.event_name, "MODIFY");
  EXPECT_EQ(rem.event_name, "REMOVE");
  ASSERT_NE(ins.keys, nullptr);
  EXPECT_STREQ((*ins.keys)["pk"]["S"].GetString(), "a");
  EXPECT_STREQ((*ins.keys)["sk"]["N"].GetString(), "1");
  ASSERT_NE(ins.new_image, nullptr);
  EXPECT_EQ(ins.old_image, nullptr);
  EXPECT_STREQ((*ins.new_image)["v"]["N"].GetString(), "1");
  ASSERT_NE(mod.new_image, nullptr);
  ASSERT_NE(mod.old_image, nullptr);
  EXPECT_STREQ((*mod.old_image)["v"]["N"].GetString(), "1");
  EXPECT_STREQ((*mod.new_image)["v"]["N"].GetString(), "2");
  EXPECT_EQ(rem.new_image, nullptr);
  ASSERT_NE(rem.old_image, nullptr);
  EXPECT_STREQ((*rem.old_image)["v"]["N"].GetString(), "2");
  for (const auto& r : page->records) {
    EXPECT_FALSE(r.ttl_delete);
    EXPECT_NEAR(static_cast<double>(r.approximate_creation_ms), static_cast<double>(now_ms), 60'000.0);
    EXPECT_NE(r.raw_json.find("\"eventName\":\"" + r.event_name + "\""), std::string::npos) << r.raw_json;
    rapidjson::Document back;
    back.Parse(r.raw_json.c_str());
    EXPECT_FALSE(back.HasParseError());
  }
  // Sequence numbers are decimal strings: compare by length, then text.
  auto seq_less = [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  };
  EXPECT_TRUE(seq_less(ins.sequence_number, mod.sequence_number));
  EXPECT_TRUE(seq_less(mod.sequence_number, rem.sequence_number));

  // The next iterator, with nothing new, reads nothing.
  auto empty = client->GetRecords(page->next_iterator, 1000);
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->records.empty());

  // AFTER_SEQUENCE_NUMBER resumes after a record; AT_SEQUENCE_NUMBER at it.
  auto after = client->GetShardIterator(d->stream_arn, shard.shard_id, IteratorType::kAfterSequenceNumber,
                                        ins.sequence_number);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  auto rest = client->GetRecords(*after, 1000);
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  ASSERT_EQ(rest->records.size(), 2u);
  EXPECT_EQ(rest->records[0].sequence_number, mod.sequence_number);
  EXPECT_EQ(rest->records[1].sequence_number, rem.sequence_number);
  auto at = client->GetShardIterator(d->stream_arn, shard.shard_id, IteratorType::kAtSequenceNumber,
                                     mod.sequence_number);
  ASSERT_TRUE(at.ok()) << at.status().ToString();
  auto one = client->GetRecords(*at, 1);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  ASSERT_EQ(one->records.size(), 1u);
  EXPECT_EQ(one->records[0].event_name, "MODIFY");
  auto two = client->GetRecords(one->next_iterator, 1);
  ASSERT_TRUE(two.ok()) << two.status().ToString();
  ASSERT_EQ(two->records.size(), 1u);
  EXPECT_EQ(two->records[0].event_name, "REMOVE");

  // A sequence number is required for AFTER/AT.
  CallError err;
  auto missing = client->GetShardIterator(d->stream_arn, shard.shard_id, IteratorType::kAfterSequenceNumber, "", &err);
  EXPECT_TRUE(missing.status().IsInvalidArgument()) << missing.status().ToString();
  EXPECT_EQ(err.kind, CallErrorKind::kValidation);
}

// moto answers an unknown iterator with HTTP 500 and an HTML page (AWS: a 400
// ValidationException): retried as a server error, then Unavailable/kServer.
TEST(DynamoClient, MotoBadIteratorIsServerErrorAfterRetries) {
  DynamoClientOptions o = TestOptions();
  o.retry_for_ms = 400;
  auto client = NewClient(o);
  ASSERT_NE(client, nullptr);
  CallError err;
  auto p = client->GetRecords("arn:aws:dynamodb:us-east-1:123456789012:table/none/stream/x|1|bogus", 10, &err);
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(p.status().IsUnavailable()) << p.status().ToString();
  EXPECT_EQ(err.kind, CallErrorKind::kServer);
  EXPECT_EQ(err.http_status, 500);
  EXPECT_NE(p.status().message().find("HTTP 500"), std::string::npos) << p.status().ToString();
  EXPECT_EQ(p.status().message().find('\n'), std::string::npos);
}

TEST(DynamoClient, ConnectionRefusedIsUnavailableQuickly) {
  DynamoClientOptions o = TestOptions();
  o.dynamodb_endpoint = "http://127.0.0.1:" + std::to_string(UnusedPort());
  o.retry_for_ms = 300;
  o.credentials.session_token = "SESSIONTOKENVALUE";
  auto client = NewClient(o);
  ASSERT_NE(client, nullptr);
  const auto start = std::chrono::steady_clock::now();
  CallError err;
  auto t = client->DescribeTable("orders", &err);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(t.status().IsUnavailable()) << t.status().ToString();
  EXPECT_EQ(err.kind, CallErrorKind::kNetwork);
  EXPECT_EQ(err.http_status, 0);
  EXPECT_LT(ms, 3000);
  EXPECT_TRUE(t.status().message().starts_with("DynamoDB DescribeTable on table 'orders' at " + o.dynamodb_endpoint))
      << t.status().message();
  EXPECT_EQ(t.status().message().find("SESSIONTOKENVALUE"), std::string::npos);
  EXPECT_EQ(t.status().message().find(o.credentials.secret_access_key + "/"), std::string::npos);
  EXPECT_EQ(t.status().message().find("Signature="), std::string::npos);
}

TEST(DynamoClient, StopEndsRetriesWithAborted) {
  std::atomic<bool> stop{false};
  DynamoClientOptions o = TestOptions();
  o.dynamodb_endpoint = "http://127.0.0.1:" + std::to_string(UnusedPort());
  o.retry_for_ms = 60'000;
  o.stop = &stop;
  auto client = NewClient(o);
  ASSERT_NE(client, nullptr);
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop = true;
  });
  const auto start = std::chrono::steady_clock::now();
  CallError err;
  auto t = client->DescribeTable("orders", &err);
  stopper.join();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(t.status().IsAborted()) << t.status().ToString();
  EXPECT_EQ(err.kind, CallErrorKind::kNetwork);
  EXPECT_LT(ms, 3000);
}

}  // namespace
}  // namespace docshift::aws

int main(int argc, char** argv) {
  docshift::aws::g_url = docshift::aws::test::ServerUrl("DYNAMODB_URL");
  if (docshift::aws::g_url.empty()) return docshift::aws::test::SkipOrFail();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
