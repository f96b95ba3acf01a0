// `docshift cutover`: thin wrapper over cutover/cutover.h.
#include <gflags/gflags.h>

#include <iostream>

#include "cli/command.h"
#include "cli/signals.h"
#include "bucket/location.h"
#include "cutover/cutover.h"
#include "status/bucket_reader.h"
#include "util/duration.h"

DECLARE_string(spool);
DECLARE_string(source);
DECLARE_string(target);
DECLARE_string(name);
DECLARE_string(include);
DECLARE_string(exclude);
DECLARE_string(map);
DECLARE_string(transforms);
DECLARE_int32(parallel);
DECLARE_string(report);
DECLARE_string(region);
DEFINE_string(max_lag, "5s", "cutover: wait until capture and apply lag are under this.");
DEFINE_string(quiet_period, "10s", "cutover: writes count as stopped after no change reached the "
                                   "spool for this long (while capture confirms it is caught up).");
DEFINE_string(timeout, "10m", "cutover: give up (not safe, with the reason) after this long.");
DEFINE_string(final_verify, "full", "cutover: final comparison of source and target: full "
                                    "(counts and content), counts, or none.");
DEFINE_string(reconcile, "auto", "cutover: delete target documents the source no longer has "
                                 "before the final verify: auto (for a cosmos source, whose "
                                 "change stream reports no deletes), always, never.");

namespace docshift::cli {
namespace {

int RunCutoverCmd(const std::vector<std::string>& args) {
  const std::string cmd = "cutover";
  if (!args.empty()) return Fail(cmd, Status::InvalidArgument("unexpected argument '" + args[0] + "'"));
  cutover::CutoverOptions o;
  o.spool_dir = FLAGS_spool;
  if (o.spool_dir.empty()) return Fail(cmd, Status::InvalidArgument("--spool is required"));
  if (FLAGS_final_verify != "none" || FLAGS_reconcile != "never") {
    auto src = ResolveUriFlag(FLAGS_source, "--source");
    if (!src.ok()) return Fail(cmd, src.status());
    auto dst = ResolveUriFlag(FLAGS_target, "--target");
    if (!dst.ok()) return Fail(cmd, dst.status());
    o.source_uri = src.value();
    o.target_uri = dst.value();
  }
  o.apply_name = FLAGS_name;
  std::shared_ptr<status::BucketStatusReader> bucket;  // --spool s3://...: read from the bucket alone
  if (bucket::IsBucketUrl(o.spool_dir)) {
    auto r = status::OpenBucketStatusReader(o.spool_dir, "--spool", FLAGS_region);
    if (!r.ok()) return Fail(cmd, r.status());
    bucket = std::move(r).value();
    o.collect = [bucket](int64_t now_ms, const std::string& name) { return bucket->Collect(now_ms, name); };
  }
  for (auto [text, flag, out] : {std::tuple{&FLAGS_max_lag, "--max_lag", &o.max_lag_ms},
                                 std::tuple{&FLAGS_quiet_period, "--quiet_period", &o.quiet_period_ms},
                                 std::tuple{&FLAGS_timeout, "--timeout", &o.timeout_ms}}) {
    auto ms = ParseDurationMs(*text);
    if (!ms.ok()) return Fail(cmd, ms.status().WithContext(flag));
    *out = ms.value();
  }
  o.verify_mode = FLAGS_final_verify;
  o.reconcile = FLAGS_reconcile;
  o.namespaces.include = SplitList(FLAGS_include);
  o.namespaces.exclude = SplitList(FLAGS_exclude);
  o.maps = SplitList(FLAGS_map);
  o.transforms_file = FLAGS_transforms;
  o.parallel = FLAGS_parallel;
  o.report_path = FLAGS_report;
  o.progress = [](const std::string& line) { std::cerr << line << std::endl; };
  o.stop = InstallStopSignals();
  auto r = cutover::RunCutover(o);
  if (!r.ok()) return Fail(cmd, r.status());
  for (const auto& c : r->checks) std::cout << "  ok: " << c << "\n";
  if (r->safe) {
    std::cout << "SAFE TO SWITCH: the target holds every change up to spool sequence "
              << r->last_seq << "; point the application at the target now, then stop "
              << "capture and apply." << std::endl;
    return kExitOk;
  }
  for (const auto& why : r->reasons) std::cout << "  NOT SAFE: " << why << "\n";
  std::cout << "NOT SAFE TO SWITCH: keep the application on the source." << std::endl;
  return kExitProblemFound;
}

}  // namespace

Command MakeCutoverCommand() {
  return Command{
      "cutover",
      "wait for lag, check writes stopped, drain, verify: \"safe to switch\" or why not",
      "Usage: docshift cutover --spool DIR --source URI --target URI [--max_lag 5s]\n"
      "                        [--quiet_period 10s] [--timeout 10m]\n\n"
      "Run it once the application has stopped writing to the source (or is read-only),\n"
      "with capture and apply still running. It waits until the lag is under --max_lag,\n"
      "checks that no change reached the spool for --quiet_period while capture confirms\n"
      "it is caught up, waits for apply to drain, reconciles deletes for a cosmos source,\n"
      "runs a final verify, and prints \"SAFE TO SWITCH\" (exit 0) or \"NOT SAFE\" with each\n"
      "reason (exit 1). Give --transforms the file apply uses, so the final verify compares\n"
      "the source as the rules make it. See the README's cutover runbook.\n\n"
      "--spool s3://BUCKET/PREFIX decides from a spool `docshift ship` keeps in a bucket,\n"
      "reading the bucket alone: apply runs while its checkpoint's lease lasts, the spool\n"
      "ends at the committed end, and capture is judged from the status file the shipper\n"
      "uploads. A bucket cannot show changes captured but not shipped yet, so writes count\n"
      "as stopped only once that status says capture's last event is committed too.\n\n"
      "Example:\n"
      "  docshift cutover --spool /data/spool --source env:SRC --target env:DST --include 'shop.*'",
      {"spool", "source", "target", "name", "max_lag", "quiet_period", "timeout", "final_verify",
       "reconcile", "include", "exclude", "map", "transforms", "parallel", "report", "region"},
      &RunCutoverCmd};
}

}  // namespace docshift::cli
