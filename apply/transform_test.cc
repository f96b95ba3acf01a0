#include "apply/transform.h"

#include <gtest/gtest.h>

#include "apply/apply_test_util.h"
#include "apply/translate.h"
#include "mongo/mongo_util.h"

namespace docshift::apply {
namespace {

using test_util::B;

std::string J(const std::string& bytes) {
  bson_t b;
  if (!mongo::ViewBytes(bytes, &b)) return "<none>";
  return mongo::ToJson(&b);
}

Transforms Load(const char* json) {
  auto t = Transforms::Parse(json, "--transforms t.json");
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(t).value() : Transforms();
}

std::string ParseError(const char* json) {
  auto t = Transforms::Parse(json, "--transforms t.json");
  EXPECT_FALSE(t.ok()) << json;
  return t.ok() ? "" : t.status().message();
}

std::string Doc(const TransformRule& r, const char* json) {
  auto in = mongo::FromJson(json);
  auto out = TransformDocument(r, in.get());
  if (!out.ok()) return "ERROR " + out.status().message();
  return mongo::ToJson(out->get());
}

constexpr const char* kSeed = R"({"rules": [
  {"namespace": "dynamodb.mytable", "rename": {"Name": "name"}, "drop": ["tmp"],
   "defaults": {"age": null}, "dates": {"created_at": "seconds"}, "id": "id"}]})";

TEST(Transforms, SeedRuleEveryOperation) {
  Transforms t = Load(kSeed);
  const TransformRule* r = t.RuleFor("dynamodb", "mytable");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(Doc(*r, R"({"created_at": 1588166541, "id": 3, "Name": "John", "tmp": 1})"),
            R"({ "_id" : 3, "created_at" : { "$date" : "2020-04-29T13:22:21Z" }, "id" : 3, "name" : "John", "age" : null })");
  EXPECT_EQ(t.RuleFor("dynamodb", "other"), nullptr);
}

TEST(Transforms, FirstMatchingGlobWins) {
  Transforms t = Load(R"({"rules": [{"namespace": "shop.orders", "drop": ["a"]},
                                     {"namespace": "shop.*", "drop": ["b"]}]})");
  EXPECT_EQ(t.RuleFor("shop", "orders")->index, 0);
  EXPECT_EQ(t.RuleFor("shop", "items")->index, 1);
  EXPECT_EQ(t.RuleFor("shop2", "items"), nullptr);
}

TEST(Transforms, RenameReplacesAnExistingFieldAsRenameDoes) {
  Transforms t = Load(R"({"rules": [{"namespace": "a.b", "rename": {"old": "new"}}]})");
  const TransformRule& r = t.rules()[0];
  EXPECT_EQ(Doc(r, R"({"_id": 1, "new": "stale", "old": "x"})"), R"({ "_id" : 1, "new" : "x" })");
  EXPECT_EQ(Doc(r, R"({"_id": 1, "new": "kept"})"), R"({ "_id" : 1, "new" : "kept" })");
}

TEST(Transforms, DatesFromEveryNumberTypeAndRefusalsOfOthers) {
  Transforms t = Load(R"({"rules": [{"namespace": "a.b", "dates": {"s": "seconds", "ms": "milliseconds"}}]})");
  const TransformRule& r = t.rules()[0];
  EXPECT_EQ(Doc(r, R"({"s": {"$numberLong": "1"}, "ms": 1500})"),
            R"({ "s" : { "$date" : "1970-01-01T00:00:01Z" }, "ms" : { "$date" : "1970-01-01T00:00:01.500Z" } })");
  EXPECT_EQ(Doc(r, R"({"s": 1.25})"), R"({ "s" : { "$date" : "1970-01-01T00:00:01.250Z" } })");
  EXPECT_EQ(Doc(r, R"({"s": {"$numberDecimal": "2.5"}})"), R"({ "s" : { "$date" : "1970-01-01T00:00:02.500Z" } })");
  // A date stays, null stays, a missing field stays missing.
  EXPECT_EQ(Doc(r, R"({"s": {"$date": "2020-01-01T00:00:00Z"}, "ms": null})"),
            R"({ "s" : { "$date" : "2020-01-01T00:00:00Z" }, "ms" : null })");
  EXPECT_EQ(Doc(r, R"({"x": 1})"), R"({ "x" : 1 })");
  EXPECT_EQ(Doc(r, R"({"s": "yesterday"})"),
            "ERROR transforms rule 1 (a.b): field \"s\" is a string, not a number; it cannot become a date (epoch seconds)");
  EXPECT_NE(Doc(r, R"({"s": {"$numberLong": "9223372036854775807"}})").find("out of the range of a date"), std::string::npos);
  EXPECT_NE(Doc(r, R"({"ms": {"$numberDouble": "Infinity"}})").find("out of the range"), std::string::npos);
}

TEST(Transforms, DefaultsOnlyWhenMissingAndConvertedWhenADateField) {
  Transforms t = Load(R"({"rules": [{"namespace": "a.b", "defaults": {"n": 0, "d": 60, "when": {"$date": "2020-01-01T00:00:00Z"}},
                                     "dates": {"d": "seconds"}}]})");
  const TransformRule& r = t.rules()[0];
  EXPECT_EQ(Doc(r, R"({"n": 5})"),
            R"({ "n" : 5, "d" : { "$date" : "1970-01-01T00:01:00Z" }, "when" : { "$date" : "2020-01-01T00:00:00Z" } })");
}

TEST(Transforms, IdFromOneOrSeveralFields) {
  Transforms one = Load(R"({"rules": [{"namespace": "a.b", "id": ["k"]}]})");
  EXPECT_EQ(Doc(one.rules()[0], R"({"_id": {"$oid": "5f0000000000000000000000"}, "x": 1, "k": "a"})"),
            R"({ "_id" : "a", "x" : 1, "k" : "a" })");
  EXPECT_EQ(Doc(one.rules()[0], R"({"x": 1})"),
            "ERROR transforms rule 1 (a.b): the document has no field \"k\" to make _id from");
  EXPECT_EQ(Doc(one.rules()[0], R"({"k": [1]})"),
            "ERROR transforms rule 1 (a.b): field \"k\" is an array, which cannot be an _id");
  Transforms two = Load(R"({"rules": [{"namespace": "a.b", "rename": {"T": "tenant"}, "id": ["tenant", "n"]}]})");
  EXPECT_EQ(Doc(two.rules()[0], R"({"n": 2, "T": "t1"})"),
            R"({ "_id" : { "tenant" : "t1", "n" : 2 }, "n" : 2, "tenant" : "t1" })");
}

TEST(Transforms, DateMadeIdUsesTheConvertedValue) {
  Transforms t = Load(R"({"rules": [{"namespace": "a.b", "dates": {"t": "seconds"}, "id": ["t"]}]})");
  EXPECT_EQ(Doc(t.rules()[0], R"({"t": 0})"),
            R"({ "_id" : { "$date" : "1970-01-01T00:00:00Z" }, "t" : { "$date" : "1970-01-01T00:00:00Z" } })");
}

TEST(Transforms, BadFilesAreOneLineNamingTheFileTheRuleAndTheFix) {
  const std::string json = ParseError("{not json");
  EXPECT_EQ(json.find("--transforms t.json: not valid JSON ("), 0u) << json;
  EXPECT_NE(json.find("); the file must be {\"rules\": [{\"namespace\": \"db.coll\", ...}, ...]}"), std::string::npos);
  EXPECT_EQ(ParseError(R"({"rulez": []})"),
            "--transforms t.json: unknown key \"rulez\"; the file must be {\"rules\": [{\"namespace\": \"db.coll\", ...}, ...]}");
  EXPECT_EQ(ParseError(R"({"rules": [{"namespace": "a.b", "renam": {}}]})"),
            "--transforms t.json: rule 1 (a.b): unknown operation \"renam\"; a rule takes namespace, rename, drop, "
            "defaults, dates and id");
  EXPECT_EQ(ParseError(R"({"rules": [{"namespace": "a.[b"}]})"),
            "--transforms t.json: rule 1 (a.[b): namespace glob \"a.[b\" has a '[' without its ']' (fnmatch syntax, "
            "on the source db.coll)");
  EXPECT_EQ(ParseError(R"({"rules": [{"drop": ["x"]}]})"),
            "--transforms t.json: rule 1: has no \"namespace\"; give the source namespace glob it applies to, like "
            "\"db.coll\" or \"db.*\"");
  EXPECT_EQ(ParseError(R"({"rules": [{"namespace": "a.b", "dates": {"t": "hours"}}]})"),
            "--transforms t.json: rule 1 (a.b): \"dates\" of \"t\" must be \"seconds\" or \"milliseconds\" (the epoch "
            "unit), not \"hours\"");
  EXPECT_EQ(ParseError(R"({"rules": [{"namespace": "a.b", "drop": [1]}]})"),
            "--transforms t.json: rule 1 (a.b): \"drop\" holds an int32; give field names (strings)");
  EXPECT_EQ(ParseError(R"({"rules": [{"namespace": "a.b", "drop": ["x.y"]}]})"),
            "--transforms t.json: rule 1 (a.b): \"drop\" names \"x.y\" (rules name top-level fields: no '.')");
  EXPECT_EQ(ParseError(R"({"rules": [{"namespace": "a.b", "rename": {"_id": "k"}}]})").find("\"rename\" names \"_id\""),
            std::string("--transforms t.json: rule 1 (a.b): ").size());
  EXPECT_EQ(ParseError(R"({"rules": [{"namespace": "a.b", "rename": {"a": "b"}, "dates": {"a": "seconds"}}]})"),
            "--transforms t.json: rule 1 (a.b): \"dates\" names \"a\", which \"rename\" moves to \"b\"; name it \"b\" "
            "(rename comes first)");
  EXPECT_EQ(ParseError(R"({"rules": [{"namespace": "a.b", "drop": ["a"], "id": ["a"]}]})"),
            "--transforms t.json: rule 1 (a.b): \"id\" names \"a\", which \"drop\" removes; remove one of them");
  EXPECT_EQ(ParseError(R"({"rules": [{"namespace": "a.b", "rename": {"a": "b", "b": "c"}}]})"),
            "--transforms t.json: rule 1 (a.b): \"rename\" names \"b\" or \"c\" in two renames; rename each field "
            "once, to a name no other rename uses");
  for (const char* bad : {R"({"rules": {}})", R"({})", R"({"rules": [3]})", R"({"rules": [{"namespace": 3}]})",
                          R"({"rules": [{"namespace": "ab"}]})", R"({"rules": [{"namespace": "a.b", "id": []}]})"}) {
    const std::string m = ParseError(bad);
    EXPECT_EQ(m.find("--transforms t.json: "), 0u) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST(Transforms, LoadNamesAMissingFile) {
  auto t = Transforms::Load("/nonexistent/rules.json");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(), "--transforms /nonexistent/rules.json: cannot read the file; give a readable JSON rules file");
}

pb::ChangeEvent Event(pb::OpType op, const char* key, const char* full = nullptr, const char* desc = nullptr) {
  pb::ChangeEvent e;
  e.set_db("a");
  e.set_coll("b");
  e.set_op(op);
  e.set_document_key(B(key));
  if (full != nullptr) e.set_full_document(B(full));
  if (desc != nullptr) e.set_update_description(B(desc));
  return e;
}

TEST(TransformEvent, InsertGetsTheNewKey) {
  Transforms t = Load(kSeed);
  pb::ChangeEvent e = Event(pb::OP_INSERT, R"({"_id": "x"})", R"({"_id": "x", "id": 3, "created_at": 0})");
  ASSERT_TRUE(TransformEvent(*t.RuleFor("dynamodb", "mytable"), &e).ok());
  EXPECT_EQ(J(e.document_key()), R"({ "_id" : 3 })");
  EXPECT_EQ(J(e.full_document()),
            R"({ "_id" : 3, "id" : 3, "created_at" : { "$date" : "1970-01-01T00:00:00Z" }, "age" : null })");
  DocWrite w;
  ASSERT_TRUE(Translate(e, &w).ok());
  EXPECT_EQ(mongo::ToJson(w.filter.get()), R"({ "_id" : 3 })");
}

TEST(TransformEvent, UpdateDescriptionPathsFollowTheRule) {
  Transforms t = Load(R"({"rules": [{"namespace": "a.b", "rename": {"Name": "name"}, "drop": ["tmp"],
                                     "defaults": {"age": -1}, "dates": {"at": "milliseconds"}}]})");
  const TransformRule& r = t.rules()[0];
  pb::ChangeEvent e = Event(pb::OP_UPDATE, R"({"_id": 1})", nullptr,
                            R"({"updatedFields": {"Name.first": "A", "tmp.x": 1, "at": 1000, "k": 2},
                                "removedFields": ["tmp", "age", "Name.last", "z"],
                                "truncatedArrays": [{"field": "Name.list", "newSize": 1}, {"field": "tmp", "newSize": 0}]})");
  ASSERT_TRUE(TransformEvent(r, &e).ok());
  EXPECT_EQ(J(e.update_description()),
            R"({ "updatedFields" : { "name.first" : "A", "at" : { "$date" : "1970-01-01T00:00:01Z" }, "k" : 2, "age" : -1 }, )"
            R"("removedFields" : [ "name.last", "z" ], "truncatedArrays" : [ { "field" : "name.list", "newSize" : 1 } ] })");
  EXPECT_EQ(e.op(), pb::OP_UPDATE);
}

TEST(TransformEvent, AnUpdateOfDroppedFieldsOnlyBecomesANoop) {
  Transforms t = Load(R"({"rules": [{"namespace": "a.b", "drop": ["tmp"]}]})");
  pb::ChangeEvent e = Event(pb::OP_UPDATE, R"({"_id": 1})", nullptr, R"({"updatedFields": {"tmp": 1}, "removedFields": []})");
  ASSERT_TRUE(TransformEvent(t.rules()[0], &e).ok());
  EXPECT_EQ(e.op(), pb::OP_NOOP);
  // With its full document, the update stays (the document is written).
  pb::ChangeEvent f = Event(pb::OP_UPDATE, R"({"_id": 1})", R"({"_id": 1, "tmp": 1})",
                            R"({"updatedFields": {"tmp": 1}, "removedFields": []})");
  ASSERT_TRUE(TransformEvent(t.rules()[0], &f).ok());
  EXPECT_EQ(f.op(), pb::OP_UPDATE);
  EXPECT_EQ(J(f.full_document()), R"({ "_id" : 1 })");
}

TEST(TransformEvent, UpdateThatCannotTransformIsRefusedUnlessItHasItsFullDocument) {
  Transforms t = Load(R"({"rules": [{"namespace": "a.b", "dates": {"at": "seconds"}}]})");
  pb::ChangeEvent e = Event(pb::OP_UPDATE, R"({"_id": 1})", nullptr, R"({"updatedFields": {"at": "soon"}})");
  Status s = TransformEvent(t.rules()[0], &e);
  EXPECT_EQ(s.message(), "transforms rule 1 (a.b): field \"at\" is a string, not a number; it cannot become a date (epoch seconds)");
  pb::ChangeEvent f = Event(pb::OP_UPDATE, R"({"_id": 1})", R"({"_id": 1, "at": 5})", R"({"updatedFields": {"at.x": 1}})");
  ASSERT_TRUE(TransformEvent(t.rules()[0], &f).ok());
  EXPECT_TRUE(f.update_description().empty());  // apply writes the full document
  EXPECT_EQ(J(f.full_document()), R"({ "_id" : 1, "at" : { "$date" : "1970-01-01T00:00:05Z" } })");
}

TEST(TransformEvent, UpdateOfAFieldARenameReplacesIsRefusedWithoutTheFullDocument) {
  Transforms t = Load(R"({"rules": [{"namespace": "a.b", "rename": {"Name": "name"}, "dates": {"at": "seconds"}}]})");
  pb::ChangeEvent e = Event(pb::OP_UPDATE, R"({"_id": 1})", nullptr, R"({"updatedFields": {"name": "x"}})");
  EXPECT_EQ(TransformEvent(t.rules()[0], &e).message(),
            "transforms rule 1 (a.b): the update changes \"name\", a field the rule's rename of \"Name\" replaces on the target");
  pb::ChangeEvent a = Event(pb::OP_UPDATE, R"({"_id": 1})", nullptr,
                            R"({"updatedFields": {}, "truncatedArrays": [{"field": "at", "newSize": 1}]})");
  EXPECT_EQ(TransformEvent(t.rules()[0], &a).message(),
            "transforms rule 1 (a.b): the update truncates an array in field \"at\", which the rule makes a date");
  // An insert without a valid full document is left for Translate to refuse.
  pb::ChangeEvent i = Event(pb::OP_INSERT, R"({"_id": 1})");
  ASSERT_TRUE(TransformEvent(t.rules()[0], &i).ok());
  DocWrite w;
  EXPECT_FALSE(Translate(i, &w).ok());
}

TEST(TransformEvent, IdRuleNeedsTheFieldsForUpdatesAndDeletes) {
  Transforms t = Load(R"({"rules": [{"namespace": "a.b", "id": ["tenant", "n"]}]})");
  const TransformRule& r = t.rules()[0];
  // A delete or description-only update whose key holds the fields (a DynamoDB hash +
  // range key, a sharded source's key): addressed by the new _id.
  pb::ChangeEvent d = Event(pb::OP_DELETE, R"({"_id": {"tenant": "t", "n": 1}})");
  ASSERT_TRUE(TransformEvent(r, &d).ok());
  EXPECT_EQ(J(d.document_key()), R"({ "_id" : { "tenant" : "t", "n" : 1 } })");
  pb::ChangeEvent k = Event(pb::OP_DELETE, R"({"_id": 9, "tenant": "t", "n": 2})");
  ASSERT_TRUE(TransformEvent(r, &k).ok());
  EXPECT_EQ(J(k.document_key()), R"({ "_id" : { "tenant" : "t", "n" : 2 } })");
  // A delete with its before-image.
  pb::ChangeEvent img = Event(pb::OP_DELETE, R"({"_id": 9})", R"({"_id": 9, "n": 3, "tenant": "u"})");
  ASSERT_TRUE(TransformEvent(r, &img).ok());
  EXPECT_EQ(J(img.document_key()), R"({ "_id" : { "tenant" : "u", "n" : 3 } })");
  // Only the source _id: refused, saying what to configure.
  pb::ChangeEvent bare = Event(pb::OP_DELETE, R"({"_id": 9})");
  Status s = TransformEvent(r, &bare);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("a delete carries only its key { \"_id\" : 9 }, which lacks what the rule makes _id from "
                             "(\"tenant\", \"n\"): the target document cannot be found"),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("NEW_AND_OLD_IMAGES"), std::string::npos);
  pb::ChangeEvent upd = Event(pb::OP_UPDATE, R"({"_id": 9})", nullptr, R"({"updatedFields": {"x": 1}})");
  s = TransformEvent(r, &upd);
  EXPECT_NE(s.message().find("an update without its full document carries only its key"), std::string::npos) << s.message();
  pb::ChangeEvent upd_key = Event(pb::OP_UPDATE, R"({"_id": {"tenant": "t", "n": 1}})", nullptr, R"({"updatedFields": {"x": 1}})");
  ASSERT_TRUE(TransformEvent(r, &upd_key).ok());
  EXPECT_EQ(J(upd_key.document_key()), R"({ "_id" : { "tenant" : "t", "n" : 1 } })");
  // Changing a field _id is made from: refused even with the full document.
  pb::ChangeEvent moves = Event(pb::OP_UPDATE, R"({"_id": 9})", R"({"_id": 9, "tenant": "t", "n": 5})",
                                R"({"updatedFields": {"n": 5}})");
  s = TransformEvent(r, &moves);
  EXPECT_NE(s.message().find("the update changes \"n\", a field the rule makes _id from"), std::string::npos) << s.message();
}

TEST(TransformEvent, DeletesAndDdlWithoutAnIdRuleAreUntouched) {
  Transforms t = Load(R"({"rules": [{"namespace": "a.b", "drop": ["x"]}]})");
  pb::ChangeEvent d = Event(pb::OP_DELETE, R"({"_id": 9})");
  const std::string before = d.SerializeAsString();
  ASSERT_TRUE(TransformEvent(t.rules()[0], &d).ok());
  EXPECT_EQ(d.SerializeAsString(), before);
  pb::ChangeEvent ddl = Event(pb::OP_DROP, R"({})");
  ASSERT_TRUE(TransformEvent(t.rules()[0], &ddl).ok());
}

}  // namespace
}  // namespace docshift::apply
