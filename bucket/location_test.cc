#include "bucket/location.h"

#include <gtest/gtest.h>

namespace docshift::bucket {
namespace {

TEST(BucketLocationTest, ParsesBucketAndPrefix) {
  auto a = ParseBucketUrl("s3://my-bucket/spools/prod/", "--to");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->bucket, "my-bucket");
  EXPECT_EQ(a->prefix, "spools/prod");
  EXPECT_EQ(a->ToString(), "s3://my-bucket/spools/prod");
  EXPECT_EQ(a->LogKey(7), "spools/prod/log/00000000000000000007");
  EXPECT_EQ(a->SegmentKey("00000000000000000001.seg"), "spools/prod/segments/00000000000000000001.seg");
  EXPECT_EQ(a->CheckpointKey("apply"), "spools/prod/checkpoints/apply.ckpt");
  EXPECT_EQ(a->SnapshotStateKey(), "spools/prod/snapshot/STATE");
  EXPECT_EQ(a->DeadLetterKey("apply"), "spools/prod/deadletter/apply.dlq");
  EXPECT_EQ(a->Url("log/"), "s3://my-bucket/spools/prod/log/");

  auto b = ParseBucketUrl("s3://bkt", "--to");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->prefix, "");
  EXPECT_EQ(b->LogKey(1), "log/00000000000000000001");
  EXPECT_EQ(b->ToString(), "s3://bkt");
}

TEST(BucketLocationTest, RefusesWhatS3OrTheLayoutCannotHold) {
  for (const char* bad : {"http://bkt/x", "s3://", "s3:///x", "s3://ab", "s3://Upper/x", "s3://-bkt/x",
                          "s3://bkt-/x", "s3://bkt//x", "s3://bkt/a//b", "s3://bkt/../x", "s3://bkt/a/./b",
                          "s3://bkt/a b", "s3://bkt_x/y"}) {
    auto r = ParseBucketUrl(bad, "--to");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(r.status().IsInvalidArgument()) << bad;
    EXPECT_NE(r.status().message().find("--to '"), std::string::npos) << r.status().ToString();
    EXPECT_NE(r.status().message().find("expected s3://BUCKET"), std::string::npos) << r.status().ToString();
  }
}

TEST(BucketLocationTest, LogNumbers) {
  EXPECT_EQ(ParseLogNumber("p/log/00000000000000000042").value_or(0), 42u);
  EXPECT_EQ(ParseLogNumber("18446744073709551615").value_or(0), 18446744073709551615ull);
  EXPECT_FALSE(ParseLogNumber("18446744073709551616"));  // overflows
  EXPECT_FALSE(ParseLogNumber("00000000000000000000"));  // the log starts at 1
  EXPECT_FALSE(ParseLogNumber("0000000000000000001"));   // 19 digits
  EXPECT_FALSE(ParseLogNumber("0000000000000000001x"));
  EXPECT_FALSE(ParseLogNumber("log/garbage"));
}

}  // namespace
}  // namespace docshift::bucket
