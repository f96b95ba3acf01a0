// `docshift apply`: thin wrapper over apply/applier.h.
#include <gflags/gflags.h>

#include <algorithm>
#include <chrono>
#include <iostream>

#include "apply/applier.h"
#include "apply/bucket_apply.h"
#include "apply/slot_routing.h"
#include "aws/credentials.h"
#include "bucket/location.h"
#include "cli/command.h"
#include "cli/signals.h"
#include "util/cpu_time.h"
#include "util/duration.h"

DECLARE_string(spool);
DEFINE_string(target, "", "Target connection string (mongodb://...), or env:VAR to read it "
                          "from environment variable VAR, or file:PATH to read it from a file "
                          "only its owner can read (chmod 600).");
DEFINE_int32(lanes, 4, "Parallel write lanes; events are hashed by (namespace, document key).");
DEFINE_int32(batch_max_ops, 1000, "Largest bulk write per lane (adapts downward to latency).");
DEFINE_int32(max_update_statements, -1, "Most update/replace statements in one update command; "
             "0 = no limit; -1 (default) = no limit, except 32/lanes on a FerretDB target, whose "
             "v1.24 update handler deadlocks when one command's statements outnumber its "
             "connection pool");
DEFINE_string(from, "", "Replay from this point instead of the checkpoint: a sequence number the "
                        "spool holds, or a source time (RFC 3339 UTC) no later than its newest "
                        "event. A replay leaves the checkpoint of --name alone.");
DEFINE_string(until, "", "Stop before the first event past this point: a sequence number, or a "
                         "source time (RFC 3339 UTC); it must leave at least one event to apply.");
DECLARE_bool(stop_when_drained);
DEFINE_bool(dry_run, false, "Write nothing: apply prints the writes as JSON lines (and writes no "
                            "checkpoint); reconcile lists what it would delete.");
DEFINE_string(map, "", "Comma-separated namespace mappings: src_db.coll=dst_db.coll or "
                       "src_db=dst_db.");
DEFINE_string(on_error, "deadletter", "What a permanent per-document error does: deadletter "
                                      "(record it in the spool and continue) or stop.");
DEFINE_string(transactions, "per_event", "How a source transaction's writes are applied: per_event "
                                         "(each on its own, spread over the lanes) or atomic (each "
                                         "source transaction as one target transaction; the target "
                                         "must support transactions: a replica set or sharded cluster).");
DEFINE_string(slot, "", "I/N: this worker is apply slot I of N (0 <= I < N <= 64); it reads the whole "
                       "spool and writes only the documents whose fnv1a64-ns-id/1 hash is I mod N, "
                       "under the name NAME.slot-I-of-N; DDL waits for every slot. Empty: one apply "
                       "writes everything.");
DEFINE_int64(max_ops_per_s, 0, "Load control: events written to the target per second by this "
                               "process, all lanes together (one token bucket); 0 = no limit. "
                               "The achieved rate is in `docshift status` and the metrics.");
DEFINE_string(checkpoint_interval, "1s", "How often the checkpoint is written.");
DEFINE_string(cache_dir, "", "apply/inspect --spool s3://...: local directory for the copy of the bucket "
                             "spool (apply's default: $XDG_CACHE_HOME or ~/.cache, then "
                             "/docshift/s3/BUCKET/PREFIX/@NAME; inspect's: a temporary one).");
DEFINE_uint64(cache_max_bytes, 1ull << 30, "--spool s3://...: most bytes of segments downloaded ahead into "
                                           "--cache_dir (the next segment apply needs is always fetched).");
DEFINE_string(bucket_poll_interval, "1s", "--spool s3://...: how often the bucket's commit log is read for new "
                                          "segments (a term of the lag).");
DECLARE_string(progress_interval);
DECLARE_string(region);
DECLARE_string(name);
DECLARE_int32(metrics_port);
DECLARE_string(http_listen);
DECLARE_string(transforms);

namespace docshift::cli {
namespace {

int RunApplyCmd(const std::vector<std::string>& args) {
  const std::string cmd = "apply";
  const auto started = std::chrono::steady_clock::now();
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
  auto from = apply::ParsePoint(FLAGS_from, "--from");
  if (!from.ok()) return Fail(cmd, from.status());
  o.from = from.value();
  auto until = apply::ParsePoint(FLAGS_until, "--until");
  if (!until.ok()) return Fail(cmd, until.status());
  o.until = until.value();
  o.stop_when_drained = FLAGS_stop_when_drained;
  o.dry_run = FLAGS_dry_run;
  o.maps = SplitList(FLAGS_map);
  o.transforms_file = FLAGS_transforms;
  if (FLAGS_on_error != "deadletter" && FLAGS_on_error != "stop") {
    return Fail(cmd, Status::InvalidArgument("--on_error '" + FLAGS_on_error + "' is not deadletter or stop"));
  }
  o.stop_on_error = FLAGS_on_error == "stop";
  if (FLAGS_transactions != "per_event" && FLAGS_transactions != "atomic") {
    return Fail(cmd, Status::InvalidArgument("--transactions '" + FLAGS_transactions +
                                             "' is not per_event or atomic"));
  }
  o.atomic_transactions = FLAGS_transactions == "atomic";
  if (!FLAGS_slot.empty()) {
    auto slot = apply::ParseSlot(FLAGS_slot);
    if (!slot.ok()) return Fail(cmd, slot.status());
    o.slot_index = slot->index;
    o.slot_count = slot->count;
  }
  auto ci = ParseDurationMs(FLAGS_checkpoint_interval);
  if (!ci.ok()) return Fail(cmd, ci.status().WithContext("--checkpoint_interval"));
  o.checkpoint_interval_ms = ci.value();
  auto pi = ParseDurationMs(FLAGS_progress_interval);
  if (!pi.ok()) return Fail(cmd, pi.status().WithContext("--progress_interval"));
  o.progress_interval_ms = pi.value();
  if (Status hs = ResolveHttpListen(&o.http_host, &o.metrics_port); !hs.ok()) return Fail(cmd, hs);
  o.max_ops_per_s = static_cast<double>(FLAGS_max_ops_per_s);
  o.stop = InstallStopSignals();
  StatusOr<apply::ApplyResult> r = Status::OK();
  if (bucket::IsBucketUrl(o.spool_dir)) {
    apply::BucketApplyOptions bo;
    auto loc = bucket::ParseBucketUrl(o.spool_dir, "--spool");
    if (!loc.ok()) return Fail(cmd, loc.status());
    bo.loc = loc.value();
    // Credentials by the AWS conventions; never printed (aws/credentials.h).
    auto s3 = aws::S3ClientOptionsFromEnv(aws::ProcessEnv(), FLAGS_region);
    if (!s3.ok()) return Fail(cmd, s3.status().WithContext("--spool " + bo.loc.ToString()));
    s3->stop = o.stop;
    bo.s3 = std::move(s3).value();
    bo.cache_dir = FLAGS_cache_dir;
    bo.cache_max_bytes = FLAGS_cache_max_bytes;
    auto bpi = ParseDurationMs(FLAGS_bucket_poll_interval);
    if (!bpi.ok()) return Fail(cmd, bpi.status().WithContext("--bucket_poll_interval"));
    bo.poll_interval_ms = std::max<int64_t>(bpi.value(), 1);
    bo.apply = o;
    r = apply::RunBucketApply(std::move(bo));
  } else {
    r = apply::RunApply(o);
  }
  std::cout.flush();
  if (!r.ok()) return Fail(cmd, r.status());
  std::cerr << "docshift apply: applied " << r->events_applied << " events";
  if (r->replay) {
    if (r->events_applied > 0) std::cerr << " (seq " << r->first_seq << ".." << r->last_seq << ")";
    std::cerr << ", a replay: checkpoint '" << FLAGS_name << "' left alone";
  } else {
    std::cerr << ", checkpoint at seq " << r->checkpoint_seq;
  }
  std::cerr << ", " << r->dead_letters << " dead letters";
  if (o.slot_count > 0) {
    std::cerr << ", slot " << o.slot_index << "/" << o.slot_count << ": " << r->slot_events_mine
              << " events of its share, " << r->slot_events_others << " of other slots passed, "
              << r->slot_ddl_run << " DDL run, " << r->slot_ddl_passed << " DDL passed";
  }
  if (o.atomic_transactions) std::cerr << ", " << r->transactions << " transactions";
  if (r->throttled > 0) std::cerr << ", " << r->throttled << " writes throttled by the target (retried)";
  // The process's own CPU (every thread) per event applied: what the client costs,
  // without the time blocked on the target (issue #15; bench/cpu.sh reads it).
  std::cerr << "; " << CpuSummary(ProcessCpuTimes(),
                                   std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
                                   r->events_applied);
  std::cerr << std::endl;
  return kExitOk;
}

}  // namespace

Command MakeApplyCommand() {
  return Command{
      "apply",
      "replay the spool onto the target, idempotently, with a durable checkpoint",
      "Usage: docshift apply --spool DIR|s3://BUCKET/PREFIX --target URI [--lanes 4] [--stop_when_drained]\n\n"
      "Reads the spool in sequence order (sealed segments and the open segment's tail) and\n"
      "writes each change to the target: inserts and replaces as upserting replaces,\n"
      "updates as the full document (or $set/$unset), deletes by key, DDL as a barrier.\n"
      "Events are spread over --lanes by (namespace, document key), so each document's\n"
      "changes stay in order; collections with a secondary unique index use one lane.\n"
      "The checkpoint (every event up to it is applied) is written atomically; a restart\n"
      "resumes there, and re-applying events leaves the target unchanged. Every second it\n"
      "writes status/apply-NAME.status for `docshift status`; --http_listen HOST:PORT (or\n"
      "--metrics_port PORT, on 127.0.0.1) serves Prometheus /metrics and /progress (JSON).\n"
      "Under systemd (Type=notify) it reports READY=1 once it reads the spool, progress as\n"
      "STATUS=, WATCHDOG=1 keep-alives when WatchdogSec is set, and STOPPING=1 on SIGTERM.\n"
      "SIGHUP flushes the logs and, with --log_dir, continues in new log files.\n\n"
      "One apply per --name runs at a time (locks/apply-NAME.lock; a second one is refused\n"
      "with the first one's pid), and prune keeps what a running apply reads.\n"
      "--from replays from a sequence the spool holds, or from a source time no later than\n"
      "its newest event, and leaves the checkpoint of --name alone: a replay never moves it.\n"
      "--until stops after the last event at or before it; without --from the checkpoint\n"
      "then stops there. Ranges selecting no event are refused (exit 2), naming the spool's\n"
      "range. Dead letters are recorded once per sequence number, however often replayed.\n"
      "--transactions=atomic applies each source transaction (lsid + txnNumber) as one\n"
      "target transaction after everything before it; a transaction the target refuses is\n"
      "dead-lettered whole. It needs a target with transactions (refused at start otherwise).\n"
      "--transforms FILE reshapes each event's document by the rule for its source namespace\n"
      "as it is read (the spool is unchanged, so a changed rule applies to a replay); an event\n"
      "a rule cannot transform is dead-lettered with the reason.\n"
      "--slot I/N runs slot I of N workers (other machines, same spool): each reads the whole\n"
      "spool and writes its share (by target namespace and _id; a namespace with a secondary\n"
      "unique index by namespace alone) under NAME.slot-I-of-N; a DDL waits until every slot\n"
      "reached it and runs once, on the slot of its namespace. Not with --from or\n"
      "--transactions=atomic.\n\n"
      "--spool s3://BUCKET/PREFIX applies a spool `docshift ship` keeps in a bucket, reading\n"
      "the bucket only: committed segments are downloaded (checked) into --cache_dir, at most\n"
      "--cache_max_bytes ahead, new commits followed every --bucket_poll_interval; the\n"
      "checkpoint is PREFIX/checkpoints/NAME.ckpt, written conditionally: a second apply of\n"
      "the name is refused while the first runs (a 30 s lease), and one that finds its\n"
      "checkpoint taken over stops. Endpoint, region and credentials by the AWS conventions\n"
      "(AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL: path-style; --region). --from SEQ replays\n"
      "from any sequence still in the bucket (below the oldest one: refused, naming it; a\n"
      "source time is not supported there), into a temporary cache unless --cache_dir is\n"
      "given, holding the checkpoint's lease but leaving its position alone.\n\n"
      "Examples:\n"
      "  docshift apply --spool /data/spool --target mongodb://dst:27017/\n"
      "  docshift apply --spool S --target env:DST --from 2026-11-22T01:00:00Z --until 50000\n"
      "  docshift apply --spool S --dry_run --until 100\n"
      "  docshift apply --spool s3://bucket/spools/eu --target env:DST --cache_dir /var/cache/ds",
      {"spool", "target", "name", "lanes", "batch_max_ops", "max_update_statements", "from", "until", "stop_when_drained",
       "dry_run", "map", "transforms", "on_error", "transactions", "slot", "max_ops_per_s", "checkpoint_interval",
       "progress_interval", "metrics_port", "http_listen", "cache_dir", "cache_max_bytes", "bucket_poll_interval", "region"},
      &RunApplyCmd};
}

}  // namespace docshift::cli
