// `docshift apply`: thin wrapper over apply/applier.h.
#include <gflags/gflags.h>

#include <iostream>

#include "apply/applier.h"
#include "cli/command.h"
#include "cli/flag_ranges.h"
#include "cli/signals.h"
#include "spool/inspect.h"
#include "util/duration.h"

DECLARE_string(spool);
DEFINE_string(target, "", "Target connection string (mongodb://...), or env:VAR to read it "
                          "from environment variable VAR.");
DEFINE_int32(lanes, 4, "Parallel write lanes; events are hashed by (namespace, document key).");
DEFINE_int32(batch_max_ops, 1000, "Largest bulk write per lane (adapts downward to latency).");
DEFINE_int32(max_update_statements, -1, "Most update/replace statements in one update command; "
             "0 = no limit; -1 (default) = no limit, except 32/lanes on a FerretDB target, whose "
             "v1.24 update handler deadlocks when one command's statements outnumber its "
             "connection pool");
DEFINE_string(from, "", "Replay from this point instead of the checkpoint: a sequence number, "
                        "or a source time (RFC 3339 UTC).");
DEFINE_string(until, "", "Stop before the first event past this point: a sequence number, or a "
                         "source time (RFC 3339 UTC).");
DEFINE_bool(stop_when_drained, false, "Exit once everything in the spool is applied, instead of "
                                      "following capture.");
DEFINE_bool(dry_run, false, "Write nothing: apply prints the writes as JSON lines (and writes no "
                            "checkpoint); reconcile lists what it would delete.");
DEFINE_string(map, "", "Comma-separated namespace mappings: src_db.coll=dst_db.coll or "
                       "src_db=dst_db.");
DEFINE_string(on_error, "deadletter", "What a permanent per-document error does: deadletter "
                                      "(record it in the spool and continue) or stop.");
DEFINE_string(checkpoint_interval, "1s", "How often the checkpoint is written.");
DECLARE_string(progress_interval);
DECLARE_string(name);
DECLARE_int32(metrics_port);

namespace docshift::cli {
namespace {

// "123" → seq; otherwise a time. (ParseCommandFlags has checked the range.)
Status ParsePoint(const std::string& text, const char* flag, uint64_t* seq, int64_t* time_ms) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    auto v = ParseUint64(text);
    if (!v.ok()) return v.status().WithContext(flag);
    *seq = v.value();
    return Status::OK();
  }
  auto t = spool::ParseTimeMs(text);
  if (!t.ok()) return t.status().WithContext(flag);
  *time_ms = t.value();
  return Status::OK();
}

int RunApplyCmd(const std::vector<std::string>& args) {
  const std::string cmd = "apply";
  if (!args.empty()) return Fail(cmd, Status::InvalidArgument("unexpected argument '" + args[0] + "'"));
  apply::ApplyOptions o;
  o.spool_dir = FLAGS_spool;
  if (o.spool_dir.empty()) return Fail(cmd, Status::InvalidArgument("--spool is required"));
  if (!FLAGS_dry_run) {
    auto uri = ResolveUriFlag(FLAGS_target, "--target");
    if (!uri.ok()) return Fail(cmd, uri.status());
    o.target_uri = uri.value();
  }
  o.name = FLAGS_name;
  o.lanes = FLAGS_lanes;
  o.batch_max_ops = FLAGS_batch_max_ops;
  o.max_update_statements = FLAGS_max_update_statements;
  if (!FLAGS_from.empty()) {
    Status s = ParsePoint(FLAGS_from, "--from", &o.from_seq, &o.from_time_ms);
    if (!s.ok()) return Fail(cmd, s);
    if (o.from_time_ms != 0) o.from_seq = 1;  // scan from the start, skip earlier events
  }
  if (!FLAGS_until.empty()) {
    uint64_t seq = 0;
    int64_t t = 0;
    Status s = ParsePoint(FLAGS_until, "--until", &seq, &t);
    if (!s.ok()) return Fail(cmd, s);
    if (seq) o.until_seq = seq;
    if (t) o.until_time_ms = t;
    const bool from_is_seq = !FLAGS_from.empty() && o.from_time_ms == 0;
    const bool from_is_time = o.from_time_ms != 0;
    Status order;
    if (from_is_seq && seq) {
      order = CheckFlagOrder("--from", FLAGS_from, static_cast<int64_t>(o.from_seq), "--until",
                             FLAGS_until, static_cast<int64_t>(seq));
    } else if (from_is_time && t) {
      order = CheckFlagOrder("--from", FLAGS_from, o.from_time_ms, "--until", FLAGS_until, t);
    }
    if (!order.ok()) return Fail(cmd, order);
  }
  o.stop_when_drained = FLAGS_stop_when_drained;
  o.dry_run = FLAGS_dry_run;
  o.maps = SplitList(FLAGS_map);
  if (FLAGS_on_error != "deadletter" && FLAGS_on_error != "stop") {
    return Fail(cmd, Status::InvalidArgument("--on_error '" + FLAGS_on_error + "' is not deadletter or stop"));
  }
  o.stop_on_error = FLAGS_on_error == "stop";
  auto ci = ParseDurationMs(FLAGS_checkpoint_interval);
  if (!ci.ok()) return Fail(cmd, ci.status().WithContext("--checkpoint_interval"));
  o.checkpoint_interval_ms = ci.value();
  auto pi = ParseDurationMs(FLAGS_progress_interval);
  if (!pi.ok()) return Fail(cmd, pi.status().WithContext("--progress_interval"));
  o.progress_interval_ms = pi.value();
  o.metrics_port = FLAGS_metrics_port;
  o.stop = InstallStopSignals();
  auto r = apply::RunApply(o);
  std::cout.flush();
  if (!r.ok()) return Fail(cmd, r.status());
  std::cerr << "docshift apply: applied " << r->events_applied << " events, checkpoint at seq "
            << r->checkpoint_seq << ", " << r->dead_letters << " dead letters" << std::endl;
  return kExitOk;
}

}  // namespace

Command MakeApplyCommand() {
  return Command{
      "apply",
      "replay the spool onto the target, idempotently, with a durable checkpoint",
      "Usage: docshift apply --spool DIR --target URI [--lanes 4] [--stop_when_drained]\n\n"
      "Reads the spool in sequence order (sealed segments and the open segment's tail) and\n"
      "writes each change to the target: inserts and replaces as upserting replaces,\n"
      "updates as the full document (or $set/$unset), deletes by key, DDL as a barrier.\n"
      "Events are spread over --lanes by (namespace, document key), so each document's\n"
      "changes stay in order; collections with a secondary unique index use one lane.\n"
      "The checkpoint (every event up to it is applied) is written atomically; a restart\n"
      "resumes there, and re-applying events leaves the target unchanged. Every second it\n"
      "writes status/apply-NAME.status for `docshift status`; --metrics_port also serves\n"
      "Prometheus metrics on 127.0.0.1.\n\n"
      "Examples:\n"
      "  docshift apply --spool /data/spool --target mongodb://dst:27017/\n"
      "  docshift apply --spool S --target env:DST --from 2026-11-22T01:00:00Z --until 50000\n"
      "  docshift apply --spool S --dry_run --until 100",
      {"spool", "target", "name", "lanes", "batch_max_ops", "max_update_statements", "from", "until", "stop_when_drained",
       "dry_run", "map", "on_error", "checkpoint_interval", "progress_interval", "metrics_port"},
      &RunApplyCmd};
}

}  // namespace docshift::cli
