// `docshift status`: where a migration stands, computed from the spool alone (manifest,
// segments, checkpoint, dead letters, snapshot/STATE) plus the status files capture and
// apply write about once a second (status/*.status, see reporter.h). Never takes the
// spool lock; safe beside a running capture and apply. A status file left by a dead
// process is just stale: its heartbeat stops advancing and the process shows as stopped.
//
// Definitions (also in README.md):
//   capture lag    0 when capture's last read found nothing newer on the source (caught
//                  up), else now - source time of the newest captured event.
//   apply lag      gap_in_seconds: 0 when the checkpoint has reached the spool's last
//                  durable seq, else now - capture time of the oldest unapplied event.
//   namespace gap  0 when apply has nothing of the namespace pending, else now - capture
//                  time of its oldest read but unapplied event (from apply's status file).
//   alive          the status file's heartbeat is fresh (younger than kStaleAfter or five
//                  intervals, whichever is longer), the process did not record a clean
//                  exit, and (on this host) its pid is running.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proto/spool.pb.h"
#include "util/env.h"
#include "util/status.h"

namespace docshift::status {

// Lags up to this many seconds count as "in sync".
inline constexpr double kInSyncLagSeconds = 5.0;
// A heartbeat older than this (or five status intervals) is stale.
inline constexpr int64_t kStaleAfterMs = 5000;

// One status file as read.
struct ProcessView {
  bool present = false;       // a readable status file exists
  bool alive = false;         // see "alive" above
  std::string why_not_alive;  // "no status file", "exited at ...", "heartbeat 12 s old", ...
  double heartbeat_age_s = 0;
  pb::ProcessStatus st;       // as written by the process
};

struct NamespaceView {
  std::string ns;
  uint64_t events_applied = 0;     // by the current (or last) apply process
  int64_t last_source_ms = 0;      // source time of its last applied event
  double gap_s = 0;
};

struct ApplyView {
  std::string name;
  bool has_checkpoint = false;
  uint64_t checkpoint_seq = 0;
  int64_t checkpoint_updated_ms = 0;
  uint64_t events_applied_total = 0;  // over every run, from the checkpoint
  uint64_t backlog_events = 0;        // last_durable_seq - checkpoint_seq
  uint64_t backlog_bytes = 0;         // on-disk segment bytes holding them (prorated)
  int64_t oldest_unapplied_capture_ms = 0;  // 0 when nothing is unapplied
  double gap_s = 0;                   // apply lag, see above
  double events_per_s = 0;            // from the status file (0 when not alive)
  uint64_t dead_letters = 0;          // records in deadletter/<name>.dlq
  std::vector<NamespaceView> namespaces;  // from the status file, sorted by namespace
  ProcessView process;
};
// A slot whose checkpoint is behind the spool's end and has not moved for this long is stalled.
inline constexpr int64_t kSlotStalledAfterMs = 60'000;

struct SnapshotCollectionView {
  std::string ns;
  uint64_t ranges_done = 0, ranges_total = 0;
  uint64_t docs_copied = 0, estimated_docs = 0;
};

struct SnapshotView {
  bool present = false;       // snapshot/STATE exists
  bool running = false;       // finished_wall_ms == 0
  std::string snapshot_id;
  int64_t started_ms = 0, finished_ms = 0;
  std::vector<SnapshotCollectionView> collections;
  // Load control (SnapshotState): --max_docs_per_s (0: none), documents per second of the
  // current (or last) run, writes the target pushed back in it.
  double rate_limit_docs_per_s = 0, rate_achieved_docs_per_s = 0;
  uint64_t throttled_total = 0;
  // A snapshot by several workers (`snapshot --spool s3://…`, FORMAT.md "Snapshot by several
  // workers"): its STATE holds the plan only, so the whole snapshot's progress comes from
  // the bucket's claims and done objects (BucketStatusReader::SetSharedSnapshotProgress).
  struct Shared {
    bool present = false;
    int ranges_done = 0, ranges_total = 0, ranges_copying = 0, ranges_stale = 0, workers = 0;
    uint64_t docs_done = 0, docs_estimated = 0;
    double eta_s = -1;  // -1: unknown
    std::string line;   // "ranges 12/40 done, 3 copying (3 workers), 120000 docs, ETA 0:42"
    // Per collection in the plan's (and STATE's) order: ranges done, their documents.
    std::vector<int> collection_ranges_done;
    std::vector<uint64_t> collection_docs_done;
  } shared;
};

// A spool read from a bucket (`status --spool s3://...`, spool/FORMAT.md "Bucket layout"):
// the bucket's commit log stands in for the manifest and segments, the apply checkpoints'
// lease (updated_wall_ms, rewritten at least every 10 s) for apply's status file, and the
// shipper's upload of capture's status file for capture's.
// An apply checkpoint in a bucket not rewritten for this long: its apply is not running
// (the lease of bucket/checkpoint_store.h).
inline constexpr int64_t kBucketApplyLeaseMs = 30'000;
// Capture's status file reaches the bucket up to this much later than it is written.
inline constexpr int64_t kBucketStatusSlackMs = 10'000;

// What the bucket's commit log says (bucket::LogState, as plain data).
struct BucketLogInput {
  std::string url;                           // s3://BUCKET/PREFIX
  uint64_t log_number = 0;                   // the log's last record
  pb::SpoolCreated created;
  std::vector<pb::SegmentSealed> segments;   // committed and live, ascending
  uint64_t next_seq = 1;                     // first sequence not committed yet
  uint64_t deleted_through_seq = 0;
  std::string writer_id;                     // of the newest record
  pb::ShipperStarted shipper;                // the newest shipper run
  int64_t last_written_wall_ms = 0;          // of the newest record
};

struct BucketView {
  std::string url;                 // "" when the spool is a local directory
  uint64_t log_number = 0;
  uint64_t committed_seq = 0;      // every sequence <= this is committed in the bucket
  uint64_t oldest_seq = 0;         // the oldest committed sequence still in the bucket (0: none)
  std::string writer_id;           // the shipper run that wrote the newest record
  std::string shipper_host;
  int64_t shipper_pid = 0;
  int64_t last_commit_ms = 0;      // when the newest log record was written
  double last_commit_age_s = 0;
  double newest_committed_age_s = 0;  // now - capture time of the newest committed event
  // From capture's status file as the shipper uploaded it (capture.present): capture's
  // last durable sequence minus committed_seq, i.e. captured but not yet in the bucket.
  uint64_t unshipped_events = 0;
};

struct MigrationStatus {
  std::string spool_dir;
  int64_t now_ms = 0;
  // "snapshotting" | "catching up" | "in sync" | "capture stopped" | "apply stopped"
  std::string state;
  std::string state_reason;  // one line: why this state
  // Whether `docshift cutover` could begin now, as far as the spool tells (mongosync's
  // canCommit): state "in sync" and no dead letters. cutover still waits for writes to
  // stop, drains and verifies. cutover_blocked_by: one line why not ("" when it can).
  bool can_cutover = false;
  std::string cutover_blocked_by;

  // Capture.
  ProcessView capture;
  bool capture_alive = false;
  double capture_lag_s = 0;
  double capture_events_per_s = 0;

  // Spool.
  std::string source_kind;
  // DynamoDB: the number mode capture records (SpoolCreated.dynamodb_numbers; "" = decimal).
  std::string dynamodb_numbers;
  uint64_t last_durable_seq = 0;   // sealed segments + the open segment's complete records
  uint64_t segments = 0;           // live segments, the open one included
  uint64_t sealed_segments = 0;
  uint64_t spool_bytes = 0;
  int64_t last_event_capture_ms = 0;  // capture time of the newest event in the spool (0: none)
  uint64_t last_cluster_time = 0;     // source cluster time of the newest event

  // Apply (the one named in CollectStatus).
  ApplyView apply;
  std::vector<std::string> apply_names;  // every apply name seen in the spool
  // Apply slots (`apply --slot I/N`, issue #13): when the name has no checkpoint or status
  // file of its own but NAME.slot-I-of-N ones, `apply` is the slots' together (the
  // minimum checkpoint, so lag and cutover wait for the slowest; alive only if every slot
  // is; sums of counts), each slot is in `slots` (index I; one per I in 0..N-1, a missing
  // one with has_checkpoint false and no process), and `slot_problems` names a missing or
  // stalled slot, one line each.
  int slot_count = 0;
  std::vector<ApplyView> slots;
  std::vector<std::string> slot_problems;

  SnapshotView snapshot;
  BucketView bucket;  // url empty for a local spool
  // Things that did not stop the report: a damaged status file, a segment that vanished
  // under retention while being read, ...
  std::vector<std::string> warnings;
};

// Reads everything and computes the figures at now_ms. NotFound (naming the directory)
// when there is no spool there; Corruption when the manifest or a sealed segment that is
// needed is damaged. Missing or partial status files, checkpoints and dead-letter files
// are not errors.
StatusOr<MigrationStatus> CollectStatus(Env* env, const std::string& spool_dir, int64_t now_ms,
                                        const std::string& apply_name = "apply");

// The same view of a bucket spool: `dir` is a local directory holding copies of the
// bucket's checkpoints/, deadletter/, snapshot/STATE and status/capture.status (see
// bucket::BucketSpoolCache); the spool figures come from `log`. Apply is alive while its
// checkpoint's lease lasts (kBucketApplyLeaseMs); capture is judged from the uploaded
// status file, allowing kBucketStatusSlackMs more for the upload's delay. Lags and backlog
// are against the committed end; cutover is blocked while capture reports events that
// are not committed yet (bucket.unshipped_events), or when its status was never uploaded.
// NotFound when the log is empty is the caller's (it reads the bucket).
StatusOr<MigrationStatus> CollectBucketStatus(Env* env, const std::string& dir, const BucketLogInput& log,
                                              int64_t now_ms, const std::string& apply_name = "apply");

// A human table, several lines.
std::string RenderText(const MigrationStatus& s);
// One JSON object on one line (stable key names; see README.md).
std::string RenderJson(const MigrationStatus& s);

}  // namespace docshift::status
