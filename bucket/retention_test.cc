// Remote retention's decision (bucket/retention.h): each rule, slots, snapshots.
#include "bucket/retention.h"

#include <gtest/gtest.h>

#include "spool/segment.h"
#include "spool/slot_name.h"

namespace docshift::bucket {
namespace {

constexpr int64_t kMin = 60'000;

// A log of committed segments [1..10], [11..20], [21..30], [31..40], committed at
// minutes 1, 2, 3, 4.
LogState FourSegments() {
  LogState st;
  pb::BucketLogRecord r;
  r.set_number(1);
  r.mutable_created()->set_source_id("s");
  EXPECT_TRUE(ApplyLogRecord(r, "r1", &st).ok());
  for (uint64_t k = 0; k < 4; ++k) {
    pb::BucketLogRecord s;
    s.set_number(k + 2);
    s.set_written_wall_ms(static_cast<int64_t>(k + 1) * kMin);
    auto* seg = s.mutable_sealed();
    seg->set_first_seq(k * 10 + 1);
    seg->set_last_seq(k * 10 + 10);
    seg->set_file_name(spool::SegmentFileName(k * 10 + 1));
    EXPECT_TRUE(ApplyLogRecord(s, "r", &st).ok());
  }
  return st;
}

spool::NamedCheckpoint Ckpt(const std::string& name, uint64_t applied, std::string snapshot_id = "") {
  spool::NamedCheckpoint c;
  c.name = name;
  c.ckpt.set_applied_seq(applied);
  c.ckpt.set_snapshot_id(std::move(snapshot_id));
  return c;
}

spool::NamedCheckpoint Slot(const std::string& name, int i, int n, uint64_t applied) {
  spool::NamedCheckpoint c = Ckpt(spool::SlotName(name, i, n), applied);
  c.ckpt.set_slot_index(i);
  c.ckpt.set_slot_count(n);
  c.ckpt.set_slot_hash("fnv1a64-ns-id/1");
  return c;
}

RetentionInput Input(const LogState* log) {
  RetentionInput in;
  in.log = log;
  in.now_ms = 100 * kMin;  // long after every commit
  in.retention_ms = kMin;
  return in;
}

TEST(BucketRetentionTest, CommitTimesAreTracked) {
  LogState st = FourSegments();
  ASSERT_EQ(st.committed_wall_ms.size(), 4u);
  EXPECT_EQ(st.committed_wall_ms.at(11), 2 * kMin);
  pb::BucketLogRecord del;
  del.set_number(st.last_number + 1);
  del.mutable_deleted()->set_file_name(spool::SegmentFileName(1));
  del.mutable_deleted()->set_first_seq(1);
  del.mutable_deleted()->set_last_seq(10);
  ASSERT_TRUE(ApplyLogRecord(del, "r", &st).ok());
  EXPECT_EQ(st.committed_wall_ms.count(1), 0u);
  EXPECT_EQ(st.committed_wall_ms.size(), 3u);
}

TEST(BucketRetentionTest, NoCheckpointDeletesNothing) {
  LogState st = FourSegments();
  RetentionDecision d = DecideBucketRetention(Input(&st));
  EXPECT_EQ(d.deletable, 0u);
  EXPECT_TRUE(d.no_checkpoint);
  EXPECT_NE(d.held_by.find("no apply checkpoint"), std::string::npos);
}

TEST(BucketRetentionTest, CheckpointPassingEverythingKeepsTheNewest) {
  LogState st = FourSegments();
  RetentionInput in = Input(&st);
  in.checkpoints = {Ckpt("apply", 40)};
  RetentionDecision d = DecideBucketRetention(in);
  EXPECT_EQ(d.deletable, 3u);  // (d): [31..40] stays
  EXPECT_FALSE(d.no_checkpoint);
}

TEST(BucketRetentionTest, CheckpointMustPassTheWholeSegment) {
  LogState st = FourSegments();
  RetentionInput in = Input(&st);
  in.checkpoints = {Ckpt("apply", 19)};  // inside [11..20]
  EXPECT_EQ(DecideBucketRetention(in).deletable, 1u);
  in.checkpoints = {Ckpt("apply", 20)};
  EXPECT_EQ(DecideBucketRetention(in).deletable, 2u);
  in.checkpoints = {Ckpt("apply", 0)};  // claimed, nothing applied yet
  EXPECT_EQ(DecideBucketRetention(in).deletable, 0u);
}

TEST(BucketRetentionTest, SlowestCheckpointHoldsBack) {
  LogState st = FourSegments();
  RetentionInput in = Input(&st);
  in.checkpoints = {Ckpt("fast", 40), Ckpt("slow", 12)};
  RetentionDecision d = DecideBucketRetention(in);
  EXPECT_EQ(d.deletable, 1u);
  EXPECT_NE(d.held_by.find("'slow'"), std::string::npos) << d.held_by;
}

TEST(BucketRetentionTest, EverySlotMustPass) {
  LogState st = FourSegments();
  RetentionInput in = Input(&st);
  in.checkpoints = {Slot("apply", 0, 3, 40), Slot("apply", 1, 3, 25), Slot("apply", 2, 3, 40)};
  EXPECT_EQ(DecideBucketRetention(in).deletable, 2u);
}

TEST(BucketRetentionTest, AMissingSlotHoldsEverything) {
  LogState st = FourSegments();
  RetentionInput in = Input(&st);
  in.checkpoints = {Slot("apply", 0, 3, 40), Slot("apply", 2, 3, 40)};  // slot 1 never wrote
  RetentionDecision d = DecideBucketRetention(in);
  EXPECT_EQ(d.deletable, 0u);
  EXPECT_NE(d.held_by.find("slot 1/3"), std::string::npos) << d.held_by;
  // Another name's complete slot set does not stand in for it.
  in.checkpoints.push_back(Slot("other", 0, 1, 40));
  EXPECT_EQ(DecideBucketRetention(in).deletable, 0u);
  in.checkpoints.push_back(Slot("apply", 1, 3, 40));
  EXPECT_EQ(DecideBucketRetention(in).deletable, 3u);
}

TEST(BucketRetentionTest, RetentionWindowCountsFromTheCommit) {
  LogState st = FourSegments();
  RetentionInput in = Input(&st);
  in.checkpoints = {Ckpt("apply", 40)};
  in.now_ms = 3 * kMin + 1;  // [1..10] committed 2 min ago, [11..20] 1 min + 1 ms ago, [21..30] 1 ms ago
  in.retention_ms = kMin;
  RetentionDecision d = DecideBucketRetention(in);
  EXPECT_EQ(d.deletable, 2u);
  EXPECT_NE(d.held_by.find("retention window"), std::string::npos) << d.held_by;
  in.now_ms = 3 * kMin;  // exactly the window: not more than it
  EXPECT_EQ(DecideBucketRetention(in).deletable, 1u);
  in.retention_ms = 1000 * kMin;
  EXPECT_EQ(DecideBucketRetention(in).deletable, 0u);
}

TEST(BucketRetentionTest, UnfinishedSnapshotKeepsWhatFollowsItsStart) {
  LogState st = FourSegments();
  RetentionInput in = Input(&st);
  in.checkpoints = {Ckpt("apply", 40, "snap1")};
  pb::SnapshotState snap;
  snap.set_snapshot_id("snap2");
  snap.set_start_seq(25);
  in.snapshots = {snap};
  RetentionDecision d = DecideBucketRetention(in);
  EXPECT_EQ(d.deletable, 2u);  // [21..30] holds seq 26
  EXPECT_NE(d.held_by.find("snap2"), std::string::npos) << d.held_by;
  snap.set_start_seq(30);
  in.snapshots = {snap};
  EXPECT_EQ(DecideBucketRetention(in).deletable, 3u);
}

TEST(BucketRetentionTest, CheckpointOfAnotherSnapshotRestartsAtItsStart) {
  LogState st = FourSegments();
  RetentionInput in = Input(&st);
  pb::SnapshotState snap;
  snap.set_snapshot_id("snap2");
  snap.set_start_seq(15);
  snap.set_finished_wall_ms(5);
  in.snapshots = {snap};
  in.checkpoints = {Ckpt("apply", 40, "snap1")};  // apply restarts at 16
  EXPECT_EQ(DecideBucketRetention(in).deletable, 1u);
  in.checkpoints = {Ckpt("apply", 40, "snap2")};  // follows from it: at 41
  EXPECT_EQ(DecideBucketRetention(in).deletable, 3u);
}

TEST(BucketRetentionTest, NewestSegmentAlwaysStays) {
  LogState st = FourSegments();
  // Only one segment left live.
  for (uint64_t first : {1, 11, 21}) {
    pb::BucketLogRecord del;
    del.set_number(st.last_number + 1);
    del.mutable_deleted()->set_file_name(spool::SegmentFileName(first));
    del.mutable_deleted()->set_first_seq(first);
    del.mutable_deleted()->set_last_seq(first + 9);
    ASSERT_TRUE(ApplyLogRecord(del, "r", &st).ok());
  }
  RetentionInput in = Input(&st);
  in.checkpoints = {Ckpt("apply", 1000)};
  EXPECT_EQ(DecideBucketRetention(in).deletable, 0u);
}

}  // namespace
}  // namespace docshift::bucket
