// `docshift ship`: copies a local spool's sealed segments to a bucket and commits each one
// in the bucket's commit log (spool/FORMAT.md, "Bucket layout"; bucket/log.h).
//
// One run: reads the log to its end; creates record 1 (the spool's SpoolCreated) on an
// empty prefix, or refuses a prefix that holds another spool; appends ShipperStarted
// (fencing: a shipper that started earlier stops at its next append); then, for each
// sealed local segment from the log's next sequence on, in order: checks the file against
// its manifest entry (size, crc32c), PUTs it as segments/<name> (Content-MD5), appends its
// `sealed` record, and writes the local shipped mark (spool/shipped_mark.h) so prune may
// delete it locally. It also uploads snapshot/STATE whenever it changes. It follows the
// spool as capture seals segments until stopped, or returns once everything sealed is
// committed (stop_when_drained).
//
// Retention (retention_ms > 0, bucket/retention.h): after a pass, at most once per
// retention_interval_ms, reads every checkpoint and snapshot/STATE of the bucket, then for
// each segment that may go, oldest first, appends its `deleted` record (create-only, like
// every record) and only then DELETEs the object. A crash between the two leaves an
// orphan object; the first round of every run lists segments/ and deletes each object the
// log records deleted (idempotent).
//
// Crash safety: a segment object without its record is not committed; the next run
// uploads it again (same name, same bytes) and commits it. A record whose response was
// lost is recognised by the writer id (aws/s3_client.h). Nothing is committed that is not
// durable in the local spool (only sealed segments are shipped).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "aws/s3_client.h"
#include "bucket/location.h"
#include "proto/spool.pb.h"
#include "util/env.h"
#include "util/status.h"

namespace docshift::bucket {

// The shipper also copies the local status/capture.status to PREFIX/status/capture.status
// (advisory, for `status`/`cutover --spool s3://`) when it changed, at most this often.
inline constexpr int64_t kCaptureStatusUploadMs = 3000;

struct ShipperOptions {
  std::string spool_dir;
  BucketLocation to;
  aws::S3ClientOptions s3;  // region, credentials, endpoint (aws::S3ClientOptionsFromEnv)
  Env* env = Env::Default();
  int64_t poll_interval_ms = 1000;  // how often the local manifest is looked at when idle
  bool stop_when_drained = false;   // return once every sealed segment is committed
  // Set: from then on, return once every sealed segment is committed (capture --ship_to
  // sets it when capture has sealed its last segment).
  const std::atomic<bool>* drain = nullptr;
  // Set: return after the segment in hand (without committing everything).
  const std::atomic<bool>* stop = nullptr;
  // Wait (polling, honouring stop) for the spool to be created, instead of failing
  // (capture --ship_to starts the shipper beside a capture that creates it).
  bool wait_for_spool = false;
  // For the ShipperStarted record (who took the log over): defaults to this host and pid.
  std::string host;
  int64_t pid = 0;
  // Called after each commit (for the CLI's progress lines); may be empty.
  std::function<void(const pb::SegmentSealed& seg, uint64_t log_number)> on_commit;
  // Remote retention (bucket/retention.h): > 0 deletes, oldest first, the committed
  // segments every checkpoint in the bucket has passed, that no unfinished snapshot needs
  // and that were committed longer ago than this (never the newest). 0: keep everything.
  int64_t retention_ms = 0;
  // At most one retention round per interval (the first one right after the first pass).
  int64_t retention_interval_ms = 60'000;
  // Called after each segment object retention deleted; may be empty.
  std::function<void(const pb::SegmentDeleted& del, uint64_t bytes, uint64_t log_number)> on_delete;
};

struct ShipResult {
  uint64_t segments = 0;      // committed by this run
  uint64_t bytes = 0;         // their file bytes
  uint64_t shipped_seq = 0;   // every sequence <= this is committed in the bucket
  uint64_t log_number = 0;    // the log's last record
  uint64_t snapshot_uploads = 0;
  uint64_t segments_deleted = 0;  // by retention, this run (orphans of an earlier run included)
  uint64_t bytes_deleted = 0;     // their file bytes (orphans: as listed)
  std::string writer_id;          // this run's
};

// Errors: FailedPrecondition when another shipper took the log over (this run stops), or
// the prefix holds another spool, or the local spool lost a segment before it was shipped;
// Corruption naming a bad local file or bucket object; the S3 client's errors otherwise.
StatusOr<ShipResult> RunShipper(const ShipperOptions& opts);

// A fresh random writer id (32 hex digits).
std::string NewWriterId();

}  // namespace docshift::bucket
