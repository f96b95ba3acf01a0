// `capture --ship_to s3://BUCKET/PREFIX`: `docshift ship` on a thread beside capture
// (bucket/shipper.h). It waits for capture to create the spool, ships each segment as it
// is sealed, and, once capture has stopped (and sealed its last segment), commits what is
// left and ends. A shipper error (another shipper took over, a bad credential) stops
// capture through the stop flag and is reported as capture's result.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "util/status.h"

namespace docshift::cli {

class BackgroundShipper {
 public:
  // Parses `to` (the --ship_to value) and the AWS settings; InvalidArgument naming
  // --ship_to. Starts the thread.
  static StatusOr<std::unique_ptr<BackgroundShipper>> Start(const std::string& spool_dir, const std::string& to);
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
