// `capture --ship_to s3://BUCKET/PREFIX`: `docshift ship` on a thread beside capture
// (bucket/shipper.h). It waits for capture to create the spool, ships each segment as it
// is sealed, and, once capture has stopped (and sealed its last segment), commits what is
// left and ends. A shipper error (another shipper took over, a bad credential) stops
// capture through the stop flag and is reported as capture's result.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "proto/spool.pb.h"
#include "util/status.h"

namespace docshift::cli {

// --bucket_retention / --bucket_retention_interval (ship_cmd.cc, shared with capture
// --ship_to): *retention_ms 0 when off. InvalidArgument naming the flag.
Status ParseBucketRetentionFlags(int64_t* retention_ms, int64_t* interval_ms);
// The log line for a segment object retention deleted (ShipperOptions::on_delete).
void LogBucketDeletion(const pb::SegmentDeleted& del, uint64_t bytes, uint64_t log_number);

class BackgroundShipper {
 public:
  // Parses `to` (the --ship_to value) and the AWS settings; InvalidArgument naming
  // --ship_to. Starts the thread. retention_ms > 0: remote retention (bucket/shipper.h).
  static StatusOr<std::unique_ptr<BackgroundShipper>> Start(const std::string& spool_dir, const std::string& to,
                                                            int64_t retention_ms = 0,
                                                            int64_t retention_interval_ms = 60'000);
  ~BackgroundShipper();
  // Commits what is sealed, stops, and returns the shipper's result.
  Status Finish();

 private:
  BackgroundShipper() = default;
  std::atomic<bool> drain_{false};
  std::thread thread_;
  Status status_;
};

}  // namespace docshift::cli
