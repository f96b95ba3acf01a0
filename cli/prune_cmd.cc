// `docshift prune`: retention of applied segments.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <chrono>
#include <iostream>

#include "cli/command.h"
#include "spool/spool.h"
#include "util/duration.h"

DECLARE_string(spool);
DEFINE_string(retention, "24h", "Keep segments sealed less than this long ago, even if applied "
                                "(e.g. 30m, 24h, 7d). Segments no apply has passed are never "
                                "deleted.");

namespace docshift::cli {
namespace {

int RunPrune(const std::vector<std::string>& args) {
  const std::string cmd = "prune";
  if (!args.empty()) return Fail(cmd, Status::InvalidArgument("unexpected argument '" + args[0] + "'"));
  if (FLAGS_spool.empty()) return Fail(cmd, Status::InvalidArgument("--spool is required"));
  auto retention = ParseDurationMs(FLAGS_retention);
  if (!retention.ok()) return Fail(cmd, retention.status().WithContext("--retention"));
  spool::SpoolWriterOptions o;
  o.dir = FLAGS_spool;
  // Prune is a writer: it must not run beside capture (which prunes on its own schedule).
  spool::SpoolView view;
  Status s = spool::OpenSpoolView(Env::Default(), o.dir, &view);
  if (!s.ok()) return Fail(cmd, s);
  o.source_id = view.manifest.created.source_id();
  o.source_kind = view.manifest.created.source_kind();
  auto w = spool::SpoolWriter::Open(o);
  if (!w.ok()) return Fail(cmd, w.status());
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  auto r = w.value()->Prune(retention.value(), now);
  if (!r.ok()) return Fail(cmd, r.status());
  if (r->checkpoints == 0 && r->shipped_marks == 0) {
    std::cout << "no apply checkpoint in " << o.dir << ": nothing has been applied, nothing deleted\n";
  } else {
    std::cout << "deleted " << r->segments_deleted << " segments (" << r->bytes_deleted
              << " bytes); lowest applied sequence over " << r->checkpoints
              << " checkpoint(s)";
    if (r->shipped_marks > 0) std::cout << " and " << r->shipped_marks << " bucket(s) shipped to";
    if (r->running_applies > 0) {
      std::cout << " and " << r->running_applies << " running apply(s)"
                << (r->lowest_running_start == 0 ? " (one still deciding its start: nothing deleted)"
                                                 : ", starting at seq " + std::to_string(r->lowest_running_start));
    }
    std::cout << ": " << r->min_applied_seq << "\n";
  }
  return kExitOk;
}

}  // namespace

Command MakePruneCommand() {
  return Command{
      "prune",
      "delete sealed segments every apply has passed and older than --retention",
      "Usage: docshift prune --spool DIR [--retention 24h]\n\n"
      "Deletes sealed segments whose events every apply checkpoint in the spool has passed\n"
      "(and every bucket it is shipped to has committed: DIR/shipped/*.mark) and that were\n"
      "sealed longer ago than --retention. Never deletes a segment an apply\n"
      "has not passed, one a running apply reads (from the start it recorded in\n"
      "locks/apply-NAME.lock; nothing while one is still starting), the newest sealed\n"
      "segment, or anything when no apply has a checkpoint. Takes the writer lock: it\n"
      "cannot run while capture holds the spool.",
      {"spool", "retention"},
      &RunPrune};
}

}  // namespace docshift::cli
