// `docshift status`: thin wrapper over status/status.h.
#include <gflags/gflags.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "cli/command.h"
#include "cli/signals.h"
#include "aws/credentials.h"
#include "aws/s3_client.h"
#include "bucket/location.h"
#include "snapshot/bucket_snapshot.h"
#include "status/bucket_reader.h"
#include "status/status.h"
#include "util/duration.h"

DECLARE_string(spool);
DECLARE_string(name);
DECLARE_string(region);
DEFINE_bool(json, false, "status: print one JSON object (one line) instead of the table.");
DEFINE_string(watch, "", "status: print again every SECONDS (bare --watch: every 2 s) until "
                         "Ctrl-C; with --json, one object per line. Give the value with '=': "
                         "--watch=5.");

namespace docshift::cli {
namespace {

int RunStatusCmd(const std::vector<std::string>& args) {
  const std::string cmd = "status";
  if (!args.empty()) {
    return Fail(cmd, Status::InvalidArgument("unexpected argument '" + args[0] +
                                             "' (a watch interval is written --watch=SECONDS)"));
  }
  if (FLAGS_spool.empty()) {
    return Fail(cmd, Status::InvalidArgument("--spool is required: the spool directory to report on"));
  }
  int64_t watch_ms = 0;
  if (!FLAGS_watch.empty()) {
    auto w = ParseDurationMs(FLAGS_watch);
    if (!w.ok()) return Fail(cmd, w.status().WithContext("--watch"));
    watch_ms = w.value();
  }
  // A bucket spool (s3://BUCKET/PREFIX): read from the bucket alone (status/bucket_reader.h).
  std::unique_ptr<status::BucketStatusReader> bucket;
  if (bucket::IsBucketUrl(FLAGS_spool)) {
    auto r = status::OpenBucketStatusReader(FLAGS_spool, "--spool", FLAGS_region);
    if (!r.ok()) return Fail(cmd, r.status());
    bucket = std::move(r).value();
    // A snapshot by several workers: its whole progress from the claims and done objects.
    auto loc = bucket::ParseBucketUrl(FLAGS_spool, "--spool");
    auto s3o = aws::S3ClientOptionsFromEnv(aws::ProcessEnv(), FLAGS_region);
    if (loc.ok() && s3o.ok()) {
      auto client = aws::S3Client::New(s3o.value());
      if (client.ok()) {
        auto store = std::make_shared<snapshot::BucketSnapshotStore>(std::move(client).value(), loc.value(),
                                                                     snapshot::WorkerIdentity{});
        bucket->SetSharedSnapshotProgress([store](status::SnapshotView::Shared* out) -> Status {
          auto p = snapshot::ReadBucketSnapshotProgress(store.get(), snapshot::kDefaultClaimLeaseMs);
          if (!p.ok()) return p.status();
          out->present = true;
          out->ranges_done = p->ranges_done;
          out->ranges_total = p->ranges_total;
          out->ranges_copying = p->ranges_claimed;
          out->ranges_stale = p->ranges_stale;
          out->workers = p->workers;
          out->docs_done = p->docs_done;
          out->docs_estimated = p->docs_estimated;
          out->eta_s = p->eta_s;
          out->line = p->ToString();
          out->collection_ranges_done = p->collection_ranges_done;
          out->collection_docs_done = p->collection_docs_done;
          return Status::OK();
        });
      }
    }
  }
  const std::atomic<bool>* stop = watch_ms > 0 ? InstallStopSignals() : nullptr;
  const bool clear = watch_ms > 0 && !FLAGS_json && isatty(STDOUT_FILENO);
  for (;;) {
    auto s = bucket ? bucket->Collect(NowMs(), FLAGS_name)
                    : status::CollectStatus(Env::Default(), FLAGS_spool, NowMs(), FLAGS_name);
    if (!s.ok()) return Fail(cmd, s.status());
    if (clear) std::cout << "\033[H\033[2J";
    std::cout << (FLAGS_json ? status::RenderJson(s.value()) + "\n" : status::RenderText(s.value()));
    std::cout.flush();
    if (watch_ms == 0) return kExitOk;
    for (int64_t waited = 0; waited < watch_ms && !stop->load(); waited += 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (stop->load()) return kExitOk;
  }
}

}  // namespace

Command MakeStatusCommand() {
  return Command{
      "status",
      "migration state, lag, backlog and throughput (reads the spool; no database needed)",
      "Usage: docshift status --spool DIR|s3://BUCKET/PREFIX [--json] [--watch[=SECONDS]] [--name NAME]\n\n"
      "Reports where the migration stands, from the spool alone: the manifest and segments,\n"
      "the apply checkpoint and dead letters, snapshot/STATE, and the status files capture\n"
      "and apply rewrite every second (status/*.status). Takes no lock: safe beside a\n"
      "running capture and apply, and works when they have stopped (their figures are then\n"
      "stale and they show as stopped).\n\n"
      "--spool s3://BUCKET/PREFIX reads a spool `docshift ship` keeps in a bucket, from the\n"
      "bucket alone: the commit log's end (lag and backlog are against what is committed),\n"
      "the shipper, every apply checkpoint (an apply is running while its checkpoint's 30 s\n"
      "lease lasts), snapshot/STATE and capture's status as the shipper uploads it (with\n"
      "the events captured but not committed yet). Credentials and endpoint as for apply\n"
      "(AWS_* variables, --region).\n\n"
      "state: snapshotting | catching up | in sync | capture stopped | apply stopped\n"
      "  capture lag: 0 when capture's last read found nothing newer on the source, else\n"
      "               now - source time of the newest captured event\n"
      "  apply lag (gap_in_seconds): 0 when the checkpoint has reached the spool's last\n"
      "               durable sequence, else now - capture time of the oldest unapplied event\n"
      "  in sync: both processes alive and both lags within 5 s\n\n"
      "Examples:\n"
      "  docshift status --spool /data/spool\n"
      "  docshift status --spool S --json | jq .gap_in_seconds\n"
      "  docshift status --spool S --watch=5 --name apply",
      {"spool", "json", "watch", "name", "region"},
      &RunStatusCmd,
      {{"watch", "2"}}};
}

}  // namespace docshift::cli
