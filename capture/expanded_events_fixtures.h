// Test fixtures: change events as MongoDB 6.0+ sends them to a stream opened with
// showExpandedEvents: true, written by hand from the documentation (no server in the
// test bed emits them: mongo-java-server is 4.2-level, FerretDB has no change streams).
// Each names its page; every expanded event carries collectionUUID (and wallTime, 6.0+).
// Used by capture's conversion and writer tests and apply's DDL planning tests, with
// what each stage must make of the event.
#pragma once

#include "proto/spool.pb.h"

namespace docshift::testing_fixtures {

struct ExpandedEvent {
  const char* page;  // https://www.mongodb.com/docs/manual/reference/change-events/<page>/
  const char* json;  // the event (canonical Extended JSON)
  pb::OpType op;     // what capture/convert makes of it
  const char *db, *coll, *to_db, *to_coll;
  // Kept by the filter include {"shop.*"}, exclude {"shop.tmp"} (a rename by either side).
  bool selected;
  // apply/ddl.h PlanDdl without --map: the first command ("db {json}") when replayable,
  // else a part of the reason it is dead-lettered.
  bool replayable;
  const char* plan;
};

#define DOCSHIFT_UUID R"("collectionUUID": {"$binary": {"base64": "q83vEjRWeJCrze8SNFZ4kA==", "subType": "04"}})"
#define DOCSHIFT_AT(i) R"("clusterTime": {"$timestamp": {"t": 1700000000, "i": )" #i R"(}}, "wallTime": {"$date": 1700000000000})"

inline const ExpandedEvent kExpandedEvents[] = {
    {"create",
     R"({"_id": {"_data": "8265A1"}, "operationType": "create", )" DOCSHIFT_AT(1) ", " DOCSHIFT_UUID R"(,
        "ns": {"db": "shop", "coll": "log"}, "nsType": "collection",
        "operationDescription": {"capped": true, "size": 65536, "max": 100,
          "validator": {"n": {"$gte": 0}}, "collation": {"locale": "fr", "strength": 2},
          "idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"}}})",
     pb::OP_CREATE, "shop", "log", "", "", true, true,
     R"(shop { "create" : "log", "capped" : true, "size" : 65536, "max" : 100, "validator" : { "n" : { "$gte" : 0 } }, "collation" : { "locale" : "fr", "strength" : 2 } })"},
    {"createIndexes",
     R"({"_id": {"_data": "8265A2"}, "operationType": "createIndexes", )" DOCSHIFT_AT(2) ", " DOCSHIFT_UUID R"(,
        "ns": {"db": "shop", "coll": "orders"},
        "operationDescription": {"indexes": [
          {"v": 2, "key": {"sku": 1}, "name": "sku_1", "unique": true, "partialFilterExpression": {"sku": {"$exists": true}}}]}})",
     pb::OP_CREATE_INDEXES, "shop", "orders", "", "", true, true,
     R"(shop { "createIndexes" : "orders", "indexes" : [ { "key" : { "sku" : 1 }, "name" : "sku_1", "unique" : true, "partialFilterExpression" : { "sku" : { "$exists" : true } } } ] })"},
    {"dropIndexes",
     R"({"_id": {"_data": "8265A3"}, "operationType": "dropIndexes", )" DOCSHIFT_AT(3) ", " DOCSHIFT_UUID R"(,
        "ns": {"db": "shop", "coll": "orders"},
        "operationDescription": {"indexes": [{"v": 2, "key": {"sku": 1}, "name": "sku_1"}]}})",
     pb::OP_DROP_INDEXES, "shop", "orders", "", "", true, true,
     R"(shop { "dropIndexes" : "orders", "index" : "sku_1" })"},
    {"modify",
     R"({"_id": {"_data": "8265A4"}, "operationType": "modify", )" DOCSHIFT_AT(4) ", " DOCSHIFT_UUID R"(,
        "ns": {"db": "shop", "coll": "tmp"},
        "operationDescription": {"index": {"name": "sku_1", "hidden": true}},
        "stateBeforeChange": {"collectionOptions": {"uuid": {"$binary": {"base64": "q83vEjRWeJCrze8SNFZ4kA==", "subType": "04"}}},
                              "indexOptions": {"hidden": false}}})",
     pb::OP_UNKNOWN, "shop", "tmp", "", "", false, false, "modify on shop.tmp"},
    {"shardCollection",
     R"({"_id": {"_data": "8265A5"}, "operationType": "shardCollection", )" DOCSHIFT_AT(5) ", " DOCSHIFT_UUID R"(,
        "ns": {"db": "crm", "coll": "users"},
        "operationDescription": {"shardKey": {"_id": "hashed"}, "unique": false, "presplitHashedZones": false}})",
     pb::OP_UNKNOWN, "crm", "users", "", "", false, false, "sharding"},
    {"refineCollectionShardKey",
     R"({"_id": {"_data": "8265A6"}, "operationType": "refineCollectionShardKey", )" DOCSHIFT_AT(6) ", " DOCSHIFT_UUID R"(,
        "ns": {"db": "shop", "coll": "orders"},
        "operationDescription": {"shardKey": {"region": 1, "sku": 1}, "oldShardKey": {"region": 1}}})",
     pb::OP_UNKNOWN, "shop", "orders", "", "", true, false, "sharding"},
    {"reshardCollection",
     R"({"_id": {"_data": "8265A7"}, "operationType": "reshardCollection", )" DOCSHIFT_AT(7) ", " DOCSHIFT_UUID R"(,
        "ns": {"db": "shop", "coll": "orders"},
        "operationDescription": {"reshardUUID": {"$binary": {"base64": "EjRWeJCrze8SNFZ4kKvN7w==", "subType": "04"}},
          "shardKey": {"sku": 1}, "oldShardKey": {"region": 1, "sku": 1}, "unique": false,
          "numInitialChunks": {"$numberLong": "4"}}})",
     pb::OP_UNKNOWN, "shop", "orders", "", "", true, false, "sharding"},
    {"rename",
     R"({"_id": {"_data": "8265A8"}, "operationType": "rename", )" DOCSHIFT_AT(8) ", " DOCSHIFT_UUID R"(,
        "ns": {"db": "shop", "coll": "tmp"}, "to": {"db": "shop", "coll": "archive"},
        "operationDescription": {"to": {"db": "shop", "coll": "archive"},
          "dropTarget": {"$binary": {"base64": "EjRWeJCrze8SNFZ4kKvN7w==", "subType": "04"}}}})",
     pb::OP_RENAME, "shop", "tmp", "shop", "archive", true, true,
     R"(admin { "renameCollection" : "shop.tmp", "to" : "shop.archive" })"},
    {"drop",
     R"({"_id": {"_data": "8265A9"}, "operationType": "drop", )" DOCSHIFT_AT(9) ", " DOCSHIFT_UUID R"(,
        "ns": {"db": "crm", "coll": "old"}})",
     pb::OP_DROP, "crm", "old", "", "", false, true, R"(crm { "drop" : "old" })"},
    // A document event of an expanded stream: the same as without, plus collectionUUID
    // (https://www.mongodb.com/docs/manual/reference/change-events/insert/).
    {"insert",
     R"({"_id": {"_data": "8265AA"}, "operationType": "insert", )" DOCSHIFT_AT(10) ", " DOCSHIFT_UUID R"(,
        "ns": {"db": "shop", "coll": "orders"}, "documentKey": {"_id": 7},
        "fullDocument": {"_id": 7, "sku": "a-7"}})",
     pb::OP_INSERT, "shop", "orders", "", "", true, true, ""},
};

#undef DOCSHIFT_UUID
#undef DOCSHIFT_AT

}  // namespace docshift::testing_fixtures
