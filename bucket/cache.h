// BucketSpoolCache: a LOCAL spool-shaped directory (the cache dir) made from a spool in a
// bucket (spool/FORMAT.md, "Bucket layout"), so that apply's reading code (SpoolTail,
// OpenSpoolView, ReadSpoolRange, snapshot/STATE, dead letters, apply locks) works on it
// unchanged.
//
//   DIR/BUCKET_SPOOL        "s3://BUCKET/PREFIX\n": which bucket spool this cache is of
//   DIR/LOCK                flock'ed by the one process filling the cache
//   DIR/MANIFEST            SpoolCreated from log record 1, then one SegmentSealed per
//                           committed segment, appended only AFTER its file is here and
//                           durable; SegmentDeleted for evicted (or never downloaded) ones
//   DIR/segments/<seq>.seg  downloaded segments, checked and fsynced
//   DIR/incoming/           a download in progress (removed on open)
//   DIR/snapshot/STATE      a copy of the bucket's, replaced when it changes
//
// A segment is downloaded whole (the S3 client checks the MD5), written to incoming/,
// fsynced, checked (size and file_crc32c against its commit record, every record's
// framing, footer and sequence continuity), then renamed into segments/, the directory
// fsynced, and only then recorded sealed in the MANIFEST: a reader of the cache never sees
// a byte of a damaged object. A damaged one is Corruption naming s3://BUCKET/KEY (and the
// offset when the framing finds it), and nothing of it is recorded.
//
// The cache holds at most max_bytes of segments, but always at least the next one needed;
// Evict() removes segments a checkpoint has passed (the MANIFEST record first).
//
// Thread safety: one thread (apply's background thread) uses the object; readers in
// other threads or processes read the directory as they would read a spool.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "bucket/location.h"
#include "bucket/log.h"
#include "spool/manifest.h"
#include "util/env.h"
#include "util/status.h"

namespace docshift::aws {
class S3Client;
}

namespace docshift::bucket {

inline constexpr char kCacheMarkerFile[] = "BUCKET_SPOOL";

struct BucketSpoolCacheOptions {
  BucketLocation loc;
  std::unique_ptr<aws::S3Client> s3;  // REQUIRES: not null
  Env* env = Env::Default();
  std::string dir;
  uint64_t max_bytes = uint64_t{1} << 30;
};

class BucketSpoolCache {
 public:
  // Creates the cache dir or reopens it, and reads the bucket's commit log. Errors:
  // NotFound when the bucket holds no spool at PREFIX (an empty log); FailedPrecondition
  // for a dir that is not empty and not a cache, a cache of another bucket spool (or of
  // one that was recreated since), or one another process holds (Busy); Corruption from
  // the log (bucket/log.h).
  static StatusOr<std::unique_ptr<BucketSpoolCache>> Open(BucketSpoolCacheOptions opts);
  ~BucketSpoolCache();

  // One step: reads new log records, copies snapshot/STATE when it changed, and records
  // or downloads the committed segments the cache lacks, within max_bytes. Segments wholly
  // before `start_seq` are recorded sealed and deleted without being downloaded.
  // Corruption naming the object for a damaged segment or log; other S3 errors as is.
  Status Sync(uint64_t start_seq);
  // Copies snapshot/STATE when it changed (Sync does too): a reader decides its start
  // from it before the first Sync.
  Status SyncSnapshot();
  // For readers that look at everything (inspect): copies every checkpoint object and
  // dead-letter file of the bucket spool into checkpoints/ and deadletter/, replacing
  // local ones. Corruption naming the object for a checkpoint that does not decode.
  Status CopyCheckpointsAndDeadLetters();
  // For status/cutover: copies PREFIX/status/capture.status (the shipper's upload of
  // capture's status file) to status/capture.status; *found says whether it exists.
  // Corruption naming the object when it does not decode.
  Status CopyCaptureStatus(bool* found);
  // Removes the local segments whose events are all <= applied_seq (never the newest),
  // and lets Sync download past max_bytes once everything here is passed.
  Status Evict(uint64_t applied_seq);

  // The first sequence the cache does not hold yet / the bucket's log does not commit yet.
  uint64_t local_next_seq() const { return manifest_.next_seq_after_sealed(); }
  uint64_t bucket_next_seq() const { return log_state_.next_seq; }
  uint64_t cached_bytes() const { return cached_bytes_; }
  uint64_t segments_downloaded() const { return downloaded_; }
  const LogState& log_state() const { return log_state_; }
  const std::string& dir() const { return opts_.dir; }

 private:
  explicit BucketSpoolCache(BucketSpoolCacheOptions opts);
  Status Init();
  Status Download(const pb::SegmentSealed& seg, bool* gone);
  Status Record(const pb::ManifestRecord& rec);

  BucketSpoolCacheOptions opts_;
  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<BucketLog> log_;
  LogState log_state_;
  spool::ManifestState manifest_;
  std::unique_ptr<spool::ManifestWriter> manifest_writer_;
  uint64_t cached_bytes_ = 0;
  uint64_t downloaded_ = 0;
  std::string snapshot_etag_;
  uint64_t passed_seq_ = 0;  // the highest applied_seq Evict was given
};

}  // namespace docshift::bucket
