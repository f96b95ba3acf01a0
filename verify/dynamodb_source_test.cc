// verify's conversion of DynamoDB items: converted items as aws::ItemToBson makes them;
// unconvertible ones as {_id: key} with a reason naming the attribute, never a failure.
#include "verify/dynamodb_source.h"

#include <gtest/gtest.h>

#include <string>

#include "verify/compare.h"

namespace docshift::verify {
namespace {

struct Converted {
  std::string json;     // relaxed extended JSON of the document
  std::string problem;
};

Converted Convert(const char* item_json, const aws::KeySchema& keys) {
  rapidjson::Document item;
  item.Parse(item_json);
  EXPECT_FALSE(item.HasParseError()) << item_json;
  Converted c;
  mongo::BsonPtr doc = ItemToSourceBson(item, keys, &c.problem);
  EXPECT_TRUE(doc);
  c.json = mongo::ToJson(doc.get());
  return c;
}

const aws::KeySchema kHash{"pk", ""};
const aws::KeySchema kHashRange{"user", "ts"};

TEST(ItemToSourceBson, ConvertsAsCaptureDoes) {
  Converted c = Convert(R"({"pk": {"S": "a"}, "n": {"N": "42"}, "ss": {"SS": ["b", "a"]}})", kHash);
  EXPECT_EQ(c.problem, "");
  EXPECT_EQ(c.json, R"({ "_id" : "a", "pk" : "a", "n" : 42, "ss" : [ "a", "b" ] })");
}

TEST(ItemToSourceBson, UnconvertibleAttributeKeepsKeyAndNamesAttribute) {
  Converted c = Convert(R"({"user": {"N": "7"}, "ts": {"S": "x"},
                            "m": {"M": {"price": {"N": "12345678901234567890123456789012345678"}}}})",
                        kHashRange);
  EXPECT_EQ(c.json, R"({ "_id" : { "user" : 7, "ts" : "x" } })");
  EXPECT_NE(c.problem.find("m.price"), std::string::npos) << c.problem;
  EXPECT_NE(c.problem.find("34"), std::string::npos) << c.problem;
}

TEST(ItemToSourceBson, UnconvertibleKeyGetsAStringId) {
  Converted c = Convert(R"({"pk": {"N": "12345678901234567890123456789012345678"}, "a": {"S": "x"}})",
                        {"pk", ""});
  EXPECT_NE(c.problem.find("pk"), std::string::npos) << c.problem;
  EXPECT_NE(c.json.find("unconvertible key"), std::string::npos) << c.json;
  EXPECT_NE(c.json.find("12345678901234567890123456789012345678"), std::string::npos) << c.json;
}

TEST(ItemToSourceBson, MissingKeyAttributeIsAProblemNotACrash) {
  Converted c = Convert(R"({"other": {"S": "x"}})", kHash);
  EXPECT_FALSE(c.problem.empty());
  EXPECT_NE(c.json.find("unconvertible key"), std::string::npos) << c.json;
}

}  // namespace
}  // namespace docshift::verify
