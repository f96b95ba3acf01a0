// `docshift cutover`: decides whether the application can be switched to the target now,
// and says exactly why not when it cannot (seed 000's cutover steps, automated).
//
// Steps, each bounded by the overall timeout:
//   1. preconditions: no snapshot running; capture and apply both alive (their status
//      files' heartbeats are fresh);
//   2. lag: capture and apply lag fall under max_lag;
//   3. writes stopped: no new event reaches the spool for quiet_period while capture
//      keeps confirming it has read everything from the source (caught up, heartbeat
//      after the window started). Any new event restarts the window;
//   4. drain: apply's checkpoint reaches the spool's last event; no dead letters;
//   5. for a Cosmos DB source (whose change stream reports no deletes), a reconciliation
//      pass deletes target documents the source no longer has;
//   6. final verify (counts and content, with re-check), then a last look that no event
//      arrived meanwhile.
// "SAFE TO SWITCH" only when every step passed; otherwise the reasons, one per line.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mongo/namespaces.h"
#include "status/status.h"
#include "util/status.h"

namespace docshift::cutover {

struct CutoverOptions {
  std::string spool_dir;
  // A spool in a bucket (--spool s3://...): the status is read through this instead of
  // from spool_dir (status::BucketStatusReader::Collect); the final verify then waits on
  // nothing (apply has drained by then). Empty for a local spool.
  std::function<StatusOr<status::MigrationStatus>(int64_t now_ms, const std::string& apply_name)> collect;
  // A MongoDB connection string or dynamodb://REGION/TABLE[,...]: the final verify and
  // reconcile read it through verify/source.h. A DynamoDB stream reports deletes, so
  // reconcile=auto does not run for it. Its numbers are converted with the mode capture
  // recorded in the spool (SpoolCreated.dynamodb_numbers): cutover takes no
  // --dynamodb_numbers, so its final verify cannot disagree with what was migrated.
  std::string source_uri;
  std::string target_uri;
  std::string apply_name = "apply";
  int64_t max_lag_ms = 5'000;
  int64_t quiet_period_ms = 10'000;
  int64_t timeout_ms = 600'000;
  // Final verify.
  std::string verify_mode = "full";  // full | counts | none
  mongo::NamespaceFilter namespaces;
  std::vector<std::string> maps;
  std::string transforms_file;  // verify::VerifyOptions::transforms_file
  int parallel = 4;
  std::string report_path;
  // auto: only for a cosmos source; always; never.
  std::string reconcile = "auto";
  int64_t poll_interval_ms = 500;
  const std::atomic<bool>* stop = nullptr;
  std::function<void(const std::string&)> progress;  // one line, no newline
};

struct CutoverResult {
  bool safe = false;
  std::vector<std::string> reasons;  // why not, one line each
  std::vector<std::string> checks;   // what passed, one line each
  uint64_t last_seq = 0;             // spool's last event when declared safe
  uint64_t reconciled_deletes = 0;
  int64_t elapsed_ms = 0;
};

// Runtime errors (spool unreadable, server unreachable) are a Status; "not safe" is not
// an error: see CutoverResult.
StatusOr<CutoverResult> RunCutover(const CutoverOptions& opts);

}  // namespace docshift::cutover
