// SplitIdRanges against the test bed's real servers: the ranges cover every document
// exactly once, mixed _id types give one range, an empty collection one unbounded range.
// Servers from the environment (build/testbed.env); unset: skipped, or failed under CI.
#include "mongo/id_ranges.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <random>

namespace docshift::mongo {
namespace {

class IdRangesTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    const char* uri = std::getenv(GetParam());
    if (uri == nullptr || *uri == '\0') {
      if (std::getenv("CI")) FAIL() << GetParam() << " is not set (scripts/testbed.sh up)";
      GTEST_SKIP() << GetParam() << " is not set; run scripts/testbed.sh up and source build/testbed.env";
    }
    auto u = ParseUri(uri, GetParam());
    ASSERT_TRUE(u.ok()) << u.status().ToString();
    client_.reset(mongoc_client_new_from_uri(u->get()));
    db_ = "idr_" + std::to_string(std::random_device{}() % 1000000);
    coll_.reset(mongoc_client_get_collection(client_.get(), db_.c_str(), "c"));
  }
  void TearDown() override {
    if (!client_) return;
    mongoc_database_t* d = mongoc_client_get_database(client_.get(), db_.c_str());
    mongoc_database_drop(d, nullptr);
    mongoc_database_destroy(d);
  }
  void Insert(const std::vector<BsonPtr>& docs) {
    std::vector<const bson_t*> ptrs;
    for (const auto& d : docs) ptrs.push_back(d.get());
    bson_error_t err;
    ASSERT_TRUE(mongoc_collection_insert_many(coll_.get(), ptrs.data(), ptrs.size(), nullptr, nullptr, &err))
        << err.message;
  }
  // _id (as JSON) → how many ranges returned it.
  std::map<std::string, int> Cover(const std::vector<IdRange>& ranges) {
    std::map<std::string, int> seen;
    for (const auto& r : ranges) {
      BsonPtr f = RangeFilter(r);
      BsonPtr opts(BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}"));
      CursorPtr cur(mongoc_collection_find_with_opts(coll_.get(), f.get(), opts.get(), nullptr));
      const bson_t* d;
      while (mongoc_cursor_next(cur.get(), &d)) seen[ToJson(d)]++;
      bson_error_t err;
      EXPECT_FALSE(mongoc_cursor_error(cur.get(), &err)) << err.message;
    }
    return seen;
  }

  ClientPtr client_;
  CollPtr coll_;
  std::string db_;
};

TEST_P(IdRangesTest, RangesCoverEveryDocumentOnce) {
  std::vector<BsonPtr> docs;
  for (int i = 0; i < 2500; ++i) {
    // int32, int64 and double _ids: one bracket, compared by value.
    BsonPtr d(bson_new());
    if (i % 3 == 0) BSON_APPEND_INT32(d.get(), "_id", i);
    else if (i % 3 == 1) BSON_APPEND_INT64(d.get(), "_id", i);
    else BSON_APPEND_DOUBLE(d.get(), "_id", i + 0.5);
    docs.push_back(std::move(d));
  }
  Insert(docs);
  auto split = SplitIdRanges(coll_.get(), SplitOptions{1000, 64});
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  EXPECT_FALSE(split->mixed_id_types);
  EXPECT_EQ(split->docs, 2500u);
  ASSERT_EQ(split->ranges.size(), 3u);
  EXPECT_TRUE(split->ranges.front().min_id.empty());
  EXPECT_TRUE(split->ranges.back().max_id.empty());
  auto seen = Cover(split->ranges);
  EXPECT_EQ(seen.size(), 2500u);
  for (const auto& [id, n] : seen) EXPECT_EQ(n, 1) << id;
  // max_ranges caps the count; coverage stays exact.
  auto capped = SplitIdRanges(coll_.get(), SplitOptions{100, 4});
  ASSERT_TRUE(capped.ok());
  EXPECT_LE(capped->ranges.size(), 4u);
  EXPECT_GE(capped->ranges.size(), 2u);
  EXPECT_EQ(Cover(capped->ranges).size(), 2500u);
}

TEST_P(IdRangesTest, MixedIdTypesAreOneRange) {
  std::vector<BsonPtr> docs;
  for (int i = 0; i < 300; ++i) {
    BsonPtr d(bson_new());
    if (i % 2) BSON_APPEND_INT32(d.get(), "_id", i);
    else BSON_APPEND_UTF8(d.get(), "_id", ("s" + std::to_string(i)).c_str());
    docs.push_back(std::move(d));
  }
  Insert(docs);
  auto split = SplitIdRanges(coll_.get(), SplitOptions{50, 64});
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  EXPECT_TRUE(split->mixed_id_types);
  ASSERT_EQ(split->ranges.size(), 1u);
  EXPECT_EQ(Cover(split->ranges).size(), 300u);
}

TEST_P(IdRangesTest, EmptyCollectionIsOneUnboundedRange) {
  auto split = SplitIdRanges(coll_.get(), SplitOptions{10, 64});
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  ASSERT_EQ(split->ranges.size(), 1u);
  EXPECT_TRUE(split->ranges[0].min_id.empty() && split->ranges[0].max_id.empty());
}

INSTANTIATE_TEST_SUITE_P(Servers, IdRangesTest,
                         ::testing::Values("SOURCE_CS_URI", "SOURCE_OPLOG_URI", "TARGET_URI", "TARGET_PG_URI"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace docshift::mongo
