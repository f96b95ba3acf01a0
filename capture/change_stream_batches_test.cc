// The raw cursor's resume-token rule (capture/raw_change_stream.h ChangeStreamBatches),
// over aggregate and getMore replies as MongoDB 4.0.7+ sends them, with
// cursor.postBatchResumeToken (https://www.mongodb.com/docs/manual/reference/command/getMore/
// and the Change Streams spec, github.com/mongodb/specifications
// source/change-streams/change-streams.md "Updating the Cached Resume Token"). No server
// in the test bed sends postBatchResumeToken (mongo-java-server has none), so the rule
// is checked here; raw_change_stream_test runs the cursor against that server.
#include <gtest/gtest.h>

#include "capture/raw_change_stream.h"

namespace docshift::capture {
namespace {

std::string Json(const bson_t* b) { return b == nullptr ? "null" : mongo::ToJson(b); }

std::string Op(const bson_t* ev) {
  bson_iter_t it;
  return ev != nullptr && bson_iter_init_find(&it, ev, "operationType") ? bson_iter_utf8(&it, nullptr) : "";
}

TEST(ChangeStreamBatches, PostBatchResumeTokenAfterAnEmptyOrExhaustedBatch) {
  ChangeStreamBatches b(nullptr);
  EXPECT_EQ(b.token(), nullptr);
  // aggregate: an empty first batch; its postBatchResumeToken is the starting position.
  ASSERT_TRUE(b.Take(mongo::FromJson(R"({"cursor": {"firstBatch": [], "postBatchResumeToken": {"_data": "8200"},
      "id": {"$numberLong": "77"}, "ns": "shop.$cmd.aggregate"}, "ok": 1})"), "firstBatch").ok());
  EXPECT_EQ(Json(b.token()), R"({ "_data" : "8200" })");
  EXPECT_EQ(b.cursor_id(), 77);
  EXPECT_EQ(b.db(), "shop");
  EXPECT_EQ(b.coll(), "$cmd.aggregate");
  const bson_t* ev;
  ASSERT_TRUE(b.Next(&ev).ok());
  EXPECT_EQ(ev, nullptr);
  // getMore: two events; the position is the first's _id, then, at the batch's end, the
  // batch's postBatchResumeToken (which may be past the last event's _id).
  ASSERT_TRUE(b.Take(mongo::FromJson(R"({"cursor": {"nextBatch": [
      {"_id": {"_data": "8201"}, "operationType": "insert"},
      {"_id": {"_data": "8202"}, "operationType": "delete"}],
      "postBatchResumeToken": {"_data": "8203"}, "id": {"$numberLong": "77"}, "ns": "shop.$cmd.aggregate"}, "ok": 1})"),
                     "nextBatch").ok());
  ASSERT_TRUE(b.Next(&ev).ok());
  EXPECT_EQ(Op(ev), "insert");
  EXPECT_EQ(Json(b.token()), R"({ "_data" : "8201" })");
  ASSERT_TRUE(b.Next(&ev).ok());
  EXPECT_EQ(Op(ev), "delete");
  EXPECT_EQ(Json(b.token()), R"({ "_data" : "8203" })");
  ASSERT_TRUE(b.Next(&ev).ok());
  EXPECT_EQ(ev, nullptr);
  // An empty getMore advances the idle stream's position.
  ASSERT_TRUE(b.Take(mongo::FromJson(R"({"cursor": {"nextBatch": [], "postBatchResumeToken": {"_data": "8209"},
      "id": {"$numberLong": "77"}, "ns": "shop.$cmd.aggregate"}, "ok": 1})"), "nextBatch").ok());
  EXPECT_EQ(Json(b.token()), R"({ "_data" : "8209" })");
  // A server without postBatchResumeToken (mongo-java-server; MongoDB before 4.0.7):
  // the position stays the last event's _id.
  ASSERT_TRUE(b.Take(mongo::FromJson(R"({"cursor": {"nextBatch": [{"_id": {"_data": "820A"}, "operationType": "update"}],
      "id": 77, "ns": "shop.c"}, "ok": 1})"), "nextBatch").ok());
  ASSERT_TRUE(b.Next(&ev).ok());
  EXPECT_EQ(Json(b.token()), R"({ "_data" : "820A" })");
  ASSERT_TRUE(b.Take(mongo::FromJson(R"({"cursor": {"nextBatch": [], "id": 77, "ns": "shop.c"}, "ok": 1})"),
                     "nextBatch").ok());
  EXPECT_EQ(Json(b.token()), R"({ "_data" : "820A" })");
  EXPECT_EQ(b.coll(), "c");
}

TEST(ChangeStreamBatches, StartsFromASavedTokenAndRefusesMalformedReplies) {
  mongo::BsonPtr saved = mongo::FromJson(R"({"_data": "82FF"})");
  ChangeStreamBatches b(saved.get());
  EXPECT_EQ(Json(b.token()), R"({ "_data" : "82FF" })");
  // No postBatchResumeToken on the empty first batch: the saved token stays.
  ASSERT_TRUE(b.Take(mongo::FromJson(R"({"cursor": {"firstBatch": [], "id": 5, "ns": "a.b"}, "ok": 1})"), "firstBatch").ok());
  EXPECT_EQ(Json(b.token()), R"({ "_data" : "82FF" })");
  EXPECT_TRUE(b.Take(mongo::FromJson(R"({"ok": 1})"), "nextBatch").IsInvalidArgument());
  EXPECT_TRUE(b.Take(mongo::FromJson(R"({"cursor": {"firstBatch": [], "id": 5}})"), "nextBatch").IsInvalidArgument());
  // An event without _id cannot be resumed after: refused (libmongoc's rule too).
  ASSERT_TRUE(b.Take(mongo::FromJson(R"({"cursor": {"nextBatch": [{"operationType": "insert"}], "id": 5, "ns": "a.b"}})"),
                     "nextBatch").ok());
  const bson_t* ev;
  EXPECT_TRUE(b.Next(&ev).IsInvalidArgument());
  // A closed cursor (after an invalidate the server answers with id 0).
  ASSERT_TRUE(b.Take(mongo::FromJson(R"({"cursor": {"nextBatch": [], "id": 0, "ns": "a.b"}})"), "nextBatch").ok());
  EXPECT_EQ(b.cursor_id(), 0);
}

}  // namespace
}  // namespace docshift::capture
