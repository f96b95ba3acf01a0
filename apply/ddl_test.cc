// DDL replay planned from hand-written fixtures of MongoDB's documented formats, each run
// through capture's conversion first (capture/convert.h) and then apply's planning
// (apply/ddl.h), as the spool carries them.
#include "apply/ddl.h"

#include <gtest/gtest.h>

#include "apply/translate.h"
#include "capture/convert.h"
#include "capture/expanded_events_fixtures.h"
#include "mongo/mongo_util.h"

namespace docshift::apply {
namespace {

pb::ChangeEvent FromStream(const char* json) {
  auto doc = mongo::FromJson(json);
  capture::ConvertContext ctx;
  pb::ChangeEvent e;
  EXPECT_TRUE(capture::ConvertChangeEvent(doc.get(), &ctx, &e).ok());
  return e;
}

pb::ChangeEvent FromOplog(const char* json) {
  auto doc = mongo::FromJson(json);
  std::vector<pb::ChangeEvent> out;
  uint32_t t = 0, i = 0;
  EXPECT_TRUE(capture::ConvertOplogEntry(doc.get(), capture::OplogOptions{}, &out, &t, &i).ok());
  EXPECT_EQ(out.size(), 1u);
  return out.empty() ? pb::ChangeEvent() : out[0];
}

std::string Cmd(const DdlPlan& p, size_t i) {
  return i < p.commands.size() ? p.commands[i].db + " " + mongo::ToJson(p.commands[i].command.get()) : "<none>";
}

NamespaceMap Maps(std::initializer_list<const char*> specs) {
  NamespaceMap m;
  for (const char* s : specs) EXPECT_TRUE(m.Add(s).ok());
  return m;
}

// https://www.mongodb.com/docs/manual/reference/change-events/createIndexes/ (6.0+,
// showExpandedEvents: true).
TEST(PlanDdl, ExpandedCreateIndexesReplaysEachSpecOnTheMappedNamespace) {
  pb::ChangeEvent e = FromStream(R"({
    "_id": {"_data": "82"}, "operationType": "createIndexes",
    "clusterTime": {"$timestamp": {"t": 1700000000, "i": 1}},
    "collectionUUID": {"$binary": {"base64": "AAAAAAAAAAAAAAAAAAAAAA==", "subType": "04"}},
    "wallTime": {"$date": 1700000000000},
    "ns": {"db": "test", "coll": "names"},
    "operationDescription": {"indexes": [
      {"v": 2, "key": {"name": 1}, "name": "name_1", "unique": true},
      {"v": 2, "key": {"a": 1, "b": -1}, "name": "a_1_b_-1"}]}})");
  ASSERT_EQ(e.op(), pb::OP_CREATE_INDEXES);
  DdlPlan p = PlanDdl(e, Maps({"test=prod"}));
  EXPECT_TRUE(p.unreplayable.empty()) << p.unreplayable;
  ASSERT_EQ(p.commands.size(), 2u);
  EXPECT_EQ(Cmd(p, 0), R"(prod { "createIndexes" : "names", "indexes" : [ { "key" : { "name" : 1 }, "name" : "name_1", "unique" : true } ] })");
  EXPECT_EQ(Cmd(p, 1), R"(prod { "createIndexes" : "names", "indexes" : [ { "key" : { "a" : 1, "b" : -1 }, "name" : "a_1_b_-1" } ] })");
}

// Every kind of expanded event (showExpandedEvents, MongoDB 6.0+;
// capture/expanded_events_fixtures.h names each one's documentation page), converted as
// capture spools it, then through apply: a DDL op is replayed from its definition or
// dead-lettered with a reason, never skipped; a document event translates as without
// the option.
TEST(PlanDdl, ExpandedEventsOfEveryKind) {
  for (const auto& f : testing_fixtures::kExpandedEvents) {
    SCOPED_TRACE(f.page);
    pb::ChangeEvent e = FromStream(f.json);
    if (f.op == pb::OP_INSERT) {
      EXPECT_TRUE(IsDocumentOp(e.op()));
      DocWrite w;
      EXPECT_TRUE(Translate(e, &w).ok());
      continue;
    }
    EXPECT_TRUE(IsDdlOp(e.op()));
    DdlPlan p = PlanDdl(e, NamespaceMap());
    if (f.replayable) {
      EXPECT_TRUE(p.unreplayable.empty()) << p.unreplayable;
      EXPECT_EQ(Cmd(p, 0), f.plan);
    } else {
      EXPECT_TRUE(p.commands.empty()) << Cmd(p, 0);
      EXPECT_NE(p.unreplayable.find(f.plan), std::string::npos) << p.unreplayable;
    }
  }
}

// Oplog entries as a 4.4+ primary writes them (https://www.mongodb.com/docs/manual/core/index-creation/:
// two-phase builds log startIndexBuild and commitIndexBuild; an empty collection's build
// logs createIndexes).
TEST(PlanDdl, OplogIndexBuilds) {
  pb::ChangeEvent c = FromOplog(R"({"op": "c", "ns": "shop.$cmd", "ts": {"$timestamp": {"t": 5, "i": 1}},
    "o": {"createIndexes": "orders", "v": 2, "key": {"sku": 1}, "name": "sku_1", "sparse": true}})");
  ASSERT_EQ(c.op(), pb::OP_CREATE_INDEXES);
  DdlPlan p = PlanDdl(c, Maps({"shop.orders=arch.old"}));
  EXPECT_EQ(Cmd(p, 0), R"(arch { "createIndexes" : "old", "indexes" : [ { "key" : { "sku" : 1 }, "name" : "sku_1", "sparse" : true } ] })");

  pb::ChangeEvent commit = FromOplog(R"({"op": "c", "ns": "shop.$cmd", "ts": {"$timestamp": {"t": 5, "i": 2}},
    "o": {"commitIndexBuild": "orders", "indexBuildUUID": {"$binary": {"base64": "AAAAAAAAAAAAAAAAAAAAAA==", "subType": "04"}},
          "indexes": [{"v": 2, "key": {"at": -1}, "name": "at_-1"}]}})");
  ASSERT_EQ(commit.op(), pb::OP_CREATE_INDEXES);
  p = PlanDdl(commit, NamespaceMap());
  EXPECT_EQ(Cmd(p, 0), R"(shop { "createIndexes" : "orders", "indexes" : [ { "key" : { "at" : -1 }, "name" : "at_-1" } ] })");

  pb::ChangeEvent start = FromOplog(R"({"op": "c", "ns": "shop.$cmd", "ts": {"$timestamp": {"t": 5, "i": 3}},
    "o": {"startIndexBuild": "orders", "indexes": [{"v": 2, "key": {"at": -1}, "name": "at_-1"}]}})");
  p = PlanDdl(start, NamespaceMap());
  EXPECT_TRUE(p.commands.empty());
  EXPECT_TRUE(p.unreplayable.empty());
  EXPECT_NE(p.nothing.find("commitIndexBuild"), std::string::npos) << p.nothing;
}

// https://www.mongodb.com/docs/manual/reference/change-events/dropIndexes/ and the oplog's
// {dropIndexes: coll, index: name}.
TEST(PlanDdl, DropIndexes) {
  pb::ChangeEvent e = FromStream(R"({"_id": {"_data": "82"}, "operationType": "dropIndexes",
    "clusterTime": {"$timestamp": {"t": 1, "i": 1}}, "ns": {"db": "test", "coll": "names"},
    "operationDescription": {"indexes": [{"v": 2, "key": {"name": 1}, "name": "name_1"}]}})");
  ASSERT_EQ(e.op(), pb::OP_DROP_INDEXES);
  DdlPlan p = PlanDdl(e, NamespaceMap());
  EXPECT_EQ(Cmd(p, 0), R"(test { "dropIndexes" : "names", "index" : "name_1" })");
  pb::ChangeEvent o = FromOplog(R"({"op": "c", "ns": "test.$cmd", "ts": {"$timestamp": {"t": 5, "i": 1}},
    "o": {"dropIndexes": "names", "index": "name_1"}, "o2": {"v": 2, "key": {"name": 1}, "name": "name_1"}})");
  p = PlanDdl(o, Maps({"test.names=t2.n2"}));
  EXPECT_EQ(Cmd(p, 0), R"(t2 { "dropIndexes" : "n2", "index" : "name_1" })");
}

// A plain (not expanded) stream cannot give a definition: dead-lettered, not skipped.
TEST(PlanDdl, IndexEventWithoutDefinitionIsUnreplayable) {
  pb::ChangeEvent e;
  e.set_op(pb::OP_CREATE_INDEXES);
  e.set_db("a");
  e.set_coll("b");
  DdlPlan p = PlanDdl(e, NamespaceMap());
  EXPECT_TRUE(p.commands.empty());
  EXPECT_NE(p.unreplayable.find("no index definition"), std::string::npos) << p.unreplayable;
}

// https://www.mongodb.com/docs/manual/reference/change-events/rename/ (expanded: with
// operationDescription.to) and the oplog's renameCollection.
TEST(PlanDdl, RenameMapsSourceAndDestination) {
  pb::ChangeEvent e = FromStream(R"({"_id": {"_data": "82"}, "operationType": "rename",
    "clusterTime": {"$timestamp": {"t": 1, "i": 1}}, "ns": {"db": "shop", "coll": "orders"},
    "to": {"db": "shop", "coll": "orders_old"},
    "operationDescription": {"to": {"db": "shop", "coll": "orders_old"}}})");
  ASSERT_EQ(e.op(), pb::OP_RENAME);
  DdlPlan p = PlanDdl(e, Maps({"shop=live"}));
  EXPECT_FALSE(p.cross_database);
  EXPECT_EQ(Cmd(p, 0), R"(admin { "renameCollection" : "live.orders", "to" : "live.orders_old" })");
  // One side mapped to another database: a rename across databases on the target.
  p = PlanDdl(e, Maps({"shop.orders_old=archive.orders"}));
  EXPECT_TRUE(p.cross_database);
  EXPECT_EQ(Cmd(p, 0), R"(admin { "renameCollection" : "shop.orders", "to" : "archive.orders" })");
  pb::ChangeEvent o = FromOplog(R"({"op": "c", "ns": "shop.$cmd", "ts": {"$timestamp": {"t": 5, "i": 1}},
    "o": {"renameCollection": "shop.a", "to": "shop.b", "stayTemp": false, "dropTarget": true}})");
  p = PlanDdl(o, Maps({"shop.a=x.a", "shop.b=x.b"}));
  EXPECT_EQ(Cmd(p, 0), R"(admin { "renameCollection" : "x.a", "to" : "x.b" })");
}

// Oplog create with options (https://www.mongodb.com/docs/manual/reference/command/create/);
// the expanded create event (https://www.mongodb.com/docs/manual/reference/change-events/create/)
// of a view carries viewOn and pipeline in operationDescription.
TEST(PlanDdl, CreateKeepsOptions) {
  pb::ChangeEvent o = FromOplog(R"({"op": "c", "ns": "shop.$cmd", "ts": {"$timestamp": {"t": 5, "i": 1}},
    "o": {"create": "log", "capped": true, "size": 65536, "max": 100,
          "validator": {"n": {"$gte": 0}}, "validationLevel": "moderate", "validationAction": "warn",
          "collation": {"locale": "fr"}, "idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"}}})");
  ASSERT_EQ(o.op(), pb::OP_CREATE);
  DdlPlan p = PlanDdl(o, Maps({"shop=live"}));
  EXPECT_EQ(Cmd(p, 0), R"(live { "create" : "log", "capped" : true, "size" : 65536, "max" : 100, "validator" : { "n" : { "$gte" : 0 } }, "validationLevel" : "moderate", "validationAction" : "warn", "collation" : { "locale" : "fr" } })");

  pb::ChangeEvent v = FromStream(R"({"_id": {"_data": "82"}, "operationType": "create",
    "clusterTime": {"$timestamp": {"t": 1, "i": 1}}, "ns": {"db": "shop", "coll": "big"}, "nsType": "view",
    "operationDescription": {"viewOn": "orders", "pipeline": [{"$match": {"n": {"$gt": 10}}}]}})");
  ASSERT_EQ(v.op(), pb::OP_CREATE);
  p = PlanDdl(v, Maps({"shop.orders=shop.orders2"}));
  EXPECT_EQ(Cmd(p, 0), R"(shop { "create" : "big", "viewOn" : "orders2", "pipeline" : [ { "$match" : { "n" : { "$gt" : 10 } } } ] })");
  p = PlanDdl(v, Maps({"shop.orders=other.orders"}));
  EXPECT_TRUE(p.commands.empty());
  EXPECT_NE(p.unreplayable.find("another database"), std::string::npos) << p.unreplayable;
}

// https://www.mongodb.com/docs/manual/reference/change-events/modify/ and
// .../shardCollection/, and the oplog's collMod: dead-lettered with a reason.
TEST(PlanDdl, WhatCannotBeReplayedHasAReason) {
  pb::ChangeEvent m = FromStream(R"({"_id": {"_data": "82"}, "operationType": "modify",
    "clusterTime": {"$timestamp": {"t": 1, "i": 1}}, "ns": {"db": "test", "coll": "names"},
    "operationDescription": {"index": {"name": "name_1", "hidden": true}},
    "stateBeforeChange": {"collectionOptions": {"uuid": 1}, "indexOptions": {"hidden": false}}})");
  ASSERT_EQ(m.op(), pb::OP_UNKNOWN);
  DdlPlan p = PlanDdl(m, NamespaceMap());
  EXPECT_TRUE(p.commands.empty());
  EXPECT_NE(p.unreplayable.find("modify on test.names"), std::string::npos) << p.unreplayable;
  pb::ChangeEvent s = FromStream(R"({"_id": {"_data": "82"}, "operationType": "shardCollection",
    "clusterTime": {"$timestamp": {"t": 1, "i": 1}}, "ns": {"db": "test", "coll": "names"},
    "operationDescription": {"shardKey": {"_id": 1}, "unique": false}})");
  p = PlanDdl(s, NamespaceMap());
  EXPECT_NE(p.unreplayable.find("sharding"), std::string::npos) << p.unreplayable;
  pb::ChangeEvent c = FromOplog(R"({"op": "c", "ns": "test.$cmd", "ts": {"$timestamp": {"t": 5, "i": 1}},
    "o": {"collMod": "names", "validator": {"a": {"$exists": true}}}})");
  ASSERT_EQ(c.op(), pb::OP_UNKNOWN);
  EXPECT_TRUE(IsDdlOp(c.op()));
  p = PlanDdl(c, NamespaceMap());
  EXPECT_NE(p.unreplayable.find("collMod on test.names:"), std::string::npos) << p.unreplayable;
  pb::ChangeEvent u = FromOplog(R"({"op": "c", "ns": "test.$cmd", "ts": {"$timestamp": {"t": 5, "i": 1}},
    "o": {"someFutureCommand": "names"}})");
  p = PlanDdl(u, NamespaceMap());
  EXPECT_NE(p.unreplayable.find("someFutureCommand"), std::string::npos) << p.unreplayable;
  // https://www.mongodb.com/docs/manual/core/transactions-production-consideration/ (a
  // prepared transaction's commit and abort entries in the oplog)
  pb::ChangeEvent ct = FromOplog(R"({"op": "c", "ns": "admin.$cmd", "ts": {"$timestamp": {"t": 5, "i": 2}},
    "o": {"commitTransaction": 1, "commitTimestamp": {"$timestamp": {"t": 5, "i": 1}}}})");
  p = PlanDdl(ct, NamespaceMap());
  EXPECT_TRUE(p.unreplayable.empty() && p.commands.empty() && !p.nothing.empty());
  pb::ChangeEvent at = FromOplog(R"({"op": "c", "ns": "admin.$cmd", "ts": {"$timestamp": {"t": 5, "i": 3}},
    "o": {"abortTransaction": 1}})");
  p = PlanDdl(at, NamespaceMap());
  EXPECT_NE(p.unreplayable.find("aborted"), std::string::npos) << p.unreplayable;
}

}  // namespace
}  // namespace docshift::apply
