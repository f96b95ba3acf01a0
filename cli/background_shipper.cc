#include "cli/background_shipper.h"

#include <glog/logging.h>

#include "aws/credentials.h"
#include "aws/s3_client.h"
#include "bucket/location.h"
#include "bucket/shipper.h"
#include "cli/signals.h"

namespace docshift::cli {

void LogBucketDeletion(const pb::SegmentDeleted& del, uint64_t bytes, uint64_t log_number) {
  LOG(INFO) << "ship: retention deleted " << del.file_name() << " (sequences " << del.first_seq() << ".."
            << del.last_seq() << ", " << bytes << " bytes) from the bucket, recorded as log record " << log_number;
}

StatusOr<std::unique_ptr<BackgroundShipper>> BackgroundShipper::Start(const std::string& spool_dir,
                                                                       const std::string& to, int64_t retention_ms,
                                                                       int64_t retention_interval_ms) {
  ASSIGN_OR_RETURN(auto loc, bucket::ParseBucketUrl(to, "--ship_to"));
  auto s3 = aws::S3ClientOptionsFromEnv(aws::ProcessEnv(), "");
  if (!s3.ok()) return s3.status().WithContext("--ship_to");
  std::unique_ptr<BackgroundShipper> b(new BackgroundShipper());
  bucket::ShipperOptions o;
  o.spool_dir = spool_dir;
  o.to = std::move(loc);
  o.s3 = std::move(s3).value();
  o.poll_interval_ms = 200;
  o.wait_for_spool = true;
  o.retention_ms = retention_ms;
  o.retention_interval_ms = retention_interval_ms;
  o.on_delete = LogBucketDeletion;
  o.drain = &b->drain_;
  o.on_commit = [](const pb::SegmentSealed& seg, uint64_t n) {
    LOG(INFO) << "ship: committed " << seg.file_name() << " (sequences " << seg.first_seq() << ".."
              << seg.last_seq() << ", " << seg.file_bytes() << " bytes) as log record " << n;
  };
  BackgroundShipper* self = b.get();
  b->thread_ = std::thread([self, o = std::move(o)]() {
    auto r = bucket::RunShipper(o);
    if (!r.ok()) {
      self->status_ = r.status().WithContext("--ship_to");
      LOG(ERROR) << "capture: the shipper stopped: " << self->status_.ToString() << "; stopping capture";
      RequestStop();
    }
  });
  return b;
}

BackgroundShipper::~BackgroundShipper() {
  if (thread_.joinable()) {
    drain_ = true;
    thread_.join();
  }
}

Status BackgroundShipper::Finish() {
  drain_ = true;
  if (thread_.joinable()) thread_.join();
  return status_;
}

}  // namespace docshift::cli
