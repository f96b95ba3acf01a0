// DynamoDB Streams records through the source's conversion, the writer's namespace rule
// and apply's translation. The records follow the GetRecords response in
// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_GetRecords.html
// (eventName, dynamodb.{ApproximateCreationDateTime, Keys, NewImage, OldImage,
// SequenceNumber}, userIdentity for TTL deletes:
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/time-to-live-ttl-streams.html).
#include "capture/dynamodb_source.h"

#include <gtest/gtest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "apply/translate.h"
#include "mongo/mongo_util.h"

namespace docshift::capture {
namespace {

struct Parsed {
  rapidjson::Document doc;
  aws::StreamRecord rec;
};

std::unique_ptr<Parsed> Record(const char* json) {
  auto p = std::make_unique<Parsed>();
  p->doc.Parse(json);
  EXPECT_FALSE(p->doc.HasParseError()) << json;
  const auto& r = p->doc;
  p->rec.event_name = r["eventName"].GetString();
  const auto& d = r["dynamodb"];
  p->rec.sequence_number = d["SequenceNumber"].GetString();
  p->rec.approximate_creation_ms = static_cast<int64_t>(d["ApproximateCreationDateTime"].GetDouble() * 1000);
  if (d.HasMember("Keys")) p->rec.keys = &d["Keys"];
  if (d.HasMember("NewImage")) p->rec.new_image = &d["NewImage"];
  if (d.HasMember("OldImage")) p->rec.old_image = &d["OldImage"];
  p->rec.ttl_delete = r.HasMember("userIdentity") &&
                      std::string(r["userIdentity"]["principalId"].GetString()) == "dynamodb.amazonaws.com";
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  r.Accept(w);
  p->rec.raw_json = sb.GetString();
  return p;
}

const aws::KeySchema kKeys{"pk", "sk"};

std::string Json(const std::string& bytes) {
  bson_t b;
  EXPECT_TRUE(mongo::ViewBytes(bytes, &b));
  return mongo::ToJson(&b);
}

TEST(StreamRecordToEvent, InsertModifyRemove) {
  auto ins = Record(R"({"eventID": "1", "eventName": "INSERT", "eventSource": "aws:dynamodb",
      "dynamodb": {"ApproximateCreationDateTime": 1700000000.5, "SequenceNumber": "111",
                   "Keys": {"pk": {"S": "a"}, "sk": {"N": "7"}},
                   "NewImage": {"pk": {"S": "a"}, "sk": {"N": "7"}, "qty": {"N": "12345678901"},
                                "price": {"N": "1.5"}, "tags": {"SS": ["z", "b"]}},
                   "StreamViewType": "NEW_AND_OLD_IMAGES"}})");
  pb::ChangeEvent ev;
  bool skip = true;
  ASSERT_TRUE(StreamRecordToEvent(ins->rec, "orders", kKeys, false, &ev, &skip).ok());
  EXPECT_FALSE(skip);
  EXPECT_EQ(ev.op(), pb::OP_INSERT);
  EXPECT_EQ(ev.db(), "dynamodb");
  EXPECT_EQ(ev.coll(), "orders");
  EXPECT_EQ(ev.wall_time_ms(), 1700000000500);
  EXPECT_EQ(ev.cluster_time() >> 32, 1700000000u);
  EXPECT_EQ(Json(ev.document_key()), R"({ "_id" : { "pk" : "a", "sk" : 7 } })");
  EXPECT_NE(Json(ev.full_document()).find(R"("qty" : 12345678901)"), std::string::npos) << Json(ev.full_document());
  EXPECT_NE(Json(ev.full_document()).find(R"("tags" : [ "b", "z" ])"), std::string::npos);
  EXPECT_EQ(ev.source_record(), ins->rec.raw_json);
  EXPECT_TRUE(ev.conversion_error().empty());
  apply::DocWrite w;
  ASSERT_TRUE(apply::Translate(ev, &w).ok());

  auto mod = Record(R"({"eventName": "MODIFY", "dynamodb": {"ApproximateCreationDateTime": 1700000001,
      "SequenceNumber": "112", "Keys": {"pk": {"S": "a"}, "sk": {"N": "7"}},
      "NewImage": {"pk": {"S": "a"}, "sk": {"N": "7"}, "qty": {"N": "1"}},
      "OldImage": {"pk": {"S": "a"}, "sk": {"N": "7"}, "qty": {"N": "12345678901"}}}})");
  ASSERT_TRUE(StreamRecordToEvent(mod->rec, "orders", kKeys, false, &ev, &skip).ok());
  EXPECT_EQ(ev.op(), pb::OP_REPLACE) << "a MODIFY is the whole new image";
  EXPECT_NE(Json(ev.full_document()).find(R"("qty" : 1 })"), std::string::npos) << Json(ev.full_document());
  ASSERT_TRUE(apply::Translate(ev, &w).ok());

  auto rem = Record(R"({"eventName": "REMOVE", "dynamodb": {"ApproximateCreationDateTime": 1700000002,
      "SequenceNumber": "113", "Keys": {"pk": {"S": "a"}, "sk": {"N": "7"}}}})");
  ASSERT_TRUE(StreamRecordToEvent(rem->rec, "orders", kKeys, false, &ev, &skip).ok());
  EXPECT_EQ(ev.op(), pb::OP_DELETE);
  EXPECT_EQ(Json(ev.document_key()), R"({ "_id" : { "pk" : "a", "sk" : 7 } })");
  EXPECT_TRUE(ev.full_document().empty());
  ASSERT_TRUE(apply::Translate(ev, &w).ok());
}

TEST(StreamRecordToEvent, TtlDeletesAreAppliedOrSkippedAsAsked) {
  auto ttl = Record(R"({"eventName": "REMOVE", "userIdentity": {"type": "Service",
      "principalId": "dynamodb.amazonaws.com"}, "dynamodb": {"ApproximateCreationDateTime": 1700000002,
      "SequenceNumber": "114", "Keys": {"pk": {"S": "b"}, "sk": {"N": "1"}}}})");
  pb::ChangeEvent ev;
  bool skip = false;
  ASSERT_TRUE(StreamRecordToEvent(ttl->rec, "orders", kKeys, true, &ev, &skip).ok());
  EXPECT_TRUE(skip);
  ASSERT_TRUE(StreamRecordToEvent(ttl->rec, "orders", kKeys, false, &ev, &skip).ok());
  EXPECT_FALSE(skip);
  EXPECT_EQ(ev.op(), pb::OP_DELETE);
}

TEST(StreamRecordToEvent, AnUnconvertibleNumberIsDeadLetteredByApplyNamingTheAttribute) {
  // 39 significant digits: no BSON type holds it exactly (Decimal128 has 34).
  auto big = Record(R"({"eventName": "INSERT", "dynamodb": {"ApproximateCreationDateTime": 1700000003,
      "SequenceNumber": "115", "Keys": {"pk": {"S": "c"}, "sk": {"N": "2"}},
      "NewImage": {"pk": {"S": "c"}, "sk": {"N": "2"},
                   "m": {"M": {"huge": {"N": "123456789012345678901234567890123456789"}}}}}})");
  pb::ChangeEvent ev;
  bool skip = false;
  ASSERT_TRUE(StreamRecordToEvent(big->rec, "orders", kKeys, false, &ev, &skip).ok());
  EXPECT_EQ(ev.op(), pb::OP_INSERT);
  EXPECT_EQ(Json(ev.document_key()), R"({ "_id" : { "pk" : "c", "sk" : 2 } })") << "the key still converts";
  EXPECT_NE(ev.conversion_error().find("huge"), std::string::npos) << ev.conversion_error();
  EXPECT_NE(ev.conversion_error().find("115"), std::string::npos) << ev.conversion_error();
  EXPECT_EQ(ev.source_record(), big->rec.raw_json) << "the record is kept as received";
  apply::DocWrite w;
  Status s = apply::Translate(ev, &w);
  ASSERT_TRUE(s.IsInvalidArgument()) << "apply dead-letters InvalidArgument: " << s.ToString();
  EXPECT_NE(s.ToString().find("huge"), std::string::npos);
}

TEST(StreamRecordToEvent, WithNumbersAsStringsTheNumberIsStoredAsItsDecimalText) {
  auto big = Record(R"({"eventName": "MODIFY", "dynamodb": {"ApproximateCreationDateTime": 1700000003,
      "SequenceNumber": "116", "Keys": {"pk": {"S": "c"}, "sk": {"N": "2"}},
      "NewImage": {"pk": {"S": "c"}, "sk": {"N": "2"},
                   "m": {"M": {"huge": {"N": "12345678901234567890123456789012345678"}, "n": {"N": "7"}}}}}})");
  pb::ChangeEvent ev;
  bool skip = false;
  aws::ConvertOptions strings;
  strings.numbers = aws::NumberMode::kString;
  ASSERT_TRUE(StreamRecordToEvent(big->rec, "orders", kKeys, false, &ev, &skip, strings).ok());
  EXPECT_EQ(ev.op(), pb::OP_REPLACE);
  EXPECT_TRUE(ev.conversion_error().empty()) << ev.conversion_error();
  EXPECT_NE(Json(ev.full_document()).find(R"("m" : { "huge" : "12345678901234567890123456789012345678", "n" : 7 })"),
            std::string::npos)
      << Json(ev.full_document());
}

TEST(StreamRecordToEvent, ARecordWithoutASequenceNumberIsAnError) {
  aws::StreamRecord r;
  r.event_name = "INSERT";
  pb::ChangeEvent ev;
  bool skip = false;
  EXPECT_FALSE(StreamRecordToEvent(r, "orders", kKeys, false, &ev, &skip).ok());
}

}  // namespace
}  // namespace docshift::capture
