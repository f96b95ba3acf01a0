// The pure parts of the DynamoDB snapshot source: the segment rule and Scan page
// conversion (an item that does not convert becomes an unreadable record).
#include "snapshot/dynamodb_scan.h"

#include <gtest/gtest.h>

namespace docshift::snapshot {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

TEST(DynamoSegmentCountTest, EmptyTableIsOneSegment) {
  EXPECT_EQ(DynamoSegmentCount(0, false, 4, 64), 1);
  EXPECT_EQ(DynamoSegmentCount(0, false, 1, 64), 1);
}

TEST(DynamoSegmentCountTest, SmallTableWithItemsGetsOnePerWorker) {
  EXPECT_EQ(DynamoSegmentCount(1, true, 4, 64), 4);
  // Estimates at 0 (refreshed every ~6 h) but items found by the probe.
  EXPECT_EQ(DynamoSegmentCount(0, true, 8, 64), 8);
  EXPECT_EQ(DynamoSegmentCount(100 * kMiB, true, 1, 64), 1);
}

TEST(DynamoSegmentCountTest, OnePer256MiB) {
  EXPECT_EQ(DynamoSegmentCount(256 * kMiB, true, 1, 64), 1);
  EXPECT_EQ(DynamoSegmentCount(256 * kMiB + 1, true, 1, 64), 2);
  EXPECT_EQ(DynamoSegmentCount(10 * 256 * kMiB, true, 4, 64), 10);
  EXPECT_EQ(DynamoSegmentCount(3 * 256 * kMiB, true, 4, 64), 4);  // parallel wins
}

TEST(DynamoSegmentCountTest, BoundedByMaxRanges) {
  EXPECT_EQ(DynamoSegmentCount(int64_t{1} << 50, true, 4, 64), 64);
  EXPECT_EQ(DynamoSegmentCount(int64_t{1} << 50, true, 4, 1), 1);
  EXPECT_EQ(DynamoSegmentCount(1, true, 16, 8), 8);  // max_ranges beats parallel
  EXPECT_EQ(DynamoSegmentCount(-5, true, 4, 64), 4);
}

TEST(DynamoSegmentCountTest, Describe) { EXPECT_EQ(DescribeSegment(3, 16), "segment 3/16"); }

std::string Json(const bson_t* b) {
  char* s = bson_as_relaxed_extended_json(b, nullptr);
  std::string out(s);
  bson_free(s);
  return out;
}

TEST(ConvertScanItemsTest, GoodAndBadItems) {
  rapidjson::Document items;
  items.Parse(R"([
    {"pk": {"S": "a"}, "n": {"N": "7"}},
    {"pk": {"S": "b"}, "big": {"N": "12345678901234567890123456789012345678"}},
    {"other": {"S": "no key"}},
    {"pk": {"S": "c"}, "tags": {"SS": ["z", "a"]}}
  ])");
  ASSERT_FALSE(items.HasParseError());
  aws::KeySchema keys{"pk", ""};
  std::vector<mongo::BsonPtr> docs;
  std::vector<UnreadableRecord> bad;
  uint64_t bytes = 0;
  ConvertScanItems(items, keys, &docs, &bytes, &bad);
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(Json(docs[0].get()), R"({ "_id" : "a", "pk" : "a", "n" : 7 })");
  EXPECT_EQ(Json(docs[1].get()), R"({ "_id" : "c", "pk" : "c", "tags" : [ "a", "z" ] })");
  EXPECT_EQ(bytes, docs[0]->len + docs[1]->len);
  ASSERT_EQ(bad.size(), 2u);
  // The record keeps the key (as _id) and the item as read; the reason names the attribute.
  EXPECT_NE(bad[0].why.find("big"), std::string::npos) << bad[0].why;
  EXPECT_EQ(Json(bad[0].doc.get()),
            R"({ "_id" : "b", "pk" : "b", "_dynamodb_item" : "{\"pk\":{\"S\":\"b\"},\"big\":{\"N\":\"12345678901234567890123456789012345678\"}}" })");
  // No key attribute: no _id, still the item.
  EXPECT_EQ(Json(bad[1].doc.get()), R"({ "_dynamodb_item" : "{\"other\":{\"S\":\"no key\"}}" })");
}

TEST(ConvertScanItemsTest, HashAndRangeKeyOfAnUnreadableItem) {
  rapidjson::Document item;
  item.Parse(R"({"h": {"N": "1"}, "r": {"S": "x"}, "bad": {"N": "1e999999"}})");
  auto doc = UnreadableItem(item, aws::KeySchema{"h", "r"});
  EXPECT_EQ(Json(doc.get()).rfind(R"({ "_id" : { "h" : 1, "r" : "x" }, "h" : 1, "r" : "x", "_dynamodb_item" : )", 0), 0u)
      << Json(doc.get());
}

TEST(ConvertScanItemsTest, ItemsNotAnArray) {
  rapidjson::Document items;
  items.Parse(R"({"x": 1})");
  std::vector<mongo::BsonPtr> docs;
  std::vector<UnreadableRecord> bad;
  uint64_t bytes = 0;
  ConvertScanItems(items, aws::KeySchema{"pk", ""}, &docs, &bytes, &bad);
  EXPECT_TRUE(docs.empty());
  ASSERT_EQ(bad.size(), 1u);
}

}  // namespace
}  // namespace docshift::snapshot
