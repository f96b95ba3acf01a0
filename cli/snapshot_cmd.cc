// `docshift snapshot`: thin wrapper over snapshot/snapshot.h.
#include <gflags/gflags.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "aws/dynamodb_uri.h"
#include "aws/s3_client.h"
#include "bucket/location.h"
#include "cli/command.h"
#include "cli/signals.h"
#include "snapshot/bucket_snapshot.h"
#include "snapshot/snapshot.h"
#include "util/duration.h"

DECLARE_string(spool);
DECLARE_string(source);
DECLARE_string(target);
DECLARE_string(include);
DECLARE_string(exclude);
DECLARE_string(map);
DECLARE_string(transforms);
DECLARE_string(progress_interval);
DECLARE_int32(parallel);
DECLARE_int64(max_docs_per_s);
DECLARE_int64(max_mb_per_s);
DECLARE_uint64(docs_per_range);
DECLARE_string(dynamodb_numbers);
DECLARE_string(region);
DEFINE_string(snapshot_lease, "30s", "snapshot --spool s3://...: a worker's claim on a range lapses when it has not "
                                     "renewed it for this long (it renews every third of it); another worker "
                                     "then takes the range over.");
DEFINE_bool(progress_only, false, "snapshot --spool s3://...: print the whole snapshot's progress (ranges done, "
                                  "claimed, documents, ETA) from the bucket once, and exit.");
DEFINE_int32(batch_docs, 1000, "snapshot: documents per insert_many (for a DynamoDB source, also the "
                              "Limit of each Scan page).");
DEFINE_int64(max_rcu, 0, "snapshot: DynamoDB sources only: read capacity units per second for the "
                         "whole snapshot, shared by every Scan segment reader and charged with what "
                         "each page consumed; 0 = unlimited.");
DEFINE_string(indexes, "after", "snapshot: copy index definitions before the data, after it, or "
                                "none.");
DEFINE_bool(indexes_strict, false, "snapshot: fail when the target refuses an index (default: "
                                   "list it and go on).");
DEFINE_bool(drop_target, false, "snapshot: drop target collections that already hold documents "
                                "(a new snapshot only).");
DEFINE_bool(allow_nonempty_target, false, "snapshot: copy into target collections that already "
                                          "hold documents, leaving those with the same _id.");
DEFINE_bool(restart, false, "snapshot: start a new snapshot even if the spool holds one.");
DEFINE_string(progress, "auto", "snapshot: bars (a bar per collection, redrawn), lines (a line "
                                "per collection every --progress_interval), none, or auto (bars "
                                "on a terminal).");

namespace docshift::cli {
namespace {

// One worker of a snapshot shared through a bucket (snapshot/bucket_snapshot.h).
int RunBucketSnapshotCmd(const snapshot::SnapshotOptions& o) {
  const std::string cmd = "snapshot";
  snapshot::BucketSnapshotOptions b;
  auto loc = bucket::ParseBucketUrl(o.spool_dir, "--spool");
  if (!loc.ok()) return Fail(cmd, loc.status());
  b.loc = loc.value();
  // Credentials by the AWS conventions; never printed (aws/credentials.h).
  auto s3 = aws::S3ClientOptionsFromEnv(aws::ProcessEnv(), FLAGS_region);
  if (!s3.ok()) return Fail(cmd, s3.status().WithContext("--spool " + b.loc.ToString()));
  s3->stop = o.stop;
  b.new_s3 = [s3o = s3.value()]() { return aws::S3Client::New(s3o); };
  auto lease = ParseDurationMs(FLAGS_snapshot_lease);
  if (!lease.ok()) return Fail(cmd, lease.status().WithContext("--snapshot_lease"));
  b.lease_ms = lease.value();
  b.poll_ms = std::clamp<int64_t>(b.lease_ms / 10, 100, 1000);
  b.progress_only = FLAGS_progress_only;
  auto r = snapshot::RunBucketSnapshot(o, b);
  if (!r.ok()) return Fail(cmd, r.status());
  if (b.progress_only) {
    std::cout << "snapshot in " << b.loc.ToString() << ": " << r->whole.ToString() << std::endl;
    return kExitOk;
  }
  const double secs = std::max<int64_t>(1, r->run.elapsed_ms) / 1000.0;
  std::cerr << "docshift snapshot: worker " << r->worker_id << " done: it copied " << r->run.docs << " documents ("
            << r->run.bytes / 1e6 << " MB) in " << secs << " s; snapshot " << r->run.snapshot_id << ": "
            << r->whole.ToString()
            << (r->finished_here ? "; this worker copied the indexes (" + std::to_string(r->run.indexes_created) +
                                       " created) and marked it finished"
                                 : std::string())
            << std::endl;
  if (r->run.docs_rejected > 0) {
    std::cerr << "docshift snapshot: " << r->run.docs_rejected << " documents not written (refused by the target"
              << (o.transforms_file.empty() ? "" : " or by a --transforms rule") << "); they are in "
              << b.loc.Url("deadletter/snapshot-" + r->worker_id + ".dlq") << std::endl;
  }
  for (const auto& x : r->run.rejected_indexes) std::cerr << "docshift snapshot: index not created: " << x << std::endl;
  std::cerr << "docshift snapshot: next, `docshift apply --spool " << b.loc.ToString()
            << " --target ...` replays every change from sequence " << r->run.start_seq + 1 << " on" << std::endl;
  return r->run.docs_rejected > 0 || !r->run.rejected_indexes.empty() ? kExitProblemFound : kExitOk;
}

int RunSnapshotCmd(const std::vector<std::string>& args) {
  const std::string cmd = "snapshot";
  if (!args.empty()) return Fail(cmd, Status::InvalidArgument("unexpected argument '" + args[0] + "'"));
  snapshot::SnapshotOptions o;
  if (FLAGS_progress_only) {  // reads the bucket only
    if (!bucket::IsBucketUrl(FLAGS_spool)) {
      return Fail(cmd, Status::InvalidArgument("--progress_only reads a snapshot in a bucket: give --spool s3://BUCKET/PREFIX"));
    }
    o.spool_dir = FLAGS_spool;
    o.stop = InstallStopSignals();
    return RunBucketSnapshotCmd(o);
  }
  auto src = ResolveUriFlag(FLAGS_source, "--source");
  if (!src.ok()) return Fail(cmd, src.status());
  auto dst = ResolveUriFlag(FLAGS_target, "--target");
  if (!dst.ok()) return Fail(cmd, dst.status());
  o.source_uri = src.value();
  o.target_uri = dst.value();
  o.spool_dir = FLAGS_spool;
  o.namespaces.include = SplitList(FLAGS_include);
  o.namespaces.exclude = SplitList(FLAGS_exclude);
  o.maps = SplitList(FLAGS_map);
  o.transforms_file = FLAGS_transforms;
  o.parallel = FLAGS_parallel;
  o.docs_per_range = FLAGS_docs_per_range;
  o.batch_docs = FLAGS_batch_docs;
  o.max_rcu = static_cast<double>(FLAGS_max_rcu);
  o.max_docs_per_s = static_cast<double>(FLAGS_max_docs_per_s);
  o.max_mb_per_s = static_cast<double>(FLAGS_max_mb_per_s);
  o.dynamodb_numbers = FLAGS_dynamodb_numbers;
  o.indexes = FLAGS_indexes;
  o.indexes_strict = FLAGS_indexes_strict;
  o.drop_target = FLAGS_drop_target;
  o.allow_nonempty_target = FLAGS_allow_nonempty_target;
  o.restart = FLAGS_restart;
  auto pi = ParseDurationMs(FLAGS_progress_interval);
  if (!pi.ok()) return Fail(cmd, pi.status().WithContext("--progress_interval"));
  o.progress_interval_ms = pi.value();
  if (FLAGS_progress == "auto") {
    o.progress_bars = isatty(STDERR_FILENO);
  } else if (FLAGS_progress == "bars" || FLAGS_progress == "lines") {
    o.progress_bars = FLAGS_progress == "bars";
  } else if (FLAGS_progress != "none") {
    return Fail(cmd, Status::InvalidArgument("--progress '" + FLAGS_progress +
                                             "' is not one of auto, bars, lines, none"));
  }
  if (FLAGS_progress != "none") o.progress_out = &std::cerr;
  o.stop = InstallStopSignals();
  if (bucket::IsBucketUrl(o.spool_dir)) return RunBucketSnapshotCmd(o);
  auto r = snapshot::RunSnapshot(o);
  if (!r.ok()) return Fail(cmd, r.status());
  if (r->already_finished) {
    std::cerr << "docshift snapshot: snapshot " << r->snapshot_id << " of this spool already "
              << "finished; nothing to do (--restart starts a new one). Apply replays from "
              << "sequence " << r->start_seq + 1 << "." << std::endl;
    return kExitOk;
  }
  const double secs = std::max<int64_t>(1, r->elapsed_ms) / 1000.0;
  std::cerr << "docshift snapshot: " << (r->resumed ? "resumed and finished " : "finished ")
            << r->snapshot_id << ": " << r->collections << " collections, " << r->docs
            << " documents (" << r->bytes / 1e6 << " MB) in " << secs << " s ("
            << static_cast<uint64_t>(r->docs / secs) << " docs/s); ranges " << r->ranges
            << (r->ranges_skipped ? " (" + std::to_string(r->ranges_skipped) + " done earlier)" : "")
            << "; " << r->indexes_created << " indexes created; load " << r->load
            << (r->throttled > 0 ? "; " + std::to_string(r->throttled) + " writes throttled by the target (retried)"
                                 : std::string())
            << std::endl;
  if (r->docs_rejected > 0) {
    std::cerr << "docshift snapshot: " << r->docs_rejected << " documents not written (refused by the target"
              << (o.transforms_file.empty() ? "" : " or by a --transforms rule")
              << (aws::IsDynamoUri(o.source_uri) ? ", or items that do not convert" : "") << "); see `docshift inspect "
              << "deadletters --spool " << o.spool_dir << "`" << std::endl;
  }
  for (const auto& x : r->rejected_indexes) {
    std::cerr << "docshift snapshot: index not created: " << x << std::endl;
  }
  std::cerr << "docshift snapshot: next, `docshift apply --spool " << o.spool_dir
            << " --target ...` replays every change from sequence " << r->start_seq + 1
            << " on" << std::endl;
  return r->docs_rejected > 0 || (!r->rejected_indexes.empty()) ? kExitProblemFound : kExitOk;
}

}  // namespace

Command MakeSnapshotCommand() {
  return Command{
      "snapshot",
      "copy existing data (and indexes) to the target while capture runs",
      "Usage: docshift snapshot --source URI --target URI --spool DIR [--parallel 4]\n\n"
      "The initial load. Start `docshift capture` on DIR first and wait for \"capture: ready\";\n"
      "then the snapshot notes where the spool ends (its start_seq), copies every selected\n"
      "collection in _id ranges with unordered bulk inserts, several ranges at once, and\n"
      "copies index definitions (--indexes). Afterwards `docshift apply` replays every change\n"
      "from start_seq + 1; it waits while a snapshot is unfinished.\n\n"
      "--source is a MongoDB-API connection string (mongodb://...) or DynamoDB tables,\n"
      "dynamodb://REGION/TABLE[,TABLE...] (credentials, region and endpoint by the AWS\n"
      "conventions: AWS_ACCESS_KEY_ID, AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB...).\n"
      "Each table is namespace dynamodb.TABLE (--map dynamodb.TABLE=db.coll), read by a\n"
      "consistent parallel Scan whose segments are the ranges (a restart continues each\n"
      "segment from its last page); --max_rcu caps the read capacity it consumes. An item\n"
      "that cannot be converted (a number Decimal128 cannot hold) is dead-lettered, naming\n"
      "the attribute, unless --dynamodb_numbers (the mode capture records in the spool) says\n"
      "string or double. DynamoDB secondary indexes are not copied.\n\n"
      "Resumable: finished ranges are recorded in DIR/snapshot/STATE; after a crash or\n"
      "Ctrl-C, run the same command again and it copies only what is left. Documents the\n"
      "target refuses go to deadletter/snapshot.dlq; refused indexes are listed. Exit 0 when\n"
      "everything was copied, 1 when documents or indexes were refused. --transforms FILE\n"
      "writes each document as the rules make it (a document a rule cannot transform is\n"
      "dead-lettered with the reason); give apply the same file.\n\n"
      "Several machines: with --spool s3://BUCKET/PREFIX (the spool `docshift ship` fills),\n"
      "each `docshift snapshot` is one worker of one snapshot; run any number, anywhere, with\n"
      "the same flags. The first plans (snapshot/PLAN in the bucket; apply replays from the\n"
      "commit log's end then + 1); each range is claimed by one worker, renewed while it is\n"
      "copied and taken over by another once silent for --snapshot_lease; the last one copies\n"
      "the indexes and marks snapshot/STATE finished; every worker exits 0 at the end.\n"
      "--progress_only prints the whole snapshot's progress. Do not also run a local\n"
      "snapshot on the capture machine for the same prefix (it is refused).\n\n"
      "Examples:\n"
      "  docshift snapshot --source env:SRC --target env:DST --spool /data/spool\n"
      "  docshift snapshot --source S --target T --spool D --include 'shop.*' --indexes before\n"
      "  docshift snapshot --source dynamodb://us-east-1/orders,users --target env:DST --spool D \\\n"
      "      --map dynamodb.orders=shop.orders --max_rcu 2000\n"
      "  docshift snapshot --source env:SRC --target env:DST --spool s3://bkt/spool   # on each machine",
      {"source", "target", "spool", "include", "exclude", "map", "transforms", "parallel", "docs_per_range",
       "batch_docs", "max_rcu", "max_docs_per_s", "max_mb_per_s", "indexes", "indexes_strict", "drop_target", "allow_nonempty_target", "restart",
       "progress", "progress_interval", "dynamodb_numbers", "snapshot_lease", "progress_only", "region"},
      &RunSnapshotCmd};
}

}  // namespace docshift::cli
