// `docshift capture`: thin wrapper over capture/capture.h.
#include <gflags/gflags.h>

#include "aws/dynamodb_uri.h"
#include "capture/capture.h"
#include "cli/background_shipper.h"
#include "cli/command.h"
#include "cli/flag_ranges.h"
#include "cli/signals.h"
#include "util/duration.h"

DECLARE_string(spool);
DECLARE_int32(metrics_port);
DECLARE_string(http_listen);
DEFINE_string(source, "", "Source connection string (mongodb://...), or env:VAR to read it from "
                          "environment variable VAR, or file:PATH from a file only its owner can read "
                          "(chmod 600); both keep credentials out of `ps`; or "
                          "dynamodb://REGION/TABLE[,TABLE...] for DynamoDB Streams (credentials, region "
                          "and endpoints from the AWS environment variables and profiles).");
DEFINE_string(source_kind, "mongo", "mongo (change streams), cosmos (Azure Cosmos DB for MongoDB "
                                    "change streams: no deletes), oplog (tail local.oplog.rs), or "
                                    "dynamodb (the default for a dynamodb:// --source).");
DEFINE_string(ttl_deletes, "apply", "DynamoDB: apply or skip the deletes DynamoDB's TTL makes.");
DEFINE_string(dynamodb_numbers, "decimal", "DynamoDB: a number no exact BSON type holds (more than 34 "
                                           "significant digits): decimal = the item is dead-lettered naming "
                                           "the attribute; string = stored as its decimal text; double = "
                                           "the nearest double (lossy). Other numbers keep int32/int64/"
                                           "Decimal128. capture records it in the spool (a restart with "
                                           "another is refused); give snapshot and verify the same.");
DEFINE_string(scope, "deployment", "Change streams on the whole deployment, per database, or per "
                                   "collection. Falls back to per collection where the server "
                                   "refuses a deployment-wide stream.");
DEFINE_string(show_expanded_events, "auto", "auto|on|off: ask change streams for the expanded DDL "
                                            "events (index builds and drops, collection options, "
                                            "modify) that MongoDB 6.0+ sends with showExpandedEvents. "
                                            "auto: where the server's wire version is 17 or more; on: "
                                            "always (capture stops if the server refuses); off: never.");
DEFINE_string(change_stream_cursor, "auto", "Testing: 'raw' opens docshift's own change stream cursor "
                                            "even where showExpandedEvents is not sent; auto: only "
                                            "where it is.");
DEFINE_string(include, "", "Only namespaces matching these comma-separated globs ('shop.*').");
DEFINE_string(exclude, "", "Skip namespaces matching these comma-separated globs. admin, local, "
                           "config and system.* are always skipped.");
DEFINE_string(start_at, "", "For a new spool: start at this cluster time, 'SECONDS' or "
                            "'SECONDS.INCREMENT' (default: now). Ignored when resuming.");
DEFINE_int32(batch_max_events, 1000, "Close a batch at this many events.");
DEFINE_uint64(batch_max_bytes, 4ull << 20, "Close a batch at this many bytes of events.");
DEFINE_string(batch_max_time, "50ms", "Close a non-empty batch after this long (group commit window), "
                                      "or sooner once the source has been quiet for 20 ms.");
DEFINE_uint64(segment_max_bytes, 64ull << 20, "Seal a segment at this size.");
DEFINE_string(segment_max_age, "60s", "Seal a non-empty segment after this long.");
DEFINE_int32(zstd_level, 1, "zstd compression level of batches.");
DEFINE_string(progress_interval, "10s", "How often to log events/s, position and lag.");
DEFINE_string(oplog_max_await, "8s", "oplog: longest a getMore waits for new entries. It must "
                                     "exceed the time the server takes to scan its oplog (FerretDB "
                                     "rescans it on every getMore); it also bounds how long a stop "
                                     "request waits.");
DEFINE_string(capture_retention, "", "If set (e.g. 24h): every minute, delete sealed segments "
                                     "every apply has passed that were sealed this long ago.");

DEFINE_string(ship_to, "", "capture: also ship each sealed segment to this bucket spool, s3://BUCKET/PREFIX "
                          "(as `docshift ship --to`; AWS endpoint and credentials from the environment).");

DECLARE_string(bucket_retention);
DECLARE_string(bucket_retention_interval);

namespace docshift::cli {
namespace {

int RunCaptureCmd(const std::vector<std::string>& args) {
  const std::string cmd = "capture";
  if (!args.empty()) return Fail(cmd, Status::InvalidArgument("unexpected argument '" + args[0] + "'"));
  capture::CaptureOptions o;
  auto uri = ResolveUriFlag(FLAGS_source, "--source");
  if (!uri.ok()) return Fail(cmd, uri.status());
  o.source_uri = uri.value();
  o.spool_dir = FLAGS_spool;
  o.source_kind = FLAGS_source_kind;
  if (aws::IsDynamoUri(o.source_uri) && gflags::GetCommandLineFlagInfoOrDie("source_kind").is_default) {
    o.source_kind = "dynamodb";
  }
  o.ttl_deletes = FLAGS_ttl_deletes;
  o.dynamodb_numbers = FLAGS_dynamodb_numbers;
  o.scope = FLAGS_scope;
  o.show_expanded_events = FLAGS_show_expanded_events;
  o.change_stream_cursor = FLAGS_change_stream_cursor;
  o.namespaces.include = SplitList(FLAGS_include);
  o.namespaces.exclude = SplitList(FLAGS_exclude);
  if (!FLAGS_start_at.empty()) {
    auto t = ParseClusterTime(FLAGS_start_at, NowMs(), "--start_at");
    if (!t.ok()) return Fail(cmd, t.status());
    o.start_at = t.value();
  }
  o.batch_max_events = FLAGS_batch_max_events;
  o.batch_max_bytes = FLAGS_batch_max_bytes;
  o.segment_max_bytes = FLAGS_segment_max_bytes;
  o.zstd_level = FLAGS_zstd_level;
  struct {
    const std::string& text;
    const char* flag;
    int64_t* out;
  } durations[] = {{FLAGS_batch_max_time, "--batch_max_time", &o.batch_max_ms},
                   {FLAGS_segment_max_age, "--segment_max_age", &o.segment_max_age_ms},
                   {FLAGS_progress_interval, "--progress_interval", &o.progress_interval_ms},
                   {FLAGS_oplog_max_await, "--oplog_max_await", &o.oplog_max_await_ms}};
  for (auto& d : durations) {
    auto v = ParseDurationMs(d.text);
    if (!v.ok()) return Fail(cmd, v.status().WithContext(d.flag));
    *d.out = v.value();
  }
  if (!FLAGS_capture_retention.empty()) {
    auto v = ParseDurationMs(FLAGS_capture_retention);
    if (!v.ok()) return Fail(cmd, v.status().WithContext("--capture_retention"));
    o.retention_ms = v.value();
  }
  if (Status hs = ResolveHttpListen(&o.http_host, &o.metrics_port); !hs.ok()) return Fail(cmd, hs);
  o.stop = InstallStopSignals();
  std::unique_ptr<BackgroundShipper> shipper;
  int64_t bucket_retention_ms = 0, bucket_retention_interval_ms = 0;
  if (Status rs = ParseBucketRetentionFlags(&bucket_retention_ms, &bucket_retention_interval_ms); !rs.ok()) {
    return Fail(cmd, rs);
  }
  if (bucket_retention_ms > 0 && FLAGS_ship_to.empty()) {
    return Fail(cmd, Status::InvalidArgument("--bucket_retention needs --ship_to (it deletes from the bucket "
                                             "capture ships to); for the local spool use --capture_retention"));
  }
  if (!FLAGS_ship_to.empty()) {
    auto b = BackgroundShipper::Start(o.spool_dir, FLAGS_ship_to, bucket_retention_ms, bucket_retention_interval_ms);
    if (!b.ok()) return Fail(cmd, b.status());
    shipper = std::move(b).value();
  }
  Status s = capture::RunCapture(o);
  // After capture has sealed its last segment: the shipper commits it and ends.
  Status ss = shipper ? shipper->Finish() : Status::OK();
  if (!ss.ok()) return Fail(cmd, ss);
  if (!s.ok()) return Fail(cmd, s);
  return kExitOk;
}

}  // namespace

Command MakeCaptureCommand() {
  return Command{
      "capture",
      "read the source's changes into the spool (change streams or the oplog)",
      "Usage: docshift capture --source URI --spool DIR [--source_kind mongo|cosmos|oplog|dynamodb]\n\n"
      "Reads the source's changes and writes them as zstd-compressed protobuf batches into the\n"
      "spool, fsyncing each batch before its resume position counts. Runs until SIGINT or\n"
      "SIGTERM, then seals the open segment and exits 0. Restarted on the same spool, it\n"
      "resumes from the last durable position; if the source no longer holds it, capture\n"
      "stops and says a new snapshot is needed (it never skips). Every second it writes\n"
      "status/capture.status for `docshift status`; --http_listen HOST:PORT (or\n"
      "--metrics_port PORT, on 127.0.0.1) serves Prometheus /metrics and /progress (JSON).\n"
      "Under systemd (Type=notify) it reports READY=1 once ready, progress as STATUS=,\n"
      "WATCHDOG=1 keep-alives when WatchdogSec is set, and STOPPING=1 on SIGTERM. SIGHUP\n"
      "flushes the logs and, with --log_dir, continues in new log files.\n\n"
      "One capture per spool: a second one fails naming the holder's pid. A spool belongs to\n"
      "one source; pointing capture at another refuses.\n\n"
      "--ship_to s3://BUCKET/PREFIX also runs `docshift ship` beside capture: each sealed\n"
      "segment is uploaded and committed to the bucket (see `docshift ship --help`); on\n"
      "SIGTERM capture seals its last segment and the shipper commits it before exiting.\n"
      "--bucket_retention (off by default) also deletes applied segments from the bucket,\n"
      "as `docshift ship --bucket_retention` does.\n\n"
      "Examples:\n"
      "  docshift capture --source mongodb://src:27017/?replicaSet=rs0 --spool /data/spool\n"
      "  DOCSHIFT_SOURCE=mongodb://u:p@src/ docshift capture --source env:DOCSHIFT_SOURCE --spool S\n"
      "  docshift capture --source mongodb://ferret:27017/ --source_kind oplog --spool S\n"
      "  AWS_PROFILE=prod docshift capture --source dynamodb://us-east-1/orders,users --spool S",
      {"source", "spool", "source_kind", "scope", "show_expanded_events", "change_stream_cursor", "include", "exclude", "start_at",
       "batch_max_events", "batch_max_bytes", "batch_max_time", "segment_max_bytes",
       "segment_max_age", "zstd_level", "progress_interval", "oplog_max_await",
       "capture_retention", "metrics_port", "http_listen", "ttl_deletes", "dynamodb_numbers", "ship_to",
       "bucket_retention", "bucket_retention_interval"},
      &RunCaptureCmd};
}

}  // namespace docshift::cli
