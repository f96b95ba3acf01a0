#include "apply/translate.h"

#include <gtest/gtest.h>

#include "apply/apply_test_util.h"
#include "mongo/mongo_util.h"

namespace docshift::apply {
namespace {

using test_util::B;

std::string J(const mongo::BsonPtr& b) { return mongo::ToJson(b.get()); }

TEST(Translate, InsertAndReplaceBecomeUpsertingReplaces) {
  for (auto op : {pb::OP_INSERT, pb::OP_REPLACE}) {
    pb::ChangeEvent e;
    e.set_op(op);
    e.set_document_key(B(R"({"_id": 7})"));
    e.set_full_document(B(R"({"_id": 7, "a": {"b": [1, 2]}})"));
    DocWrite w;
    ASSERT_TRUE(Translate(e, &w).ok());
    EXPECT_EQ(w.kind, DocWrite::Kind::kReplace);
    EXPECT_EQ(J(w.filter), R"({ "_id" : 7 })");
    EXPECT_EQ(J(w.doc), R"({ "_id" : 7, "a" : { "b" : [ 1, 2 ] } })");
  }
}

TEST(Translate, UpdateWithFullDocumentIsAReplace) {
  pb::ChangeEvent e;
  e.set_op(pb::OP_UPDATE);
  e.set_document_key(B(R"({"_id": "k"})"));
  e.set_full_document(B(R"({"_id": "k", "x": 2})"));
  e.set_update_description(B(R"({"updatedFields": {"x": 2}, "removedFields": []})"));
  DocWrite w;
  ASSERT_TRUE(Translate(e, &w).ok());
  EXPECT_EQ(w.kind, DocWrite::Kind::kReplace);
  EXPECT_EQ(J(w.doc), R"({ "_id" : "k", "x" : 2 })");
}

TEST(Translate, UpdateFromDescriptionSetsUnsetsAndTruncatesFirst) {
  pb::ChangeEvent e;
  e.set_op(pb::OP_UPDATE);
  e.set_document_key(B(R"({"_id": 1})"));
  e.set_update_description(B(
      R"({"updatedFields": {"a.b": 5, "c": "x"}, "removedFields": ["d", "e.f"],
          "truncatedArrays": [{"field": "arr", "newSize": 2}]})"));
  DocWrite w;
  ASSERT_TRUE(Translate(e, &w).ok());
  EXPECT_EQ(w.kind, DocWrite::Kind::kUpdate);
  EXPECT_EQ(J(w.doc), R"({ "$set" : { "a.b" : 5, "c" : "x" }, "$unset" : { "d" : "", "e.f" : "" } })");
  ASSERT_EQ(w.pre_updates.size(), 1u);
  EXPECT_EQ(J(w.pre_updates[0]), R"({ "$push" : { "arr" : { "$each" : [  ], "$slice" : 2 } } })");
}

TEST(Translate, DeleteByKey) {
  pb::ChangeEvent e;
  e.set_op(pb::OP_DELETE);
  e.set_document_key(B(R"({"_id": {"$oid": "65a1b2c3d4e5f60718293a4b"}})"));
  DocWrite w;
  ASSERT_TRUE(Translate(e, &w).ok());
  EXPECT_EQ(w.kind, DocWrite::Kind::kDelete);
  EXPECT_EQ(J(w.filter), R"({ "_id" : { "$oid" : "65a1b2c3d4e5f60718293a4b" } })");
}

TEST(Translate, PermanentProblemsAreInvalidArgument) {
  DocWrite w;
  pb::ChangeEvent no_key;
  no_key.set_op(pb::OP_INSERT);
  no_key.set_full_document(B(R"({"_id": 1})"));
  EXPECT_TRUE(Translate(no_key, &w).IsInvalidArgument());

  pb::ChangeEvent bare_update;
  bare_update.set_op(pb::OP_UPDATE);
  bare_update.set_document_key(B(R"({"_id": 1})"));
  EXPECT_TRUE(Translate(bare_update, &w).IsInvalidArgument());

  pb::ChangeEvent garbage;
  garbage.set_op(pb::OP_REPLACE);
  garbage.set_document_key(B(R"({"_id": 1})"));
  garbage.set_full_document("\x05\x00\x00\x00\x01", 5);
  EXPECT_TRUE(Translate(garbage, &w).IsInvalidArgument());

  pb::ChangeEvent ddl;
  ddl.set_op(pb::OP_DROP);
  ddl.set_document_key(B(R"({"_id": 1})"));
  EXPECT_TRUE(Translate(ddl, &w).IsInvalidArgument());
}

TEST(NamespaceMap, CollectionBeatsDatabaseAndBadSpecsAreRefused) {
  NamespaceMap m;
  ASSERT_TRUE(m.Add("shop.orders=archive.orders2023").ok());
  ASSERT_TRUE(m.Add("shop=shop_v2").ok());
  EXPECT_EQ(m.Map("shop", "orders"), std::make_pair(std::string("archive"), std::string("orders2023")));
  EXPECT_EQ(m.Map("shop", "users"), std::make_pair(std::string("shop_v2"), std::string("users")));
  EXPECT_EQ(m.Map("crm", "users"), std::make_pair(std::string("crm"), std::string("users")));
  EXPECT_TRUE(m.Add("shop.orders=archive").IsInvalidArgument());
  EXPECT_TRUE(m.Add("=x").IsInvalidArgument());
  EXPECT_TRUE(m.Add("noequals").IsInvalidArgument());
}

}  // namespace
}  // namespace docshift::apply

namespace docshift::apply {
namespace {

TEST(CanonicalKey, NumbersCompareByValueOtherTypesByBytes) {
  auto k = [](const char* json) { return CanonicalKey(B(json)); };
  EXPECT_EQ(k(R"({"_id": 1})"), k(R"({"_id": {"$numberLong": "1"}})"));
  EXPECT_EQ(k(R"({"_id": 1})"), k(R"({"_id": 1.0})"));
  EXPECT_NE(k(R"({"_id": 1})"), k(R"({"_id": 1.5})"));
  EXPECT_NE(k(R"({"_id": 1})"), k(R"({"_id": "1"})"));
  EXPECT_EQ(k(R"({"_id": {"a": 1, "b": [2]}})"), k(R"({"_id": {"a": {"$numberLong": "1"}, "b": [2.0]}})"));
  EXPECT_NE(k(R"({"_id": {"a": 1}})"), k(R"({"_id": {"b": 1}})"));
  EXPECT_EQ(k(R"({"_id": 5, "shard": "x"})"), k(R"({"_id": 5})"));
  EXPECT_NE(k(R"({"_id": {"$oid": "65a1b2c3d4e5f60718293a4b"}})"), k(R"({"_id": {"$oid": "65a1b2c3d4e5f60718293a4c"}})"));
}

TEST(Translate, KeyWithoutIdIsRefused) {
  pb::ChangeEvent e;
  e.set_op(pb::OP_UPDATE);
  e.set_document_key(B(R"({"$set": {"a": 1}})"));
  e.set_full_document(B(R"({"a": 1})"));
  DocWrite w;
  Status s = Translate(e, &w);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("has no _id"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace docshift::apply

namespace docshift::apply {
namespace {

TEST(Translate, FilterIsIdAloneEvenWhenTheKeyCarriesMore) {
  // mongo-java-server puts a replace's whole new document in documentKey.
  pb::ChangeEvent e;
  e.set_op(pb::OP_UPDATE);
  e.set_document_key(B(R"({"_id": 3, "a": 1, "b": 2})"));
  e.set_full_document(B(R"({"_id": 3, "a": 1, "b": 2})"));
  DocWrite w;
  ASSERT_TRUE(Translate(e, &w).ok());
  EXPECT_EQ(J(w.filter), R"({ "_id" : 3 })");
}

}  // namespace
}  // namespace docshift::apply
