#include "verify/compare.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace docshift::verify {
namespace {

using mongo::BsonPtr;
using mongo::FromJson;

std::string Id(const char* json) {
  BsonPtr b = FromJson(json);
  return mongo::Bytes(b.get());
}

uint64_t H(const char* json, bool strict = false) {
  BsonPtr b = FromJson(json);
  EXPECT_TRUE(b) << json;
  return HashDocument(b.get(), strict);
}

TEST(HashDocument, FieldOrderIgnoredUnlessStrict) {
  EXPECT_EQ(H(R"({"_id": 1, "a": 1, "b": {"x": 1, "y": 2}})"),
            H(R"({"b": {"y": 2, "x": 1}, "_id": 1, "a": 1})"));
  EXPECT_NE(H(R"({"_id": 1, "a": 1, "b": 2})", true), H(R"({"_id": 1, "b": 2, "a": 1})", true));
  EXPECT_EQ(H(R"({"_id": 1, "a": 1, "b": 2})", true), H(R"({"_id": 1, "a": 1, "b": 2})", true));
}

TEST(HashDocument, ArrayOrderCounts) {
  EXPECT_NE(H(R"({"_id": 1, "a": [1, 2]})"), H(R"({"_id": 1, "a": [2, 1]})"));
}

TEST(HashDocument, NumericIdTypeIgnoredButFieldTypesCount) {
  EXPECT_EQ(H(R"({"_id": {"$numberInt": "7"}, "a": "x"})"),
            H(R"({"_id": {"$numberLong": "7"}, "a": "x"})"));
  EXPECT_EQ(H(R"({"_id": {"$numberInt": "7"}})"), H(R"({"_id": {"$numberDouble": "7.0"}})"));
  EXPECT_NE(H(R"({"_id": 1, "a": {"$numberInt": "7"}})"),
            H(R"({"_id": 1, "a": {"$numberLong": "7"}})"));
  EXPECT_NE(H(R"({"_id": 1, "a": {"$numberDouble": "-0.0"}})"),
            H(R"({"_id": 1, "a": {"$numberDouble": "0.0"}})"));
  EXPECT_NE(H(R"({"_id": 1, "a": {"$binary": {"base64": "AA==", "subType": "00"}}})"),
            H(R"({"_id": 1, "a": {"$binary": {"base64": "AA==", "subType": "05"}}})"));
}

TEST(HashDocument, ValuesAndNamesAreDelimited) {
  // Same bytes split differently between name and value, or between fields.
  EXPECT_NE(H(R"({"_id": 1, "ab": "c"})"), H(R"({"_id": 1, "a": "bc"})"));
  EXPECT_NE(H(R"({"_id": 1, "a": "x", "b": ""})"), H(R"({"_id": 1, "a": "", "b": "x"})"));
  EXPECT_NE(H(R"({"_id": 1, "a": {"b": 1}})"), H(R"({"_id": 1, "a": [1]})"));
  EXPECT_NE(H(R"({"_id": 1})"), H(R"({"_id": 2})"));
  EXPECT_NE(H(R"({"_id": "1"})"), H(R"({"_id": 1})"));
}

TEST(HashDocument, LargeAndEmptyDocuments) {
  EXPECT_EQ(H("{}"), H("{}"));
  std::string big(4 << 20, 'x');
  BsonPtr a(bson_new()), b(bson_new());
  BSON_APPEND_INT32(a.get(), "_id", 1);
  BSON_APPEND_UTF8(a.get(), "s", big.c_str());
  BSON_APPEND_INT32(b.get(), "_id", 1);
  big.back() = 'y';
  BSON_APPEND_UTF8(b.get(), "s", big.c_str());
  EXPECT_NE(HashDocument(a.get(), false), HashDocument(b.get(), false));
}

TEST(RangeComparer, ClassifiesMissingExtraChanged) {
  RangeComparer c;
  EXPECT_TRUE(c.AddSource(Id(R"({"_id": 1})"), 10));
  EXPECT_TRUE(c.AddSource(Id(R"({"_id": 2})"), 20));
  EXPECT_TRUE(c.AddSource(Id(R"({"_id": "s"})"), 30));
  EXPECT_TRUE(c.AddSource(Id(R"({"_id": {"$oid": "64b7f0000000000000000001"}})"), 40));
  c.AddTarget(Id(R"({"_id": 1})"), 10);    // same
  c.AddTarget(Id(R"({"_id": 2})"), 21);    // changed
  c.AddTarget(Id(R"({"_id": "t"})"), 50);  // extra
  c.AddTarget(Id(R"({"_id": {"$oid": "64b7f0000000000000000001"}})"), 40);
  auto d = c.Finish();
  ASSERT_EQ(d.size(), 3u);
  std::map<std::string, DiffKind> got;
  for (const auto& x : d) got[IdJson(x.id)] = x.kind;
  EXPECT_EQ(got["2"], DiffKind::kChanged);
  EXPECT_EQ(got["\"t\""], DiffKind::kExtra);
  EXPECT_EQ(got["\"s\""], DiffKind::kMissing);
  EXPECT_TRUE(c.Finish().empty());  // reset
}

TEST(RangeComparer, NumericIdTypesMatchByValue) {
  RangeComparer c;
  c.AddSource(Id(R"({"_id": {"$numberInt": "5"}})"), 1);
  c.AddTarget(Id(R"({"_id": {"$numberLong": "5"}})"), 1);
  EXPECT_TRUE(c.Finish().empty());
}

TEST(RangeComparer, DuplicateKeyOnOneSideIsRefused) {
  RangeComparer c;
  EXPECT_TRUE(c.AddSource(Id(R"({"_id": {"$numberInt": "5"}})"), 1));
  EXPECT_FALSE(c.AddSource(Id(R"({"_id": {"$numberDouble": "5.0"}})"), 2));
}

// A source document that could not be converted differs from whatever the target holds,
// even a document whose hash happens to match, and the candidate carries the reason.
TEST(RangeComparer, UnconvertibleSourceDocumentAlwaysDiffers) {
  RangeComparer c;
  c.AddSource(Id(R"({"_id": "bad"})"), 0, "DynamoDB attribute price: too many digits");
  c.AddSource(Id(R"({"_id": "gone"})"), 0, "DynamoDB attribute x: not a number");
  c.AddSource(Id(R"({"_id": "fine"})"), 7);
  c.AddTarget(Id(R"({"_id": "bad"})"), 0);
  c.AddTarget(Id(R"({"_id": "fine"})"), 7);
  auto d = c.Finish();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(IdJson(d[0].id), "\"bad\"");
  EXPECT_EQ(d[0].kind, DiffKind::kChanged);
  EXPECT_EQ(d[0].problem, "DynamoDB attribute price: too many digits");
  EXPECT_EQ(IdJson(d[1].id), "\"gone\"");
  EXPECT_EQ(d[1].kind, DiffKind::kMissing);
  EXPECT_EQ(d[1].problem, "DynamoDB attribute x: not a number");
}

TEST(RangeComparer, OutputSortedIndependentOfArrivalOrder) {
  auto run = [](bool reverse) {
    RangeComparer c;
    std::vector<int> ids = {5, 3, 9, 1};
    if (reverse) std::reverse(ids.begin(), ids.end());
    for (int i : ids) c.AddSource(Id(("{\"_id\": " + std::to_string(i) + "}").c_str()), i);
    std::vector<std::string> out;
    for (const auto& d : c.Finish()) out.push_back(IdJson(d.id));
    return out;
  };
  EXPECT_EQ(run(false), run(true));
}

TEST(IdJson, Values) {
  EXPECT_EQ(IdJson(Id(R"({"_id": 1})")), "1");
  EXPECT_EQ(IdJson(Id(R"({"_id": "a\"b"})")), "\"a\\\"b\"");
  EXPECT_EQ(IdJson(Id(R"({"_id": {"$oid": "64b7f0000000000000000001"}})")),
            "{ \"$oid\" : \"64b7f0000000000000000001\" }");
  EXPECT_EQ(IdJson(""), "null");
}

}  // namespace
}  // namespace docshift::verify
