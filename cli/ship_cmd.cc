// `docshift ship`: a local spool's sealed segments to a bucket (bucket/shipper.h).
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <iostream>

#include "aws/credentials.h"
#include "aws/s3_client.h"
#include "bucket/location.h"
#include "bucket/shipper.h"
#include "cli/background_shipper.h"
#include "cli/command.h"
#include "cli/signals.h"
#include "util/duration.h"

DECLARE_string(spool);
DECLARE_bool(stop_when_drained);
DECLARE_string(region);
DEFINE_string(to, "", "ship: the bucket spool, s3://BUCKET/PREFIX (endpoint and credentials by the "
                      "AWS conventions: AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID/"
                      "AWS_SECRET_ACCESS_KEY, AWS_PROFILE).");
DEFINE_string(ship_poll_interval, "500ms", "ship: how often the local manifest is looked at for newly "
                                           "sealed segments when there is nothing to ship.");

DEFINE_string(bucket_retention, "", "ship (and capture --ship_to): delete from the bucket, oldest first, each "
                                    "committed segment every apply checkpoint in the bucket has passed, that no "
                                    "unfinished snapshot needs and that was committed longer ago than this (e.g. "
                                    "24h; 0s: as soon as passed); never the newest. Default (empty): off, the "
                                    "bucket keeps everything.");
DEFINE_string(bucket_retention_interval, "1m", "ship (and capture --ship_to): how often --bucket_retention looks "
                                               "at the bucket's checkpoints (at most once per this).");

namespace docshift::cli {

Status ParseBucketRetentionFlags(int64_t* retention_ms, int64_t* interval_ms) {
  *retention_ms = 0;
  auto iv = ParseDurationMs(FLAGS_bucket_retention_interval);
  if (!iv.ok()) return iv.status().WithContext("--bucket_retention_interval");
  *interval_ms = iv.value();
  if (FLAGS_bucket_retention.empty()) return Status::OK();
  auto r = ParseDurationMs(FLAGS_bucket_retention);
  if (!r.ok()) return r.status().WithContext("--bucket_retention");
  // 0s is "no window", not "off": stored as 1 ms so that retention_ms > 0 means on.
  *retention_ms = std::max<int64_t>(1, r.value());
  return Status::OK();
}

namespace {

int RunShip(const std::vector<std::string>& args) {
  const std::string cmd = "ship";
  if (!args.empty()) return Fail(cmd, Status::InvalidArgument("unexpected argument '" + args[0] + "'"));
  if (FLAGS_spool.empty()) return Fail(cmd, Status::InvalidArgument("--spool is required (the local spool directory)"));
  if (FLAGS_to.empty()) return Fail(cmd, Status::InvalidArgument("--to is required (s3://BUCKET/PREFIX)"));
  auto to = bucket::ParseBucketUrl(FLAGS_to, "--to");
  if (!to.ok()) return Fail(cmd, to.status());
  auto poll = ParseDurationMs(FLAGS_ship_poll_interval);
  if (!poll.ok()) return Fail(cmd, poll.status().WithContext("--ship_poll_interval"));
  auto s3 = aws::S3ClientOptionsFromEnv(aws::ProcessEnv(), FLAGS_region);
  if (!s3.ok()) return Fail(cmd, s3.status());

  bucket::ShipperOptions o;
  o.spool_dir = FLAGS_spool;
  o.to = *to;
  o.s3 = std::move(s3).value();
  o.poll_interval_ms = std::max<int64_t>(10, poll.value());
  o.stop_when_drained = FLAGS_stop_when_drained;
  o.stop = InstallStopSignals();
  o.on_commit = [](const pb::SegmentSealed& seg, uint64_t n) {
    LOG(INFO) << "ship: committed " << seg.file_name() << " (sequences " << seg.first_seq() << ".."
              << seg.last_seq() << ", " << seg.file_bytes() << " bytes) as log record " << n;
  };
  if (Status rs = ParseBucketRetentionFlags(&o.retention_ms, &o.retention_interval_ms); !rs.ok()) {
    return Fail(cmd, rs);
  }
  o.on_delete = LogBucketDeletion;
  LOG(INFO) << "ship: " << o.spool_dir << " -> " << o.to.ToString() << " ("
            << (o.s3.endpoint.empty() ? "AWS S3, region " + o.s3.region : o.s3.endpoint) << ")";
  auto r = bucket::RunShipper(o);
  if (!r.ok()) return Fail(cmd, r.status());
  std::cerr << "docshift ship: committed " << r->segments << " segment(s), " << r->bytes
            << " bytes, this run; the bucket holds every sequence up to " << r->shipped_seq << " (log record "
            << r->log_number << ")";
  if (o.retention_ms > 0) {
    std::cerr << "; retention deleted " << r->segments_deleted << " segment(s), " << r->bytes_deleted << " bytes";
  }
  std::cerr << "\n";
  return kExitOk;
}

}  // namespace

Command MakeShipCommand() {
  return Command{
      "ship",
      "copy the spool's sealed segments to a bucket (S3-compatible) for applies on other machines",
      "Usage: docshift ship --spool DIR --to s3://BUCKET/PREFIX [--stop_when_drained]\n"
      "                     [--bucket_retention DURATION]\n\n"
      "Uploads each sealed segment of the local spool to s3://BUCKET/PREFIX/segments/ and\n"
      "commits it with a numbered record in PREFIX/log/, created only if absent\n"
      "(If-None-Match: *), so two shippers can never both commit: one started later takes\n"
      "the log over and the earlier one stops with a message naming it. Every object carries\n"
      "its MD5 (checked by the server on upload and by readers on download). Local segments\n"
      "become prunable once committed (DIR/shipped/*.mark). Follows the spool as capture\n"
      "seals segments (--segment_max_age bounds how long a change waits) until SIGTERM, or\n"
      "exits once everything sealed is committed (--stop_when_drained). A prefix holding\n"
      "another spool is refused. Bucket layout: spool/FORMAT.md, \"Bucket layout\".\n\n"
      "Retention is off by default: the bucket keeps every segment. --bucket_retention 24h\n"
      "deletes (every --bucket_retention_interval, oldest first) each committed segment that\n"
      "every apply checkpoint in the bucket has passed (every slot; none at all: nothing),\n"
      "that no unfinished snapshot needs, and that was committed more than 24h ago; never\n"
      "the newest. Each deletion is recorded in the commit log before the object goes. An\n"
      "apply whose checkpoint is older than what is left stops, naming the oldest sequence.\n\n"
      "Endpoint and credentials follow the AWS conventions: AWS_ENDPOINT_URL_S3 or\n"
      "AWS_ENDPOINT_URL (path-style addressing), AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY\n"
      "(+ AWS_SESSION_TOKEN), or AWS_PROFILE in ~/.aws; region from --region, AWS_REGION,\n"
      "AWS_DEFAULT_REGION or the profile.",
      {"spool", "to", "region", "stop_when_drained", "ship_poll_interval", "bucket_retention",
       "bucket_retention_interval"},
      &RunShip};
}

}  // namespace docshift::cli
