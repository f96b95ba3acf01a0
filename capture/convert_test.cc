#include "capture/convert.h"
#include "capture/change_stream_cursor.h"
#include "capture/split_event.h"

#include <gtest/gtest.h>

#include "capture/expanded_events_fixtures.h"

#include "mongo/mongo_util.h"

namespace docshift::capture {
namespace {

std::string Json(const std::string& bytes) {
  bson_t b;
  if (!mongo::ViewBytes(bytes, &b)) return "<none>";
  return mongo::ToJson(&b);
}

TEST(ConvertChangeEvent, KeepsBsonBytesAndFields) {
  auto doc = mongo::FromJson(R"({
    "_id": {"_data": "8263"}, "operationType": "update",
    "clusterTime": {"$timestamp": {"t": 1700000000, "i": 3}},
    "wallTime": {"$date": 1700000000123},
    "ns": {"db": "shop", "coll": "orders"}, "documentKey": {"_id": 42},
    "updateDescription": {"updatedFields": {"n": {"$numberLong": "5"}}, "removedFields": ["x"]},
    "fullDocument": {"_id": 42, "n": {"$numberLong": "5"}},
    "txnNumber": {"$numberLong": "9"}, "lsid": {"id": 1}})");
  ConvertContext ctx;
  pb::ChangeEvent e;
  ASSERT_TRUE(ConvertChangeEvent(doc.get(), &ctx, &e).ok());
  EXPECT_EQ(e.op(), pb::OP_UPDATE);
  EXPECT_EQ(e.db(), "shop");
  EXPECT_EQ(e.coll(), "orders");
  EXPECT_EQ(e.cluster_time(), (1700000000ull << 32) | 3);
  EXPECT_EQ(e.wall_time_ms(), 1700000000123);
  EXPECT_EQ(Json(e.document_key()), R"({ "_id" : 42 })");
  // int64 stays int64: the bytes are copied, not re-encoded.
  EXPECT_EQ(Json(e.full_document()), R"({ "_id" : 42, "n" : 5 })");
  bson_t fd;
  ASSERT_TRUE(mongo::ViewBytes(e.full_document(), &fd));
  bson_iter_t it;
  ASSERT_TRUE(bson_iter_init_find(&it, &fd, "n"));
  EXPECT_EQ(bson_iter_type(&it), BSON_TYPE_INT64);
  EXPECT_EQ(Json(e.resume_token()), R"({ "_data" : "8263" })");
  EXPECT_EQ(e.txn_number(), 9);
  EXPECT_TRUE(e.ddl().empty());
}

TEST(ConvertChangeEvent, StreamNamespaceAndRebuiltKeyForMongoJavaServerQuirk) {
  // mongo-java-server: no ns, documentKey holds the update operators.
  auto doc = mongo::FromJson(R"({"_id": {"_data": "1"}, "operationType": "update",
    "documentKey": {"$set": {"a": 1}}, "fullDocument": {"_id": "doc1", "a": 1}})");
  ConvertContext ctx;
  ctx.stream_db = "d";
  ctx.stream_coll = "c";
  pb::ChangeEvent e;
  ASSERT_TRUE(ConvertChangeEvent(doc.get(), &ctx, &e).ok());
  EXPECT_EQ(e.db(), "d");
  EXPECT_EQ(e.coll(), "c");
  EXPECT_EQ(Json(e.document_key()), R"({ "_id" : "doc1" })");
  EXPECT_EQ(ctx.rebuilt_document_keys, 1u);
}

// Azure Cosmos DB for MongoDB: its required $project leaves {_id, fullDocument, ns,
// documentKey}; the event is the document's state and is recorded as a replace.
TEST(ConvertChangeEvent, CosmosProjectedEventIsAReplaceOfTheFullDocument) {
  auto doc = mongo::FromJson(R"({"_id": {"_data": "7"}, "ns": {"db": "d", "coll": "c"},
    "fullDocument": {"_id": 5, "a": 1}})");
  ConvertContext ctx;
  pb::ChangeEvent e;
  // Without the cosmos projection an event with no operationType is refused.
  EXPECT_FALSE(ConvertChangeEvent(doc.get(), &ctx, &e).ok());
  ctx.cosmos_projection = true;
  ASSERT_TRUE(ConvertChangeEvent(doc.get(), &ctx, &e).ok());
  EXPECT_EQ(e.op(), pb::OP_REPLACE);
  EXPECT_EQ(Json(e.document_key()), R"({ "_id" : 5 })");
  EXPECT_EQ(Json(e.full_document()), R"({ "_id" : 5, "a" : 1 })");
  EXPECT_TRUE(e.ddl().empty());
  EXPECT_EQ(ctx.untyped_as_replace, 1u);
  // Nothing to apply: refused even in cosmos mode.
  auto bare = mongo::FromJson(R"({"_id": {"_data": "8"}, "documentKey": {"_id": 5}})");
  EXPECT_FALSE(ConvertChangeEvent(bare.get(), &ctx, &e).ok());
}

// mongo-java-server, document deleted before the updateLookup: neither the documentKey
// nor the fullDocument (the $set contents) has an _id. The oplog entry at the same
// cluster time gives the key and the update description.
// MongoDB 5.0+ oplog: {"$v": 2, "diff": ...} → the change stream update description.
TEST(ConvertOplogEntry, V2DiffBecomesAnUpdateDescription) {
  std::vector<pb::ChangeEvent> out;
  uint32_t t, i;
  auto upd = mongo::FromJson(R"({"ts": {"$timestamp": {"t": 10, "i": 2}}, "op": "u", "ns": "d.c",
    "o": {"$v": 2, "diff": {"u": {"a": 1}, "i": {"n": "x"}, "d": {"old": false},
                            "ssub": {"u": {"x": 2}, "d": {"y": false}, "sdeep": {"i": {"z": true}}},
                            "sarr": {"a": true, "l": 3, "u1": 9, "s2": {"u": {"k": 1}}}}},
    "o2": {"_id": 1}})");
  ASSERT_TRUE(ConvertOplogEntry(upd.get(), OplogOptions{}, &out, &t, &i).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].op(), pb::OP_UPDATE);
  EXPECT_EQ(Json(out[0].document_key()), R"({ "_id" : 1 })");
  EXPECT_TRUE(out[0].ddl().empty());
  EXPECT_EQ(Json(out[0].update_description()),
            R"({ "updatedFields" : { "a" : 1, "n" : "x", "sub.x" : 2, "sub.deep.z" : true, )"
            R"("arr.1" : 9, "arr.2.k" : 1 }, "removedFields" : [ "old", "sub.y" ], )"
            R"("truncatedArrays" : [ { "field" : "arr", "newSize" : 3 } ] })");

  // A diff with a key this code does not know is kept verbatim for apply to dead-letter.
  out.clear();
  auto odd = mongo::FromJson(R"({"ts": {"$timestamp": {"t": 10, "i": 3}}, "op": "u", "ns": "d.c",
    "o": {"$v": 2, "diff": {"x": {"a": 1}}}, "o2": {"_id": 1}})");
  ASSERT_TRUE(ConvertOplogEntry(odd.get(), OplogOptions{}, &out, &t, &i).ok());
  EXPECT_TRUE(out[0].update_description().empty());
  EXPECT_FALSE(out[0].ddl().empty());
  out.clear();
  auto bad_index = mongo::FromJson(R"({"ts": {"$timestamp": {"t": 10, "i": 4}}, "op": "u", "ns": "d.c",
    "o": {"$v": 2, "diff": {"sarr": {"a": true, "uX": 1}}}, "o2": {"_id": 1}})");
  ASSERT_TRUE(ConvertOplogEntry(bad_index.get(), OplogOptions{}, &out, &t, &i).ok());
  EXPECT_TRUE(out[0].update_description().empty());
}

TEST(RepairKeyFromOplogEntry, RebuildsAnUpdateWhoseDocumentIsGone) {
  auto doc = mongo::FromJson(R"({"_id": {"_data": "1"}, "operationType": "update",
    "clusterTime": {"$timestamp": {"t": 20, "i": 7}},
    "documentKey": {"$set": {"a": 1}}, "fullDocument": {"a": 1}})");
  ConvertContext ctx;
  ctx.stream_db = "d";
  ctx.stream_coll = "c";
  pb::ChangeEvent e;
  ASSERT_TRUE(ConvertChangeEvent(doc.get(), &ctx, &e).ok());
  EXPECT_FALSE(HasId(e.document_key()));
  auto entry = mongo::FromJson(R"({"ts": {"$timestamp": {"t": 20, "i": 7}}, "op": "u", "ns": "d.c",
    "o": {"$set": {"a": 1}}, "o2": {"_id": 42}})");
  ASSERT_TRUE(RepairKeyFromOplogEntry(entry.get(), &e).ok());
  EXPECT_EQ(e.op(), pb::OP_UPDATE);
  EXPECT_EQ(Json(e.document_key()), R"({ "_id" : 42 })");
  EXPECT_TRUE(e.full_document().empty());
  EXPECT_EQ(Json(e.update_description()), R"({ "updatedFields" : { "a" : 1 }, "removedFields" : [  ] })");
  EXPECT_EQ(e.resume_token(), mongo::Bytes(mongo::FromJson(R"({"_data": "1"})").get()));

  // An entry of another time or namespace is refused and the event left alone.
  pb::ChangeEvent f;
  ASSERT_TRUE(ConvertChangeEvent(doc.get(), &ctx, &f).ok());
  auto other_time = mongo::FromJson(R"({"ts": {"$timestamp": {"t": 20, "i": 8}}, "op": "u", "ns": "d.c",
    "o": {"$set": {"a": 1}}, "o2": {"_id": 42}})");
  EXPECT_FALSE(RepairKeyFromOplogEntry(other_time.get(), &f).ok());
  auto other_ns = mongo::FromJson(R"({"ts": {"$timestamp": {"t": 20, "i": 7}}, "op": "u", "ns": "d.x",
    "o": {"$set": {"a": 1}}, "o2": {"_id": 42}})");
  EXPECT_FALSE(RepairKeyFromOplogEntry(other_ns.get(), &f).ok());
  EXPECT_FALSE(HasId(f.document_key()));
}

TEST(ConvertChangeEvent, DdlKeepsTheRawEventAndMissingFieldsAreErrors) {
  auto drop = mongo::FromJson(R"({"_id": {"_data": "2"}, "operationType": "rename",
    "ns": {"db": "a", "coll": "b"}, "to": {"db": "a", "coll": "c"}})");
  ConvertContext ctx;
  pb::ChangeEvent e;
  ASSERT_TRUE(ConvertChangeEvent(drop.get(), &ctx, &e).ok());
  EXPECT_EQ(e.op(), pb::OP_RENAME);
  EXPECT_EQ(e.to_coll(), "c");
  EXPECT_FALSE(e.ddl().empty());
  auto no_id = mongo::FromJson(R"({"operationType": "insert"})");
  EXPECT_TRUE(ConvertChangeEvent(no_id.get(), &ctx, &e).IsInvalidArgument());
  auto no_op = mongo::FromJson(R"({"_id": {"_data": "3"}})");
  EXPECT_TRUE(ConvertChangeEvent(no_op.get(), &ctx, &e).IsInvalidArgument());
}

// The events a stream opened with showExpandedEvents (MongoDB 6.0+) sends, each as its
// documentation page shows it (capture/expanded_events_fixtures.h): every one converts,
// with its namespace, time and (for DDL) the whole raw event kept for apply's replay.
TEST(ConvertChangeEvent, ExpandedDdlEvents) {
  for (const auto& f : testing_fixtures::kExpandedEvents) {
    SCOPED_TRACE(f.page);
    auto doc = mongo::FromJson(f.json);
    ASSERT_TRUE(doc) << f.json;
    ConvertContext ctx;
    pb::ChangeEvent e;
    ASSERT_TRUE(ConvertChangeEvent(doc.get(), &ctx, &e).ok());
    EXPECT_EQ(e.op(), f.op);
    EXPECT_EQ(e.db(), f.db);
    EXPECT_EQ(e.coll(), f.coll);
    EXPECT_EQ(e.to_db(), f.to_db);
    EXPECT_EQ(e.to_coll(), f.to_coll);
    EXPECT_FALSE(ctx.ns_from_stream);
    EXPECT_EQ(e.cluster_time() >> 32, 1700000000u);
    EXPECT_EQ(e.wall_time_ms(), 1700000000000);
    EXPECT_FALSE(e.resume_token().empty());
    if (f.op == pb::OP_INSERT) {
      EXPECT_TRUE(e.ddl().empty());
      EXPECT_EQ(Json(e.document_key()), R"({ "_id" : 7 })");
    } else {
      EXPECT_EQ(e.ddl(), mongo::Bytes(doc.get())) << "the raw event, byte for byte";
    }
  }
}

// Issue #11 item 2.6: streams never asked for showExpandedEvents. Where the server
// accepts it (MongoDB 6.0+, wire version 17) they now do, through the raw cursor.
TEST(ChooseCursor, ExpandedEventsWhereTheServerAcceptsThem) {
  struct Case {
    const char *kind, *show, *cursor;
    int wire;
    bool raw, expanded;
  } cases[] = {
      {"mongo", "auto", "auto", 17, true, true},    // MongoDB 6.0
      {"mongo", "auto", "auto", 25, true, true},    // 8.0
      {"mongo", "auto", "auto", 13, false, false},  // 5.0: libmongoc's watch
      {"mongo", "auto", "auto", 8, false, false},   // mongo-java-server
      {"mongo", "auto", "auto", -1, false, false},  // unknown
      {"mongo", "off", "auto", 21, false, false},
      {"mongo", "on", "auto", 8, true, true},       // forced: the server may refuse
      {"mongo", "auto", "raw", 8, true, false},     // testing: raw cursor, no option
      {"mongo", "off", "raw", 21, true, false},
      {"cosmos", "auto", "auto", 21, false, false},  // Cosmos DB: never
  };
  for (const auto& c : cases) {
    const CursorChoice got = ChooseCursor(c.kind, c.show, c.cursor, c.wire);
    EXPECT_EQ(got.raw, c.raw) << c.kind << " " << c.show << " " << c.cursor << " " << c.wire;
    EXPECT_EQ(got.expanded, c.expanded) << c.kind << " " << c.show << " " << c.cursor << " " << c.wire;
  }
}

TEST(ConvertOplogEntry, InsertUpdateDeleteAndCommands) {
  OplogOptions mongo_opts;
  std::vector<pb::ChangeEvent> out;
  uint32_t t = 0, i = 0;
  auto ins = mongo::FromJson(R"({"ts": {"$timestamp": {"t": 10, "i": 1}}, "op": "i", "ns": "d.c",
                                 "o": {"_id": 1, "a": 1}})");
  ASSERT_TRUE(ConvertOplogEntry(ins.get(), mongo_opts, &out, &t, &i).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].op(), pb::OP_INSERT);
  EXPECT_EQ(Json(out[0].document_key()), R"({ "_id" : 1 })");
  EXPECT_EQ(Json(out[0].resume_token()), R"({ "ts" : { "$timestamp" : { "t" : 10, "i" : 1 } } })");

  // MongoDB $v:1 modifier → update description.
  out.clear();
  auto upd = mongo::FromJson(R"({"ts": {"$timestamp": {"t": 10, "i": 2}}, "op": "u", "ns": "d.c",
                                 "o": {"$v": 1, "$set": {"b": 2}, "$unset": {"a": true}}, "o2": {"_id": 1}})");
  ASSERT_TRUE(ConvertOplogEntry(upd.get(), mongo_opts, &out, &t, &i).ok());
  EXPECT_EQ(out[0].op(), pb::OP_UPDATE);
  EXPECT_EQ(Json(out[0].update_description()), R"({ "updatedFields" : { "b" : 2 }, "removedFields" : [ "a" ] })");

  // FerretDB: the same shape is the whole post-image.
  out.clear();
  OplogOptions ferret;
  ferret.updates_are_post_images = true;
  auto fupd = mongo::FromJson(R"({"ts": {"$timestamp": {"t": 10, "i": 3}}, "op": "u", "ns": "d.c",
                                  "o": {"$v": 1, "$set": {"_id": 1, "b": 2}}, "o2": {"_id": 1}})");
  ASSERT_TRUE(ConvertOplogEntry(fupd.get(), ferret, &out, &t, &i).ok());
  EXPECT_EQ(out[0].op(), pb::OP_REPLACE);
  EXPECT_EQ(Json(out[0].full_document()), R"({ "_id" : 1, "b" : 2 })");

  // Replacement (no operators).
  out.clear();
  auto rep = mongo::FromJson(R"({"ts": {"$timestamp": {"t": 10, "i": 4}}, "op": "u", "ns": "d.c",
                                 "o": {"_id": 1, "z": 1}, "o2": {"_id": 1}})");
  ASSERT_TRUE(ConvertOplogEntry(rep.get(), mongo_opts, &out, &t, &i).ok());
  EXPECT_EQ(out[0].op(), pb::OP_REPLACE);

  out.clear();
  auto del = mongo::FromJson(R"({"ts": {"$timestamp": {"t": 10, "i": 5}}, "op": "d", "ns": "d.c", "o": {"_id": 1}})");
  ASSERT_TRUE(ConvertOplogEntry(del.get(), mongo_opts, &out, &t, &i).ok());
  EXPECT_EQ(out[0].op(), pb::OP_DELETE);
  EXPECT_EQ(t, 10u);
  EXPECT_EQ(i, 5u);

  // applyOps expands; a no-op yields nothing.
  out.clear();
  auto txn = mongo::FromJson(R"({"ts": {"$timestamp": {"t": 11, "i": 1}}, "op": "c", "ns": "admin.$cmd",
    "o": {"applyOps": [{"op": "i", "ns": "d.c", "o": {"_id": 2}}, {"op": "d", "ns": "d.e", "o": {"_id": 3}}]}})");
  ASSERT_TRUE(ConvertOplogEntry(txn.get(), mongo_opts, &out, &t, &i).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].coll(), "e");
  out.clear();
  auto noop = mongo::FromJson(R"({"ts": {"$timestamp": {"t": 12, "i": 1}}, "op": "n", "ns": "", "o": {"msg": "x"}})");
  ASSERT_TRUE(ConvertOplogEntry(noop.get(), mongo_opts, &out, &t, &i).ok());
  EXPECT_TRUE(out.empty());
  auto drop = mongo::FromJson(R"({"ts": {"$timestamp": {"t": 12, "i": 2}}, "op": "c", "ns": "d.$cmd", "o": {"drop": "c"}})");
  ASSERT_TRUE(ConvertOplogEntry(drop.get(), mongo_opts, &out, &t, &i).ok());
  EXPECT_EQ(out[0].op(), pb::OP_DROP);
  EXPECT_EQ(out[0].coll(), "c");
  auto bad = mongo::FromJson(R"({"op": "i"})");
  EXPECT_TRUE(ConvertOplogEntry(bad.get(), mongo_opts, &out, &t, &i).IsInvalidArgument());
}

}  // namespace
}  // namespace docshift::capture

namespace docshift::capture {
namespace {

// An update event over 16 MB as $changeStreamSplitLargeEvent delivers it (MongoDB 7.0:
// https://www.mongodb.com/docs/manual/reference/operator/aggregation/changeStreamSplitLargeEvent/):
// three fragments, each with its own _id and splitEvent, the event's fields spread over
// them in order. Reassembled and converted, it is one update whose resume token is the
// last fragment's (issue #11, D7).
std::string Big(char c, size_t n) { return std::string(n, c); }

TEST(SplitEventAssemblerTest, ThreeFragmentsMakeOneEventResumingAfterTheLast) {
  const std::string after = Big('a', 9 << 20), before = Big('b', 9 << 20);
  auto f1 = mongo::FromJson(R"({"_id": {"_data": "82F1"}, "splitEvent": {"fragment": 1, "of": 3},
    "operationType": "update", "clusterTime": {"$timestamp": {"t": 1700000000, "i": 1}},
    "wallTime": {"$date": 1700000000000}, "ns": {"db": "shop", "coll": "big"},
    "documentKey": {"_id": 7}, "fullDocument": {"_id": 7, "blob": ")" + after + R"("}})");
  auto f2 = mongo::FromJson(R"({"_id": {"_data": "82F2"}, "splitEvent": {"fragment": 2, "of": 3},
    "fullDocumentBeforeChange": {"_id": 7, "blob": ")" + before + R"("}})");
  auto f3 = mongo::FromJson(R"({"_id": {"_data": "82F3"}, "splitEvent": {"fragment": 3, "of": 3},
    "updateDescription": {"updatedFields": {"blob": "x"}, "removedFields": [], "truncatedArrays": []}})");
  ASSERT_TRUE(f1 && f2 && f3);
  EXPECT_TRUE(SplitEventAssembler::IsFragment(f1.get()));
  SplitEventAssembler a;
  mongo::BsonPtr whole;
  ASSERT_TRUE(a.Add(f1.get(), &whole).ok());
  EXPECT_FALSE(whole);
  EXPECT_TRUE(a.pending());
  ASSERT_TRUE(a.Add(f2.get(), &whole).ok());
  EXPECT_FALSE(whole);
  ASSERT_TRUE(a.Add(f3.get(), &whole).ok());
  ASSERT_TRUE(whole);
  EXPECT_FALSE(a.pending());
  EXPECT_FALSE(SplitEventAssembler::IsFragment(whole.get()));
  EXPECT_GT(whole->len, 16u << 20) << "the whole event is over 16 MB";

  ConvertContext ctx;
  pb::ChangeEvent e;
  ASSERT_TRUE(ConvertChangeEvent(whole.get(), &ctx, &e).ok());
  EXPECT_EQ(e.op(), pb::OP_UPDATE);
  EXPECT_EQ(e.db(), "shop");
  EXPECT_EQ(e.coll(), "big");
  EXPECT_EQ(Json(e.document_key()), R"({ "_id" : 7 })");
  EXPECT_EQ(Json(e.resume_token()), R"({ "_data" : "82F3" })") << "must resume after the last fragment";
  bson_t fd;
  ASSERT_TRUE(mongo::ViewBytes(e.full_document(), &fd));
  bson_iter_t it;
  ASSERT_TRUE(bson_iter_init_find(&it, &fd, "blob"));
  uint32_t len = 0;
  bson_iter_utf8(&it, &len);
  EXPECT_EQ(len, after.size());
}

TEST(SplitEventAssemblerTest, OutOfOrderFragmentsAreRefusedAndTheAssemblerStartsOver) {
  auto f1 = mongo::FromJson(R"({"_id": {"_data": "1"}, "splitEvent": {"fragment": 1, "of": 2}, "operationType": "insert"})");
  auto f2 = mongo::FromJson(R"({"_id": {"_data": "2"}, "splitEvent": {"fragment": 2, "of": 2}, "fullDocument": {"_id": 1}})");
  SplitEventAssembler a;
  mongo::BsonPtr whole;
  Status s = a.Add(f2.get(), &whole);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("fragment 2 of 2 arrived where fragment 1 was expected"), std::string::npos) << s.message();
  ASSERT_TRUE(a.Add(f1.get(), &whole).ok());
  ASSERT_TRUE(a.Add(f1.get(), &whole).IsInvalidArgument());  // a repeat
  EXPECT_FALSE(a.pending());
  ASSERT_TRUE(a.Add(f1.get(), &whole).ok());
  ASSERT_TRUE(a.Add(f2.get(), &whole).ok());
  ASSERT_TRUE(whole);
  auto plain = mongo::FromJson(R"({"_id": {"_data": "3"}, "operationType": "insert"})");
  EXPECT_FALSE(SplitEventAssembler::IsFragment(plain.get()));
}

}  // namespace
}  // namespace docshift::capture
