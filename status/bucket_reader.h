// BucketStatusReader: `docshift status` / `cutover` / `verify` on a spool in a bucket
// (spool/FORMAT.md, "Bucket layout"), from the bucket alone. It keeps a small local
// spool-shaped copy (a bucket::BucketSpoolCache that downloads no segment): each Collect()
// reads the commit log's new records, then copies the checkpoints, dead letters,
// snapshot/STATE and status/capture.status, and hands them with the log to
// status::CollectBucketStatus.
//
// Thread safety: one thread. The copy lives in a temporary directory removed on
// destruction (or in `dir` when given, which is then kept).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "bucket/location.h"
#include "status/status.h"
#include "util/env.h"
#include "util/status.h"

namespace docshift::aws {
class S3Client;
struct S3ClientOptions;
}  // namespace docshift::aws

namespace docshift::bucket {
class BucketSpoolCache;
}

namespace docshift::status {

class BucketStatusReader {
 public:
  // Errors: NotFound naming the log when the bucket holds no spool at PREFIX (no log
  // record 1); Corruption naming s3://BUCKET/KEY for a damaged log record or object; the
  // S3 client's errors otherwise; IOError when no temporary directory can be made.
  static StatusOr<std::unique_ptr<BucketStatusReader>> Open(const bucket::BucketLocation& loc,
                                                            std::unique_ptr<aws::S3Client> s3, Env* env,
                                                            const std::string& dir = "");
  ~BucketStatusReader();

  // Reads the bucket again and computes the status at now_ms. Errors as Open.
  StatusOr<MigrationStatus> Collect(int64_t now_ms, const std::string& apply_name);

  // How Collect() reads a snapshot by several workers' whole progress (status knows no
  // snapshot code: the command that links it supplies this). NotFound: the snapshot is
  // not one by several workers (a local snapshot's STATE, shipped). Unset: not read.
  using SharedSnapshotProgress = std::function<Status(SnapshotView::Shared*)>;
  void SetSharedSnapshotProgress(SharedSnapshotProgress fn) { shared_progress_ = std::move(fn); }

  // The smallest applied_seq over every apply checkpoint in the bucket (*any: there is
  // one), and the committed end, as of the last Collect/Positions. For verify's re-checks.
  Status Positions(uint64_t* committed_seq, uint64_t* min_applied, bool* any);

 private:
  BucketStatusReader() = default;
  Status Refresh();

  Env* env_ = nullptr;
  bucket::BucketLocation loc_;
  std::string temp_dir_;
  std::unique_ptr<bucket::BucketSpoolCache> cache_;
  SharedSnapshotProgress shared_progress_;
};

// Opens a reader for an s3:// --spool with the S3 client the environment describes
// (aws::S3ClientOptionsFromEnv, `region` as --region). `flag` names the flag in errors.
StatusOr<std::unique_ptr<BucketStatusReader>> OpenBucketStatusReader(const std::string& url, const std::string& flag,
                                                                     const std::string& region);

}  // namespace docshift::status
