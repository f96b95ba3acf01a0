// Remote retention (bucket/retention.h, run by the shipper) against a real gofakes3
// server (S3_URL from build/testbed.env; unset: exit 77, skipped, or a failure when CI is
// set): segments every checkpoint passed are recorded deleted in the log and then gone,
// the slowest checkpoint and an unfinished snapshot hold deletion back, no checkpoint
// deletes nothing, the newest stays, an orphan left between record and DELETE is removed
// by the next run, and a reader starting before what is left is told so.
#include <gtest/gtest.h>

#include <string>

#include "aws/s3_client.h"
#include "bucket/cache.h"
#include "bucket/checkpoint_store.h"
#include "bucket/log.h"
#include "bucket/s3_test_util.h"
#include "bucket/shipper.h"
#include "spool/checkpoint.h"
#include "spool/format.h"
#include "spool/spool.h"
#include "spool/spool_test_util.h"
#include "spool/tail.h"
#include "util/test_util.h"

namespace docshift::bucket {
namespace {

using s3_test::NewClient;
using test_util::TempDir;

BucketLocation FreshLocation(const std::string& name) { return s3_test::FreshLocation("dsretain", name); }

// A local spool of `segments` sealed segments of 10 events each (seq 1..10*segments).
void MakeSpool(const std::string& dir, int segments) {
  auto w = spool::SpoolWriter::Open(spool::spool_testing::Opts(dir));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  for (int s = 0; s < segments; ++s) {
    pb::ChangeBatch batch = spool::spool_testing::NewBatch(10, "t" + std::to_string(s));
    ASSERT_TRUE((*w)->Append(&batch).ok());
    ASSERT_TRUE((*w)->Sync().ok());
    ASSERT_TRUE((*w)->SealOpenSegment(1000 + s).ok());
  }
}

// One drained shipper run; retention_ms 0: off.
ShipResult Ship(const std::string& dir, const BucketLocation& loc, int64_t retention_ms) {
  ShipperOptions o;
  o.spool_dir = dir;
  o.to = loc;
  o.s3.region = "us-east-1";
  o.s3.credentials.access_key_id = "testing";
  o.s3.credentials.secret_access_key = "testing";
  o.s3.credentials.source = "test";
  o.s3.endpoint = s3_test::Url();
  o.s3.retry_for_ms = 5000;
  o.stop_when_drained = true;
  o.retention_ms = retention_ms;
  o.retention_interval_ms = 0;
  auto r = RunShipper(o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : ShipResult{};
}

void PutCheckpoint(const BucketLocation& loc, const std::string& name, uint64_t applied_seq) {
  pb::ApplyCheckpoint c;
  c.set_applied_seq(applied_seq);
  auto put = NewClient()->PutObject(loc.bucket, loc.CheckpointKey(name),
                                    EncodeStateObject(spool::kCheckpointMagic, spool::kRecordCheckpoint, c));
  ASSERT_TRUE(put.ok()) << put.status().ToString();
}

// The first sequence of every segment object under segments/.
std::vector<uint64_t> SegmentObjects(const BucketLocation& loc) {
  aws::ListOptions lo;
  lo.prefix = loc.Key("segments/");
  auto listed = NewClient()->ListObjectsV2(loc.bucket, lo);
  EXPECT_TRUE(listed.ok()) << listed.status().ToString();
  std::vector<uint64_t> out;
  if (!listed.ok()) return out;
  for (const auto& o : *listed) out.push_back(std::stoull(o.key.substr(lo.prefix.size(), 20)));
  return out;
}

LogState ReadLog(const BucketLocation& loc) {
  auto c = NewClient();
  BucketLog log(c.get(), loc);
  LogState st;
  Status s = log.Refresh(&st);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return st;
}

TEST(BucketRetentionS3Test, DeletesWhatEveryCheckpointPassedRecordFirstNewestStays) {
  TempDir src;
  MakeSpool(src.path(), 4);  // 1..10, 11..20, 21..30, 31..40
  const BucketLocation loc = FreshLocation("passed");
  EXPECT_EQ(Ship(src.path(), loc, 0).segments, 4u);

  // No checkpoint: nothing goes.
  ShipResult r = Ship(src.path(), loc, 1);
  EXPECT_EQ(r.segments_deleted, 0u);
  EXPECT_EQ(SegmentObjects(loc), (std::vector<uint64_t>{1, 11, 21, 31}));

  // The slowest checkpoint (inside the second segment) holds the rest back.
  PutCheckpoint(loc, "fast", 40);
  PutCheckpoint(loc, "slow", 15);
  r = Ship(src.path(), loc, 1);
  EXPECT_EQ(r.segments_deleted, 1u);
  EXPECT_GT(r.bytes_deleted, 0u);
  EXPECT_EQ(SegmentObjects(loc), (std::vector<uint64_t>{11, 21, 31}));
  LogState st = ReadLog(loc);
  EXPECT_EQ(st.deleted_through_seq, 10u);
  ASSERT_EQ(st.segments.size(), 3u);
  EXPECT_EQ(st.segments.front().first_seq(), 11u);

  // A retention window longer than the segments' age keeps them.
  PutCheckpoint(loc, "slow", 40);
  EXPECT_EQ(Ship(src.path(), loc, 3'600'000).segments_deleted, 0u);
  EXPECT_EQ(SegmentObjects(loc).size(), 3u);

  // Everything passed: all but the newest go.
  r = Ship(src.path(), loc, 1);
  EXPECT_EQ(r.segments_deleted, 2u);
  EXPECT_EQ(SegmentObjects(loc), (std::vector<uint64_t>{31}));
  st = ReadLog(loc);
  EXPECT_EQ(st.deleted_through_seq, 30u);
  EXPECT_EQ(st.next_seq, 41u);

  // A reader starting at 1 is told the events were deleted, naming the oldest left.
  TempDir cache_dir;
  BucketSpoolCacheOptions co;
  co.loc = loc;
  co.s3 = NewClient();
  co.dir = cache_dir.path();
  auto cache = BucketSpoolCache::Open(std::move(co));
  ASSERT_TRUE(cache.ok()) << cache.status().ToString();
  ASSERT_TRUE((*cache)->Sync(1).ok());
  spool::SpoolTail tail(Env::Default(), cache_dir.path(), 1);
  pb::ChangeBatch b;
  Status s = tail.Next(&b);
  ASSERT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_NE(s.message().find("the oldest is 31"), std::string::npos) << s.ToString();
}

TEST(BucketRetentionS3Test, AnUnfinishedSnapshotInTheBucketHoldsBack) {
  TempDir src;
  MakeSpool(src.path(), 3);
  const BucketLocation loc = FreshLocation("snapshot");
  EXPECT_EQ(Ship(src.path(), loc, 0).segments, 3u);
  PutCheckpoint(loc, "apply", 30);
  pb::SnapshotState snap;
  snap.set_snapshot_id("snap-1");
  snap.set_start_seq(5);  // its apply starts at 6: every segment is needed
  ASSERT_TRUE(NewClient()
                  ->PutObject(loc.bucket, loc.SnapshotStateKey(),
                              EncodeStateObject(spool::kSnapshotMagic, spool::kRecordSnapshotState, snap))
                  .ok());
  EXPECT_EQ(Ship(src.path(), loc, 1).segments_deleted, 0u);
  EXPECT_EQ(SegmentObjects(loc).size(), 3u);
}

TEST(BucketRetentionS3Test, AnOrphanLeftBetweenRecordAndDeleteGoesNextRun) {
  TempDir src;
  MakeSpool(src.path(), 3);
  const BucketLocation loc = FreshLocation("orphan");
  EXPECT_EQ(Ship(src.path(), loc, 0).segments, 3u);
  // A shipper that died after its `deleted` record, before the DELETE.
  {
    auto c = NewClient();
    BucketLog log(c.get(), loc);
    LogState st;
    ASSERT_TRUE(log.Refresh(&st).ok());
    pb::BucketLogRecord rec;
    rec.mutable_deleted()->set_file_name(st.segments.front().file_name());
    rec.mutable_deleted()->set_first_seq(1);
    rec.mutable_deleted()->set_last_seq(10);
    ASSERT_TRUE(log.Append(rec, "died", 1, &st).ok());
  }
  EXPECT_EQ(SegmentObjects(loc), (std::vector<uint64_t>{1, 11, 21}));
  // Nothing else may go (no checkpoint), but the orphan does.
  ShipResult r = Ship(src.path(), loc, 1);
  EXPECT_EQ(r.segments_deleted, 1u);
  EXPECT_EQ(SegmentObjects(loc), (std::vector<uint64_t>{11, 21}));
  // Retention off: the orphan sweep does not run either (nothing is ever deleted).
}

}  // namespace
}  // namespace docshift::bucket

int main(int argc, char** argv) { return docshift::bucket::s3_test::Main(argc, argv, "bucket_retention_s3_test"); }
