// The status computation (lag, backlog, state) over real spools written by SpoolWriter,
// the status files, the Prometheus text, and the metrics endpoint.
#include "status/status.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "spool/checkpoint.h"
#include "spool/dead_letter.h"
#include "spool/format.h"
#include "spool/spool.h"
#include "status/metrics_http.h"
#include "status/reporter.h"
#include "util/test_util.h"

namespace docshift::status {
namespace {

using test_util::TempDir;

constexpr int64_t kNow = 1'800'000'000'000;  // "now" for every computation
constexpr int64_t kBase = kNow - 100'000;    // event seq k was captured at kBase + k s

// A spool with events 1..sealed in sealed segments (batches of 5, a segment per 10
// events) and sealed+1..sealed+open in the open segment. Event k: namespace db.c<k%2>,
// captured at kBase + k*1000, source time 1 s before that.
class StatusTest : public ::testing::Test {
 protected:
  void Write(int sealed, int open) {
    spool::SpoolWriterOptions o;
    o.dir = dir_.path();
    o.source_id = "mongo:test";
    o.source_kind = "mongo";
    o.segment_max_age_ms = int64_t{1} << 60;
    auto w = spool::SpoolWriter::Open(o);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    writer_ = std::move(w.value());
    int k = 1;
    auto append = [&](int n) {
      pb::ChangeBatch b;
      for (int i = 0; i < n; ++i, ++k) {
        auto* e = b.add_events();
        e->set_db("db");
        e->set_coll("c" + std::to_string(k % 2));
        e->set_op(pb::OP_INSERT);
        e->set_document_key("k" + std::to_string(k));
        e->set_capture_wall_ms(kBase + k * 1000);
        e->set_cluster_time(static_cast<uint64_t>((kBase + k * 1000 - 1000) / 1000) << 32);
      }
      b.set_resume_token("t" + std::to_string(k));
      ASSERT_TRUE(writer_->Append(&b).ok());
      ASSERT_TRUE(writer_->Sync().ok());
    };
    for (int done = 0; done < sealed; done += 5) {
      append(5);
      if ((done + 5) % 10 == 0 || done + 5 >= sealed) {
        ASSERT_TRUE(writer_->SealOpenSegment(kBase).ok());
      }
    }
    if (open > 0) append(open);
  }
  void Checkpoint(uint64_t seq, const std::string& name = "apply") {
    pb::ApplyCheckpoint c;
    c.set_applied_seq(seq);
    c.set_events_applied_total(seq);
    c.set_updated_wall_ms(kNow - 500);
    ASSERT_TRUE(spool::WriteCheckpoint(Env::Default(), dir_.path(), name, c).ok());
  }
  // A status file as a live process on this host (this test's pid) would write it.
  pb::ProcessStatus Live(const std::string& process, int64_t heartbeat = kNow - 300) {
    pb::ProcessStatus st;
    st.set_process(process);
    st.set_name(process == "apply" ? "apply" : "");
    st.set_pid(getpid());
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    st.set_hostname(host);
    st.set_started_wall_ms(kNow - 60'000);
    st.set_heartbeat_wall_ms(heartbeat);
    st.set_interval_ms(1000);
    st.set_caught_up(true);
    st.set_events_per_second(42);
    return st;
  }
  void Put(const pb::ProcessStatus& st) {
    ASSERT_TRUE(Env::Default()->CreateDirIfMissing(JoinPath(dir_.path(), spool::kStatusDir)).ok());
    ASSERT_TRUE(spool::WriteStateFile(Env::Default(), ProcessStatusPath(dir_.path(), st.process(), st.name()),
                                      spool::kStatusMagic, spool::kRecordProcessStatus, st)
                    .ok());
  }
  MigrationStatus Collect(const std::string& name = "apply") {
    auto s = CollectStatus(Env::Default(), dir_.path(), kNow, name);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? s.value() : MigrationStatus{};
  }

  TempDir dir_{"status_test"};
  std::unique_ptr<spool::SpoolWriter> writer_;
};

TEST_F(StatusTest, MissingDirectoryIsNotFoundNamingIt) {
  auto s = CollectStatus(Env::Default(), dir_.path() + "/nope", kNow);
  ASSERT_TRUE(s.status().IsNotFound()) << s.status().ToString();
  EXPECT_NE(s.status().message().find(dir_.path() + "/nope"), std::string::npos);
  // A directory that is not a spool.
  s = CollectStatus(Env::Default(), dir_.path(), kNow);
  ASSERT_TRUE(s.status().IsNotFound()) << s.status().ToString();
  EXPECT_NE(s.status().message().find("no MANIFEST"), std::string::npos);
}

TEST_F(StatusTest, LastDurableSeqCountsSealedAndOpenSegments) {
  Write(20, 3);
  MigrationStatus s = Collect();
  EXPECT_EQ(s.last_durable_seq, 23u);
  EXPECT_EQ(s.segments, 3u);
  EXPECT_EQ(s.sealed_segments, 2u);
  EXPECT_GT(s.spool_bytes, 0u);
  EXPECT_EQ(s.last_event_capture_ms, kBase + 23 * 1000);
  EXPECT_EQ(s.source_kind, "mongo");
}

TEST_F(StatusTest, NoCheckpointMeansEverythingIsBacklog) {
  Write(10, 2);
  MigrationStatus s = Collect();
  EXPECT_FALSE(s.apply.has_checkpoint);
  EXPECT_EQ(s.apply.backlog_events, 12u);
  EXPECT_GT(s.apply.backlog_bytes, 0u);
  // The oldest unapplied event is seq 1, the first of a sealed segment.
  EXPECT_EQ(s.apply.oldest_unapplied_capture_ms, kBase + 1000);
  EXPECT_DOUBLE_EQ(s.apply.gap_s, 99.0);
  EXPECT_EQ(s.state, "capture stopped");  // no status files at all
}

TEST_F(StatusTest, GapIsFromTheOldestUnappliedEventInsideASealedSegment) {
  Write(20, 4);
  Checkpoint(13);  // seq 14 is in the middle of the second sealed segment
  MigrationStatus s = Collect();
  EXPECT_EQ(s.apply.checkpoint_seq, 13u);
  EXPECT_EQ(s.apply.backlog_events, 11u);
  EXPECT_EQ(s.apply.oldest_unapplied_capture_ms, kBase + 14 * 1000);
  EXPECT_DOUBLE_EQ(s.apply.gap_s, 86.0);
}

TEST_F(StatusTest, GapIsFromTheOldestUnappliedEventInTheOpenSegment) {
  Write(10, 5);
  Checkpoint(12);
  MigrationStatus s = Collect();
  EXPECT_EQ(s.apply.backlog_events, 3u);
  EXPECT_EQ(s.apply.oldest_unapplied_capture_ms, kBase + 13 * 1000);
  EXPECT_DOUBLE_EQ(s.apply.gap_s, 87.0);
  // Backlog bytes: a share of the open segment only.
  EXPECT_GT(s.apply.backlog_bytes, 0u);
  EXPECT_LT(s.apply.backlog_bytes, s.spool_bytes / 2);
}

TEST_F(StatusTest, CheckpointAtTheEndMeansNoLagAndInSync) {
  Write(10, 3);
  Checkpoint(13);
  Put(Live("capture"));
  pb::ProcessStatus apply = Live("apply");
  auto* ns = apply.add_namespaces();
  ns->set_ns("db.c1");
  ns->set_events_applied(7);
  ns->set_last_applied_source_ms(kBase);
  Put(apply);
  MigrationStatus s = Collect();
  EXPECT_EQ(s.apply.backlog_events, 0u);
  EXPECT_EQ(s.apply.backlog_bytes, 0u);
  EXPECT_DOUBLE_EQ(s.apply.gap_s, 0.0);
  EXPECT_TRUE(s.capture_alive);
  EXPECT_TRUE(s.apply.process.alive);
  EXPECT_DOUBLE_EQ(s.capture_lag_s, 0.0);
  EXPECT_DOUBLE_EQ(s.capture_events_per_s, 42.0);
  EXPECT_EQ(s.state, "in sync") << s.state_reason;
  EXPECT_TRUE(s.can_cutover) << s.cutover_blocked_by;
  EXPECT_NE(RenderJson(s).find("\"can_cutover\": true, \"cutover_blocked_by\": null"), std::string::npos)
      << RenderJson(s);
  ASSERT_EQ(s.apply.namespaces.size(), 1u);
  EXPECT_EQ(s.apply.namespaces[0].ns, "db.c1");
  EXPECT_DOUBLE_EQ(s.apply.namespaces[0].gap_s, 0.0);
}

// apply --slot (issue #13): the slots of a name are taken together; the minimum
// checkpoint gives the lag, each slot is listed, and a missing or stalled one is named.
TEST_F(StatusTest, SlotsTakeTheMinimumAndNameAMissingSlot) {
  Write(10, 3);
  Put(Live("capture"));
  Checkpoint(13, "apply.slot-0-of-3");
  Checkpoint(9, "apply.slot-2-of-3");
  for (const char* n : {"apply.slot-0-of-3", "apply.slot-2-of-3"}) {
    pb::ProcessStatus st = Live("apply");
    st.set_name(n);
    Put(st);
  }
  MigrationStatus s = Collect();
  EXPECT_EQ(s.slot_count, 3);
  ASSERT_EQ(s.slots.size(), 3u);
  EXPECT_EQ(s.slots[0].checkpoint_seq, 13u);
  EXPECT_FALSE(s.slots[1].has_checkpoint);
  EXPECT_EQ(s.slots[2].checkpoint_seq, 9u);
  EXPECT_EQ(s.apply.checkpoint_seq, 0u);  // slot 1 has applied nothing
  EXPECT_EQ(s.apply.backlog_events, 13u);
  EXPECT_FALSE(s.apply.process.alive);
  EXPECT_EQ(s.state, "apply stopped");
  EXPECT_NE(s.state_reason.find("slot 1/3 (apply.slot-1-of-3)"), std::string::npos) << s.state_reason;
  ASSERT_FALSE(s.slot_problems.empty());
  EXPECT_NE(s.slot_problems[0].find("no checkpoint and no status file"), std::string::npos) << s.slot_problems[0];
  EXPECT_NE(RenderJson(s).find("\"slot_count\": 3"), std::string::npos) << RenderJson(s);

  // Slot 1 there too: the minimum is slot 2's 9, everyone alive, nothing named.
  Checkpoint(11, "apply.slot-1-of-3");
  pb::ProcessStatus st = Live("apply");
  st.set_name("apply.slot-1-of-3");
  Put(st);
  s = Collect();
  EXPECT_EQ(s.apply.checkpoint_seq, 9u);
  EXPECT_EQ(s.apply.backlog_events, 4u);
  EXPECT_EQ(s.apply.events_applied_total, 13u + 11u + 9u);
  EXPECT_TRUE(s.apply.process.alive);
  EXPECT_TRUE(s.slot_problems.empty()) << s.slot_problems[0];
  EXPECT_EQ(s.state, "catching up") << s.state_reason;

  // Slot 2's checkpoint unmoved for over a minute while behind: stalled, named.
  pb::ApplyCheckpoint c;
  c.set_applied_seq(9);
  c.set_updated_wall_ms(kNow - kSlotStalledAfterMs - 5000);
  ASSERT_TRUE(spool::WriteCheckpoint(Env::Default(), dir_.path(), "apply.slot-2-of-3", c).ok());
  s = Collect();
  ASSERT_EQ(s.slot_problems.size(), 1u);
  EXPECT_NE(s.slot_problems[0].find("apply.slot-2-of-3: stalled: checkpoint at seq 9, 4 events behind"),
            std::string::npos) << s.slot_problems[0];
  EXPECT_EQ(s.state, "apply stopped");
}

// A bucket spool (issue #13): figures from the commit log, apply judged by its
// checkpoint's lease (no status file in a bucket), capture from the uploaded status.
BucketLogInput BucketLog(int segments) {
  BucketLogInput in;
  in.url = "s3://b/p";
  in.log_number = 2 + segments;
  in.created.set_source_kind("mongo");
  for (int i = 0; i < segments; ++i) {  // 10 events each, event k captured at kBase + k s
    pb::SegmentSealed s;
    s.set_first_seq(1 + 10 * i);
    s.set_last_seq(10 + 10 * i);
    s.set_file_bytes(1000);
    s.set_first_wall_ms(kBase + (1 + 10 * i) * 1000);
    s.set_last_wall_ms(kBase + (10 + 10 * i) * 1000);
    in.segments.push_back(s);
  }
  in.next_seq = 1 + 10 * segments;
  in.writer_id = "0123456789abcdef0123456789abcdef";
  in.shipper.set_host("shiphost");
  in.shipper.set_pid(77);
  in.last_written_wall_ms = kNow - 2000;
  return in;
}

TEST_F(StatusTest, BucketSpoolFromTheLogTheLeaseAndTheUploadedCaptureStatus) {
  const BucketLogInput log = BucketLog(3);
  auto collect = [&] {
    auto s = CollectBucketStatus(Env::Default(), dir_.path(), log, kNow, "apply");
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? s.value() : MigrationStatus{};
  };
  // Nothing but the log: no checkpoint, everything is backlog, nothing is running.
  MigrationStatus s = collect();
  EXPECT_EQ(s.last_durable_seq, 30u);
  EXPECT_EQ(s.segments, 3u);
  EXPECT_EQ(s.spool_bytes, 3000u);
  EXPECT_EQ(s.bucket.committed_seq, 30u);
  EXPECT_EQ(s.bucket.oldest_seq, 1u);
  EXPECT_EQ(s.bucket.shipper_pid, 77);
  EXPECT_DOUBLE_EQ(s.bucket.last_commit_age_s, 2.0);
  EXPECT_DOUBLE_EQ(s.bucket.newest_committed_age_s, 70.0);  // event 30 at kBase + 30 s
  EXPECT_FALSE(s.apply.has_checkpoint);
  EXPECT_EQ(s.apply.backlog_events, 30u);
  EXPECT_DOUBLE_EQ(s.apply.gap_s, 99.0);
  EXPECT_FALSE(s.apply.process.alive);
  EXPECT_NE(s.apply.process.why_not_alive.find("no checkpoint in the bucket"), std::string::npos);
  EXPECT_NE(s.capture.why_not_alive.find("no status/capture.status in s3://b/p"), std::string::npos);
  EXPECT_FALSE(s.can_cutover);

  // Checkpoint at a segment boundary, rewritten 0.5 s ago: apply alive, lag from seq 21.
  Checkpoint(20);
  pb::ProcessStatus cap = Live("capture");
  cap.set_heartbeat_wall_ms(kNow - 8000);  // older than kStaleAfterMs, within the upload slack
  cap.set_seq(33);                          // 3 events captured, not committed yet
  Put(cap);
  s = collect();
  EXPECT_TRUE(s.apply.process.alive) << s.apply.process.why_not_alive;
  EXPECT_EQ(s.apply.backlog_events, 10u);
  EXPECT_EQ(s.apply.backlog_bytes, 1000u);
  EXPECT_DOUBLE_EQ(s.apply.gap_s, 79.0);  // event 21 at kBase + 21 s
  EXPECT_TRUE(s.capture_alive) << s.capture.why_not_alive;
  EXPECT_EQ(s.bucket.unshipped_events, 3u);
  EXPECT_EQ(s.state, "catching up") << s.state_reason;

  // At the committed end and nothing unshipped: in sync, cutover may begin.
  Checkpoint(30);
  cap.set_seq(30);
  Put(cap);
  s = collect();
  EXPECT_EQ(s.apply.backlog_events, 0u);
  EXPECT_DOUBLE_EQ(s.apply.gap_s, 0.0);
  EXPECT_EQ(s.state, "in sync") << s.state_reason;
  EXPECT_TRUE(s.can_cutover) << s.cutover_blocked_by;
  EXPECT_NE(RenderJson(s).find("\"committed_seq\": 30"), std::string::npos) << RenderJson(s);
  EXPECT_NE(RenderText(s).find("bucket   committed up to seq 30 (oldest still there 1, 5 log records)"),
            std::string::npos) << RenderText(s);

  // Capture ahead of the bucket blocks cutover even in sync; a lapsed lease stops apply.
  cap.set_seq(31);
  Put(cap);
  s = collect();
  EXPECT_FALSE(s.can_cutover);
  EXPECT_NE(s.cutover_blocked_by.find("1 events capture wrote (up to seq 31) are not committed in s3://b/p"),
            std::string::npos) << s.cutover_blocked_by;
  pb::ApplyCheckpoint c;
  c.set_applied_seq(30);
  c.set_updated_wall_ms(kNow - kBucketApplyLeaseMs - 1000);
  c.set_writer_pid(4242);
  c.set_writer_host("applyhost");
  ASSERT_TRUE(spool::WriteCheckpoint(Env::Default(), dir_.path(), "apply", c).ok());
  s = collect();
  EXPECT_FALSE(s.apply.process.alive);
  EXPECT_NE(s.apply.process.why_not_alive.find("last rewritten 31 s ago (lease 30 s; pid 4242 on applyhost)"),
            std::string::npos) << s.apply.process.why_not_alive;
  EXPECT_EQ(s.state, "apply stopped");
}

// Slot checkpoints in a bucket: the minimum over the slots, each judged by its lease.
TEST_F(StatusTest, BucketSlotsTakeTheMinimumAndALapsedLeaseIsNamed) {
  const BucketLogInput log = BucketLog(3);
  auto slot = [&](int i, uint64_t seq, int64_t updated) {
    pb::ApplyCheckpoint c;
    c.set_applied_seq(seq);
    c.set_updated_wall_ms(updated);
    c.set_writer_pid(100 + i);
    c.set_writer_host("h" + std::to_string(i));
    ASSERT_TRUE(spool::WriteCheckpoint(Env::Default(), dir_.path(), "apply.slot-" + std::to_string(i) + "-of-2", c).ok());
  };
  slot(0, 30, kNow - 1000);
  slot(1, 20, kNow - 2000);
  Put(Live("capture"));
  auto s = CollectBucketStatus(Env::Default(), dir_.path(), log, kNow, "apply");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->slot_count, 2);
  EXPECT_EQ(s->apply.checkpoint_seq, 20u);
  EXPECT_EQ(s->apply.backlog_events, 10u);
  EXPECT_TRUE(s->apply.process.alive) << s->apply.process.why_not_alive;
  EXPECT_TRUE(s->slot_problems.empty());

  slot(1, 20, kNow - kBucketApplyLeaseMs - 5000);
  s = CollectBucketStatus(Env::Default(), dir_.path(), log, kNow, "apply");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->apply.process.alive);
  EXPECT_NE(s->apply.process.why_not_alive.find("slot 1/2 (apply.slot-1-of-2): its checkpoint in the bucket was last rewritten 35 s ago"),
            std::string::npos) << s->apply.process.why_not_alive;
  EXPECT_EQ(s->state, "apply stopped");
}

TEST_F(StatusTest, LaggingApplyIsCatchingUpAndNamespaceGapIsRecomputed) {
  Write(10, 0);
  Checkpoint(4);
  Put(Live("capture"));
  pb::ProcessStatus apply = Live("apply");
  auto* ns = apply.add_namespaces();
  ns->set_ns("db.c0");
  ns->set_oldest_pending_capture_ms(kNow - 7000);
  Put(apply);
  MigrationStatus s = Collect();
  EXPECT_EQ(s.state, "catching up") << s.state_reason;
  EXPECT_FALSE(s.can_cutover);
  EXPECT_EQ(s.cutover_blocked_by, "catching up: " + s.state_reason);
  EXPECT_NE(RenderJson(s).find("\"can_cutover\": false"), std::string::npos) << RenderJson(s);
  EXPECT_DOUBLE_EQ(s.apply.gap_s, 95.0);
  EXPECT_DOUBLE_EQ(s.apply.namespaces[0].gap_s, 7.0);
}

// apply writes its status file about once a second, its checkpoint more often: a status
// file that still lists a pending event the checkpoint covers must not show a gap.
TEST_F(StatusTest, StaleNamespacePendingIsZeroOnceTheCheckpointCoversTheSpool) {
  Write(10, 0);
  Checkpoint(10);
  Put(Live("capture"));
  pb::ProcessStatus apply = Live("apply");
  auto* ns = apply.add_namespaces();
  ns->set_ns("db.c0");
  ns->set_oldest_pending_capture_ms(kNow - 1200);
  Put(apply);
  MigrationStatus s = Collect();
  EXPECT_EQ(s.state, "in sync") << s.state_reason;
  ASSERT_EQ(s.apply.namespaces.size(), 1u);
  EXPECT_DOUBLE_EQ(s.apply.namespaces[0].gap_s, 0.0);
}

TEST_F(StatusTest, CaptureBehindTheSourceIsCatchingUp) {
  Write(5, 0);
  Checkpoint(5);
  pb::ProcessStatus cap = Live("capture");
  cap.set_caught_up(false);
  cap.set_last_source_wall_ms(kNow - 9000);
  Put(cap);
  Put(Live("apply"));
  MigrationStatus s = Collect();
  EXPECT_DOUBLE_EQ(s.capture_lag_s, 9.0);
  EXPECT_EQ(s.state, "catching up");
}

TEST_F(StatusTest, StaleExitedOrDeadProcessesAreStopped) {
  Write(5, 0);
  Checkpoint(5);
  Put(Live("capture"));
  Put(Live("apply", kNow - 60'000));  // heartbeat a minute old
  MigrationStatus s = Collect();
  EXPECT_EQ(s.state, "apply stopped");
  EXPECT_NE(s.state_reason.find("heartbeat 60 s old"), std::string::npos) << s.state_reason;
  EXPECT_DOUBLE_EQ(s.apply.events_per_s, 0.0);  // a stopped process applies nothing

  pb::ProcessStatus exited = Live("apply");
  exited.set_exited(true);
  Put(exited);
  s = Collect();
  EXPECT_EQ(s.state, "apply stopped");
  EXPECT_NE(s.state_reason.find("exited"), std::string::npos) << s.state_reason;

  pb::ProcessStatus dead = Live("capture");
  dead.set_pid(0x7ffffff0);  // no such process on this host
  Put(dead);
  Put(Live("apply"));
  s = Collect();
  EXPECT_EQ(s.state, "capture stopped");
  EXPECT_NE(s.state_reason.find("not running"), std::string::npos) << s.state_reason;
  // A stopped capture that was caught up: its lag is the time since it knew that.
  EXPECT_DOUBLE_EQ(s.capture_lag_s, 0.3);
}

TEST_F(StatusTest, DamagedStatusFileIsAWarningNotAnError) {
  Write(5, 0);
  ASSERT_TRUE(Env::Default()->CreateDirIfMissing(JoinPath(dir_.path(), spool::kStatusDir)).ok());
  test_util::WriteBytes(ProcessStatusPath(dir_.path(), "capture", ""), "DSHSTA01\x01");
  test_util::WriteBytes(ProcessStatusPath(dir_.path(), "apply", "apply"), "");
  MigrationStatus s = Collect();
  EXPECT_EQ(s.state, "capture stopped");
  EXPECT_EQ(s.warnings.size(), 2u);
  EXPECT_FALSE(s.capture.present);
}

TEST_F(StatusTest, RunningSnapshotShowsProgress) {
  Write(5, 0);
  Put(Live("capture"));
  pb::SnapshotState snap;
  snap.set_snapshot_id("snap1");
  auto* c = snap.add_collections();
  c->set_db("db");
  c->set_coll("big");
  c->set_estimated_docs(1000);
  for (int i = 0; i < 4; ++i) {
    auto* r = c->add_ranges();
    r->set_done(i < 3);
    r->set_docs_copied(i < 3 ? 250 : 100);
  }
  ASSERT_TRUE(spool::WriteSnapshotState(Env::Default(), dir_.path(), snap).ok());
  MigrationStatus s = Collect();
  EXPECT_EQ(s.state, "snapshotting");
  ASSERT_EQ(s.snapshot.collections.size(), 1u);
  EXPECT_EQ(s.snapshot.collections[0].ranges_done, 3u);
  EXPECT_EQ(s.snapshot.collections[0].ranges_total, 4u);
  EXPECT_EQ(s.snapshot.collections[0].docs_copied, 850u);
  EXPECT_NE(s.state_reason.find("3 of 4 ranges"), std::string::npos);
  snap.set_finished_wall_ms(kNow - 1000);
  ASSERT_TRUE(spool::WriteSnapshotState(Env::Default(), dir_.path(), snap).ok());
  EXPECT_EQ(Collect().state, "apply stopped");  // finished; no apply yet
}

TEST_F(StatusTest, DeadLettersAndApplyNamesAreCounted) {
  Write(5, 0);
  Checkpoint(5, "other");
  spool::DeadLetterWriter dlq(Env::Default(), dir_.path(), "apply");
  ASSERT_TRUE(dlq.Open().ok());
  pb::ChangeEvent e;
  ASSERT_TRUE(dlq.Append(3, e, 2, "refused", "db.c").ok());
  ASSERT_TRUE(dlq.Append(4, e, 2, "refused", "db.c").ok());
  ASSERT_TRUE(dlq.Sync().ok());
  Put(Live("apply"));
  MigrationStatus s = Collect();
  EXPECT_EQ(s.apply.dead_letters, 2u);
  EXPECT_EQ(s.apply_names, (std::vector<std::string>{"apply", "other"}));
  // Dead letters hold cutover back even in sync.
  Checkpoint(5);
  Put(Live("capture"));
  s = Collect();
  EXPECT_EQ(s.state, "in sync") << s.state_reason;
  EXPECT_FALSE(s.can_cutover);
  EXPECT_NE(s.cutover_blocked_by.find("2 dead letters in deadletter/apply.dlq"), std::string::npos)
      << s.cutover_blocked_by;
  EXPECT_EQ(Collect("other").apply.checkpoint_seq, 5u);
}

TEST_F(StatusTest, JsonHasTheStableKeys) {
  Write(10, 0);
  Checkpoint(4);
  Put(Live("capture"));
  pb::ProcessStatus apply = Live("apply");
  apply.add_namespaces()->set_ns("db.\"quoted\"");
  Put(apply);
  const std::string j = RenderJson(Collect());
  for (const char* key : {"\"gap_in_seconds\": 95.000", "\"state\": \"catching up\"", "\"details\": [",
                          "\"namespace\": \"db.\\\"quoted\\\"\"", "\"time_gap_in_seconds\"",
                          "\"capture\": {\"alive\": true", "\"last_durable_seq\": 10",
                          "\"backlog_events\": 6", "\"checkpoint_seq\": 4", "\"snapshot\": null",
                          "\"apply_names\": [\"apply\"]"}) {
    EXPECT_NE(j.find(key), std::string::npos) << key << " not in " << j;
  }
  EXPECT_EQ(j.find('\n'), std::string::npos);
  const std::string t = RenderText(Collect());
  EXPECT_NE(t.find("state   catching up"), std::string::npos) << t;
  EXPECT_NE(t.find("backlog 6 events"), std::string::npos) << t;
}

TEST(MetricsTest, RenderHasHelpTypeAndEscapedLabels) {
  pb::ProcessStatus st;
  st.set_process("apply");
  st.set_events_total(17);
  st.set_lag_seconds(1.5);
  auto* n = st.add_namespaces();
  n->set_ns("db.\"x\"\\y");
  n->set_gap_in_seconds(2);
  const std::string m = RenderMetrics(st);
  EXPECT_NE(m.find("# TYPE docshift_apply_events_total counter\ndocshift_apply_events_total 17\n"),
            std::string::npos) << m;
  EXPECT_NE(m.find("# HELP docshift_apply_lag_seconds "), std::string::npos);
  EXPECT_NE(m.find("docshift_apply_lag_seconds 1.5\n"), std::string::npos);
  EXPECT_NE(m.find("docshift_apply_namespace_gap_seconds{namespace=\"db.\\\"x\\\"\\\\y\"} 2\n"),
            std::string::npos) << m;
  st.set_process("capture");
  st.set_seq(99);
  const std::string c = RenderMetrics(st);
  EXPECT_NE(c.find("docshift_capture_events_total 17\n"), std::string::npos);
  EXPECT_NE(c.find("docshift_spool_last_seq 99\n"), std::string::npos);
  EXPECT_EQ(c.find("namespace"), std::string::npos);
}

// GET path on 127.0.0.1:port; returns the whole response.
std::string Get(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return "connect failed";
  }
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_EQ(send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

TEST(MetricsServerTest, ServesMetricsAnd404) {
  MetricsServer server([] { return std::string("docshift_x 1\n"); });
  ASSERT_TRUE(server.Start(0).ok());
  ASSERT_GT(server.port(), 0);
  const std::string ok = Get(server.port(), "/metrics");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << ok;
  EXPECT_NE(ok.find("\r\n\r\ndocshift_x 1\n"), std::string::npos) << ok;
  EXPECT_EQ(Get(server.port(), "/other").rfind("HTTP/1.1 404", 0), 0u);
  // A second server on the same port fails, naming it.
  MetricsServer second([] { return std::string(); });
  Status s = second.Start(server.port());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(std::to_string(server.port())), std::string::npos) << s.ToString();
  server.Stop();
  EXPECT_EQ(Get(server.port(), "/metrics"), "connect failed");
}

TEST(MetricsServerTest, ServesAddedPathsAndTellsLoopbackFromBeyond) {
  MetricsServer server([] { return std::string("docshift_x 1\n"); });
  server.Handle("/progress", [] { return MetricsServer::Reply{"200 OK", "application/json", "{}\n"}; });
  server.Handle("/down", [] { return MetricsServer::Reply{"503 Service Unavailable", "text/plain", "no\n"}; });
  ASSERT_TRUE(server.Start("127.0.0.1", 0).ok());
  EXPECT_TRUE(server.loopback());
  EXPECT_EQ(server.address(), "127.0.0.1:" + std::to_string(server.port()));
  const std::string p = Get(server.port(), "/progress?x=1");
  EXPECT_EQ(p.rfind("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n", 0), 0u) << p;
  EXPECT_NE(p.find("\r\n\r\n{}\n"), std::string::npos) << p;
  EXPECT_EQ(Get(server.port(), "/down").rfind("HTTP/1.1 503", 0), 0u);
  const std::string nf = Get(server.port(), "/nope");
  EXPECT_NE(nf.find("try GET /down or /metrics or /progress"), std::string::npos) << nf;
  server.Stop();
  // Every interface: not loopback (the reporter then logs a warning).
  MetricsServer any([] { return std::string(); });
  ASSERT_TRUE(any.Start("0.0.0.0", 0).ok());
  EXPECT_FALSE(any.loopback());
  EXPECT_EQ(Get(any.port(), "/metrics").rfind("HTTP/1.1 200", 0), 0u);
  any.Stop();
  MetricsServer bad([] { return std::string(); });
  Status s = bad.Start("no-such-host.invalid", 0);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("no-such-host.invalid"), std::string::npos) << s.ToString();
}

TEST(StatusReporterTest, WritesStatusFileAndMetricsAndExitsCleanly) {
  TempDir dir("status_reporter");
  std::atomic<uint64_t> events{0};
  ReporterOptions o;
  o.spool_dir = dir.path();
  o.process = "apply";
  o.name = "a1";
  o.metrics_port = -1;  // invalid: Start must refuse it
  {
    StatusReporter bad(o, [](int64_t, pb::ProcessStatus*) {});
    EXPECT_TRUE(bad.Start().IsInvalidArgument());
  }
  o.metrics_port = 0;
  o.interval_ms = 50;
  StatusReporter r(o, [&](int64_t, pb::ProcessStatus* st) { st->set_events_total(events); });
  ASSERT_TRUE(r.Start().ok());
  const std::string path = ProcessStatusPath(dir.path(), "apply", "a1");
  EXPECT_EQ(BaseName(path), "apply-a1.status");
  pb::ProcessStatus st;
  ASSERT_TRUE(ReadProcessStatus(Env::Default(), path, &st).ok());
  EXPECT_EQ(st.pid(), getpid());
  EXPECT_FALSE(st.exited());
  events = 500;
  r.NoteError("boom");
  // Within a few intervals the heartbeat advances and events/s becomes positive.
  for (int i = 0; i < 100 && st.events_per_second() == 0; ++i) {
    usleep(20'000);
    ASSERT_TRUE(ReadProcessStatus(Env::Default(), path, &st).ok());
  }
  EXPECT_GT(st.events_per_second(), 0);
  EXPECT_EQ(st.last_error(), "boom");
  r.Stop();
  ASSERT_TRUE(ReadProcessStatus(Env::Default(), path, &st).ok());
  EXPECT_TRUE(st.exited());
  EXPECT_EQ(st.events_total(), 500u);
}

}  // namespace
}  // namespace docshift::status
