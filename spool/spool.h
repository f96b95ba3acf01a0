// A spool directory: segments + manifest + checkpoints (see spool/FORMAT.md).
//
//   DIR/MANIFEST                       append-only log of sealed/deleted segments
//   DIR/LOCK                           flock'ed by the one writer; holds its pid
//   DIR/SYNCED                         how far the open segment is durable (durable_mark.h)
//   DIR/segments/<20-digit seq>.seg    sealed segments, and at most one open one
//   DIR/checkpoints/<name>.ckpt        apply progress, one per apply name
//
// SpoolWriter is the single writer (capture). It holds the lock for its lifetime;
// a second writer gets Busy naming the holder's pid. Readers (SpoolReader, inspect,
// status, apply) never take the lock.
//
// Durability: Append() is not durable; Sync() makes every appended batch durable, and
// only then is the batch's resume token acknowledged (resume_state() reflects durable
// state only after Sync). Sealing syncs the segment before the manifest entry, and the
// manifest entry before the segment is reported sealed. After every sync the writer
// publishes the durable length of the open segment (DIR/SYNCED); readers that act on
// events (SpoolTail, ReadSpoolEnd) never read past it.
//
// Thread safety: one thread per object.
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "proto/spool.pb.h"
#include "spool/durable_mark.h"
#include "spool/manifest.h"
#include "spool/segment.h"
#include "util/env.h"
#include "util/status.h"

namespace docshift::spool {

struct SpoolWriterOptions {
  std::string dir;
  Env* env = Env::Default();
  // Identity of the source; a spool created for another source is refused.
  std::string source_id;
  std::string source_kind;
  // Capture's namespace filter, recorded in a new spool's SpoolCreated; an existing spool
  // that recorded another one is refused. Null: none recorded, none checked.
  const pb::NamespaceFilterSpec* namespace_filter = nullptr;
  // DynamoDB sources: capture's --dynamodb_numbers ("decimal", "string", "double"),
  // recorded in a new spool's SpoolCreated; an existing spool that recorded another one
  // (none recorded counts as "decimal") is refused. Empty: none recorded, none checked.
  std::string dynamodb_numbers;
  // Roll the open segment when it reaches this size or age (whichever first).
  uint64_t segment_max_bytes = 64ull << 20;
  int64_t segment_max_age_ms = 60'000;
  int zstd_level = 1;
};

// Where capture resumes: the last durable position.
struct ResumeState {
  uint64_t next_seq = 1;
  std::string resume_token;      // empty for a new spool
  uint64_t resume_cluster_time = 0;
};

// What Open() found and repaired, for the log.
struct RecoveryReport {
  bool created = false;
  int temp_files_removed = 0;
  int orphan_segments_removed = 0;
  bool manifest_tail_truncated = false;
  bool open_segment_found = false;
  uint64_t open_segment_truncated_bytes = 0;
  bool open_segment_sealed_by_recovery = false;
  bool empty_open_segment_removed = false;
  std::string ToString() const;
};

struct PruneResult {
  int segments_deleted = 0;
  uint64_t bytes_deleted = 0;
  uint64_t min_applied_seq = 0;  // what was kept: every segment holding a later sequence
  int checkpoints = 0;
  int shipped_marks = 0;              // destinations shipped to (spool/shipped_mark.h)
  int running_applies = 0;        // apply locks held (spool/apply_lock.h)
  uint64_t lowest_running_start = 0;  // their lowest recorded start; 0: one has none yet
};

class SpoolWriter {
 public:
  // Creates the spool or opens and recovers it: takes the lock, removes temp files,
  // truncates a torn manifest tail, validates the open segment and truncates its torn
  // tail, finishes an interrupted seal, removes files of deleted segments. Refuses
  // (Corruption, naming file and offset) anything wrong in sealed data or the manifest,
  // and (FailedPrecondition) a spool that belongs to another source.
  static StatusOr<std::unique_ptr<SpoolWriter>> Open(const SpoolWriterOptions& opts,
                                                     RecoveryReport* report = nullptr);
  ~SpoolWriter();

  // Durable position to resume capture from.
  const ResumeState& resume_state() const { return durable_; }
  uint64_t next_seq() const { return next_seq_; }

  // Assigns batch->first_seq and appends it to the open segment (creating one if
  // needed). Not durable until Sync(). A batch may have zero events (it then only
  // advances the resume token).
  Status Append(pb::ChangeBatch* batch);
  // Group commit: makes everything appended durable and advances resume_state().
  Status Sync();
  // Pipelined group commit: starts making everything appended so far durable on a
  // background thread and returns at once, so the caller can compress and append the
  // next batch meanwhile. Waits for the previous SyncAsync first. resume_state()
  // advances only once a sync has completed (WaitSync, the next SyncAsync, or Sync).
  Status SyncAsync();
  Status WaitSync();
  // Seals the open segment if it holds events and is over the size or age limit.
  Status MaybeRoll(int64_t now_ms);
  // Seals the open segment now if it holds any events.
  Status SealOpenSegment(int64_t now_ms);
  // Syncs and seals what is open. The writer must not be used afterwards.
  Status Close(int64_t now_ms);

  // Deletes sealed segments that every apply checkpoint and every shipped mark
  // (spool/shipped_mark.h) has passed and that were sealed at least retention_ms before
  // now_ms. Never deletes a segment an apply has not
  // passed, nor one a running apply reads from its start on (apply_lock.h: it holds
  // locks/prune.lock meanwhile), nor the newest sealed one, nor anything if there is
  // neither a checkpoint nor a shipped mark. Busy if prune.lock stays held for lock_timeout_ms.
  StatusOr<PruneResult> Prune(int64_t retention_ms, int64_t now_ms, int64_t lock_timeout_ms = 60'000);

  const ManifestState& manifest() const { return manifest_; }
  const std::string& dir() const { return opts_.dir; }
  // Bytes in the open segment (appended, durable or not); 0 when none is open.
  uint64_t open_segment_bytes() const { return open_ ? open_->file_size() : 0; }

 private:
  explicit SpoolWriter(const SpoolWriterOptions& opts);
  Status Recover(RecoveryReport* report);
  Status RecoverOpenSegment(const std::string& name, RecoveryReport* report);
  Status RecordSealed(const pb::SegmentSealed& sealed);
  // Publishes the durable mark; a failure only holds readers back, so it is logged.
  void PublishMark(uint64_t segment_first_seq, uint64_t durable_bytes);

  SpoolWriterOptions opts_;
  Env* env_;
  std::string segments_dir_;
  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<DurableMarkPublisher> mark_;
  ManifestState manifest_;
  std::unique_ptr<ManifestWriter> manifest_writer_;
  std::unique_ptr<SegmentWriter> open_;
  uint64_t next_seq_ = 1;
  ResumeState durable_;
  ResumeState pending_;  // position after the last Append, durable after Sync
  bool dirty_ = false;
  std::future<Status> inflight_;  // a SyncAsync in progress
  ResumeState inflight_state_;    // what it covers
};

// One segment as a reader sees it: from the manifest (sealed) or from the directory.
struct SegmentListing {
  std::string file_name;
  std::string path;
  uint64_t first_seq = 0;
  bool sealed = false;             // listed in the manifest
  const pb::SegmentSealed* manifest_entry = nullptr;  // valid while the SpoolView lives
};

// A read-only snapshot of a spool's layout: manifest + segment files. Never locks.
struct SpoolView {
  std::string dir;
  ManifestState manifest;
  std::vector<SegmentListing> segments;  // ascending first_seq: sealed ones, then the open one
  std::vector<std::string> unexpected_files;  // in segments/ but neither listed nor open
};
Status OpenSpoolView(Env* env, const std::string& dir, SpoolView* view,
                     bool keep_manifest_entries = false);

// Where a spool ends now, as a reader sees it: the sealed segments in the manifest plus
// the complete records of the open segment. Never locks; reads the open segment.
struct SpoolEnd {
  uint64_t next_seq = 1;          // sequence the next captured event will get
  bool has_position = false;      // capture recorded a start position (any batch exists)
  uint64_t resume_cluster_time = 0;
  int64_t last_event_wall_ms = 0; // capture wall time of the newest event, 0 if none
  int64_t last_batch_wall_ms = 0; // when the newest batch was written
};
StatusOr<SpoolEnd> ReadSpoolEnd(Env* env, const std::string& dir);

// Reads events in sequence order across segments, from a given sequence number. Sealed
// segments must be intact (anything wrong is Corruption); the open segment, if included,
// is read up to its last complete record. Bounded memory: one batch at a time.
class SpoolReader {
 public:
  struct Options {
    bool include_open_segment = true;
    uint64_t from_seq = 1;
    bool compute_file_crc = false;
  };
  SpoolReader(Env* env, const SpoolView* view, Options opts);

  // Next batch that contains events at or after from_seq (events before it are removed
  // from the batch; *first_seq_out is the sequence of the first event returned).
  // EndOfFile when there is nothing more.
  Status Next(pb::ChangeBatch* batch, std::string* segment_name = nullptr,
              uint64_t* record_offset = nullptr);

 private:
  Env* env_;
  const SpoolView* view_;
  Options opts_;
  size_t index_ = 0;
  std::unique_ptr<SegmentReader> cur_;
};

// A recorded namespace filter as the flags that give it, for messages and `inspect`:
// "--include 'a.*,b.c' --exclude 'a.tmp'", or "no --include/--exclude (every namespace)".
std::string DescribeNamespaceFilter(const pb::NamespaceFilterSpec& f);

}  // namespace docshift::spool
