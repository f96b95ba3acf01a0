// Apply checkpoints in a bucket spool (spool/FORMAT.md, "Bucket layout"): the object
// PREFIX/checkpoints/<name>.ckpt, framed as the local checkpoint file. ON THE WIRE.
//
// Fencing: every write is conditional. The first write of a name by this store is
// create-only (If-None-Match: *), or If-Match on the ETag Claim() found; every later one
// is If-Match on the ETag of this store's previous write. When another apply of the same
// name has written meanwhile the PUT gets 412 and Write returns FailedPrecondition
// ("another apply named NAME took over ...; this one stops"): the caller must stop.
//
// Lease: each checkpoint carries its writer (writer_id, writer_host, writer_pid) and
// updated_wall_ms. Claim() refuses (FailedPrecondition naming host and pid) a checkpoint
// another writer wrote less than lease_ms ago, unless that writer ran on this host and its
// pid is gone, and otherwise takes it over with a conditional write. A running apply keeps its lease with Heartbeat() (at least every
// lease_ms / 3): a second apply of the name is refused while the first runs, and can take
// over once it has been silent for the lease.
//
// Dead letters: when `local_dir` is set, Write first copies local_dir/deadletter/NAME.dlq
// to PREFIX/deadletter/NAME.dlq if it changed (the caller synced it), so the bucket's copy
// covers every dead letter the checkpoint passes; Claim() brings the bucket's copy into
// local_dir before apply opens the file.
//
// Thread safety: every method may be called from any thread (one mutex; the S3 client
// is used under it). Heartbeat runs on apply's background thread beside Write.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bucket/location.h"
#include "spool/checkpoint_store.h"
#include "util/env.h"

namespace docshift::aws {
class S3Client;
}

namespace docshift::bucket {

struct BucketCheckpointStoreOptions {
  BucketLocation loc;
  std::unique_ptr<aws::S3Client> s3;  // REQUIRES: not null
  Env* env = Env::Default();
  std::string local_dir;  // a local spool-shaped dir whose deadletter/ is mirrored; "" none
  // Who writes: a random id per run, the host and pid (for the lease's messages).
  std::string writer_id;
  std::string writer_host;
  int64_t writer_pid = 0;
  int64_t lease_ms = 30'000;
  // Set when a write finds the checkpoint taken over (before Write/Heartbeat return), so
  // the caller can stop writing to the target at once, from any thread. May be null.
  std::atomic<bool>* fenced = nullptr;
};

class BucketCheckpointStore final : public spool::CheckpointStore {
 public:
  explicit BucketCheckpointStore(BucketCheckpointStoreOptions opts);
  ~BucketCheckpointStore() override;

  std::string Describe() const override;  // "s3://BUCKET/PREFIX/checkpoints"
  Status Read(const std::string& name, pb::ApplyCheckpoint* out) override;
  // Fills the writer fields, copies the dead letters, then the conditional PUT.
  Status Write(const std::string& name, const pb::ApplyCheckpoint& ckpt) override;
  StatusOr<std::vector<spool::NamedCheckpoint>> List() override;

  // Takes the checkpoint of `name` for this writer at start (see the header comment):
  // FailedPrecondition naming the other writer while its lease lasts, or when another
  // apply claims it at the same moment. On success *found tells whether a checkpoint
  // existed (then *out holds it); either way the bucket now holds one written by this
  // store (applied_seq 0 when there was none).
  Status Claim(const std::string& name, int64_t now_ms, pb::ApplyCheckpoint* out, bool* found);
  // Rewrites the last checkpoint this store wrote for `name` with updated_wall_ms = now
  // when that write is at least interval_ms old. FailedPrecondition as Write.
  Status Heartbeat(const std::string& name, int64_t now_ms, int64_t interval_ms);
  // applied_seq of the last checkpoint Write() wrote for `name`; 0 if none. (Not the one
  // Claim() rewrote: an apply may restart below it, from a snapshot.)
  uint64_t LastWrittenSeq(const std::string& name);

 private:
  struct Written {
    std::string etag;
    pb::ApplyCheckpoint ckpt;
    int64_t wall_ms = 0;
    uint64_t written_seq = 0;  // applied_seq of the last Write() (0: only claimed)
  };
  Status ReadLocked(const std::string& name, pb::ApplyCheckpoint* out, std::string* etag);
  Status PutLocked(const std::string& name, pb::ApplyCheckpoint ckpt, int64_t now_ms, bool from_write = false);
  Status CopyDeadLettersLocked(const std::string& name);
  std::string DescribeWriter(const pb::ApplyCheckpoint& c) const;

  BucketCheckpointStoreOptions opts_;
  std::mutex mu_;
  std::map<std::string, Written> written_;      // by name
  std::map<std::string, std::string> claimed_;  // name -> ETag found by Claim, before any write
  std::map<std::string, int64_t> dlq_bytes_;    // name -> size of the dead letters last copied
  uint64_t attempts_ = 0;
};

// This machine's host name ("" when unknown).
std::string HostName();

}  // namespace docshift::bucket
