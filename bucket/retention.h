// Remote retention of a bucket spool (issue #13; spool/FORMAT.md, "Bucket layout",
// "Retention"): which committed segments the shipper may delete from the bucket.
//
// Only the log's writer may append records, so retention runs inside the shipper
// (`ship --bucket_retention`, bucket/shipper.h). A committed segment may be deleted only
// when ALL hold:
//   (a) every apply checkpoint under checkpoints/ (every name, every slot) has applied
//       past its last_seq; no checkpoint at all: nothing is deleted; a slot set missing
//       one of its N checkpoints: nothing is deleted (that slot starts from the
//       beginning); a checkpoint that does not follow from the snapshot in
//       snapshot/STATE (another snapshot_id) counts as at that snapshot's start_seq,
//       because its apply restarts just after it;
//   (b) no unfinished snapshot still needs it: such a snapshot's apply starts at
//       start_seq + 1, so every segment with last_seq > start_seq stays;
//   (c) it was committed (its `sealed` record's written_wall_ms) more than retention_ms
//       before now;
//   (d) it is not the newest committed segment.
// Segments go oldest first: the first one that fails a rule ends the run.
//
// DecideBucketRetention is pure (unit-tested without a server); the shipper does the I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bucket/log.h"
#include "proto/spool.pb.h"
#include "spool/checkpoint.h"

namespace docshift::bucket {

struct RetentionInput {
  const LogState* log = nullptr;                    // REQUIRES: not null
  std::vector<spool::NamedCheckpoint> checkpoints;  // every one under checkpoints/
  // The snapshot states that apply may start from (the bucket's snapshot/STATE, the local
  // spool's); each one that is unfinished holds back what follows its start_seq.
  std::vector<pb::SnapshotState> snapshots;
  int64_t now_ms = 0;
  int64_t retention_ms = 0;
};

struct RetentionDecision {
  size_t deletable = 0;  // log->segments[0 .. deletable) may be deleted, in that order
  // Why the next segment stays (empty when there is none left but the newest): for the
  // log, e.g. "checkpoint 'apply' has applied up to seq 40" or "no apply checkpoint in the
  // bucket yet".
  std::string held_by;
  bool no_checkpoint = false;  // rule (a) with no checkpoint at all
};

RetentionDecision DecideBucketRetention(const RetentionInput& in);

}  // namespace docshift::bucket
