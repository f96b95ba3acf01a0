// `docshift inspect`: thin wrapper over spool/inspect.h.
#include <gflags/gflags.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>

#include "aws/credentials.h"
#include "aws/s3_client.h"
#include "bucket/cache.h"
#include "bucket/location.h"
#include "cli/command.h"
#include "cli/flag_ranges.h"
#include "spool/inspect.h"

DECLARE_string(spool);
DECLARE_string(region);
DECLARE_string(cache_dir);
DEFINE_string(ns, "", "dump/stats: only namespaces matching these comma-separated globs "
                      "(e.g. 'shop.*,crm.users').");
DEFINE_string(op, "", "dump/stats: only these comma-separated operation types (insert, "
                      "update, replace, delete, drop, rename, dropDatabase, create, "
                      "createIndexes, dropIndexes, invalidate, noop).");
DEFINE_uint64(from_seq, 0, "dump/stats: first sequence number to include.");
DEFINE_uint64(until_seq, 0, "dump/stats: last sequence number to include (0 = no limit).");
DEFINE_string(from_time, "", "dump/stats: earliest source time to include, RFC 3339 UTC "
                             "(2026-11-22T01:00:00Z) or seconds since the epoch.");
DEFINE_string(until_time, "", "dump/stats: latest source time to include (same forms).");
DEFINE_uint64(limit, 0, "dump: print at most this many events (0 = all).");

namespace docshift::cli {
namespace {

int RunInspect(const std::vector<std::string>& args) {
  const std::string cmd = "inspect";
  if (args.size() != 1) {
    return Fail(cmd, Status::InvalidArgument(
                         "expected one action: segments, manifest, dump, verify, stats or deadletters "
                         "(e.g. `docshift inspect segments --spool DIR`)"));
  }
  if (FLAGS_spool.empty()) {
    return Fail(cmd, Status::InvalidArgument("--spool is required: the spool directory to read"));
  }
  spool::InspectOptions o;
  o.dir = FLAGS_spool;
  o.ns_globs = SplitList(FLAGS_ns);
  o.ops = SplitList(FLAGS_op);
  for (const auto& op : o.ops) {
    if (spool::ParseOpName(op) < 0) {
      return Fail(cmd, Status::InvalidArgument("unknown operation type '" + op +
                                               "' in --op; see `docshift inspect --help`"));
    }
  }
  if (FLAGS_until_seq != 0) {
    Status order = CheckFlagOrder("--from_seq", std::to_string(FLAGS_from_seq),
                                  static_cast<int64_t>(FLAGS_from_seq), "--until_seq",
                                  std::to_string(FLAGS_until_seq),
                                  static_cast<int64_t>(FLAGS_until_seq));
    if (!order.ok()) return Fail(cmd, order);
  }
  o.from_seq = FLAGS_from_seq;
  if (FLAGS_until_seq != 0) o.until_seq = FLAGS_until_seq;
  if (FLAGS_limit != 0) o.limit = FLAGS_limit;
  if (!FLAGS_from_time.empty()) {
    auto t = spool::ParseTimeMs(FLAGS_from_time);
    if (!t.ok()) return Fail(cmd, t.status().WithContext("--from_time"));
    o.from_time_ms = t.value();
  }
  if (!FLAGS_until_time.empty()) {
    auto t = spool::ParseTimeMs(FLAGS_until_time);
    if (!t.ok()) return Fail(cmd, t.status().WithContext("--until_time"));
    o.until_time_ms = t.value() + 999;  // inclusive of the whole second
    if (!FLAGS_from_time.empty()) {
      Status order = CheckFlagOrder("--from_time", FLAGS_from_time, o.from_time_ms,
                                    "--until_time", FLAGS_until_time, t.value());
      if (!order.ok()) return Fail(cmd, order);
    }
  }
  Env* env = Env::Default();
  // A bucket spool: copied (checked, as apply checks it) into a local directory first.
  std::string temp_dir;
  std::unique_ptr<bucket::BucketSpoolCache> cache;
  if (bucket::IsBucketUrl(FLAGS_spool)) {
    auto loc = bucket::ParseBucketUrl(FLAGS_spool, "--spool");
    if (!loc.ok()) return Fail(cmd, loc.status());
    auto s3 = aws::S3ClientOptionsFromEnv(aws::ProcessEnv(), FLAGS_region);
    if (!s3.ok()) return Fail(cmd, s3.status().WithContext("--spool " + loc->ToString()));
    auto client = aws::S3Client::New(std::move(s3).value());
    if (!client.ok()) return Fail(cmd, client.status());
    bucket::BucketSpoolCacheOptions co;
    co.loc = loc.value();
    co.s3 = std::move(client).value();
    co.max_bytes = UINT64_MAX;
    co.dir = FLAGS_cache_dir;
    if (co.dir.empty()) {
      std::string tmpl = (std::getenv("TMPDIR") != nullptr ? std::string(std::getenv("TMPDIR")) : "/tmp") +
                         "/docshift-inspect.XXXXXX";
      if (mkdtemp(tmpl.data()) == nullptr) {
        return Fail(cmd, Status::IOError("cannot create a temporary directory " + tmpl + " (set TMPDIR or --cache_dir)"));
      }
      temp_dir = co.dir = tmpl;
    }
    auto c = bucket::BucketSpoolCache::Open(std::move(co));
    Status cs = c.ok() ? (*c)->Sync(1) : c.status();
    if (cs.ok()) cs = (*c)->CopyCheckpointsAndDeadLetters();
    if (!cs.ok()) {
      if (c.ok()) c->reset();  // release the cache's lock before removing it
      if (!temp_dir.empty()) std::filesystem::remove_all(temp_dir);
      return Fail(cmd, cs);
    }
    cache = std::move(c).value();
    std::cerr << "docshift inspect: " << loc->ToString() << " (committed up to seq " << cache->bucket_next_seq() - 1
              << ") read into " << cache->dir() << (temp_dir.empty() ? "" : " (removed afterwards)") << std::endl;
    o.dir = cache->dir();
  }
  struct RemoveTemp {
    std::string dir;
    std::unique_ptr<bucket::BucketSpoolCache>* cache;
    ~RemoveTemp() {
      cache->reset();
      if (!dir.empty()) std::filesystem::remove_all(dir);
    }
  } remove_temp{temp_dir, &cache};
  const std::string& action = args[0];
  Status s;
  if (action == "segments") {
    s = spool::InspectSegments(env, o, std::cout);
  } else if (action == "manifest") {
    s = spool::InspectManifest(env, o, std::cout);
  } else if (action == "dump") {
    s = spool::InspectDump(env, o, std::cout);
  } else if (action == "stats") {
    s = spool::InspectStats(env, o, std::cout);
  } else if (action == "deadletters") {
    auto n = spool::InspectDeadLetters(env, o, std::cout);
    if (!n.ok()) return Fail(cmd, n.status());
    return kExitOk;
  } else if (action == "verify") {
    auto problems = spool::InspectVerify(env, o, std::cout);
    if (!problems.ok()) return Fail(cmd, problems.status());
    return problems.value() == 0 ? kExitOk : kExitProblemFound;
  } else {
    return Fail(cmd, Status::InvalidArgument("unknown action '" + action +
                                             "'; use segments, manifest, dump, verify, stats or deadletters"));
  }
  std::cout.flush();
  if (!s.ok()) return Fail(cmd, s);
  return kExitOk;
}

}  // namespace

Command MakeInspectCommand() {
  return Command{
      "inspect",
      "read a spool offline: segments, manifest, dump, verify, stats (no database needed)",
      "Usage: docshift inspect ACTION --spool DIR [filters]\n\n"
      "Reads a spool without any database and without taking the spool lock, so it is safe\n"
      "beside a running capture and apply.\n"
      "--spool s3://BUCKET/PREFIX reads a bucket spool: its committed segments (checked as\n"
      "apply checks them), checkpoints and dead letters are copied into --cache_dir, or a\n"
      "temporary directory removed afterwards (AWS endpoint/credentials conventions, --region).\n\n"
      "Actions:\n"
      "  segments  one line per segment: sequence and cluster-time range, events, raw and\n"
      "            on-disk bytes, compression ratio, sealed or open\n"
      "  manifest  every manifest record, then each apply checkpoint\n"
      "  dump      events as relaxed Extended JSON, one per line (filters apply)\n"
      "  verify    check every checksum and framing rule; each problem is printed with file\n"
      "            and offset; exit 1 if any is found\n"
      "  stats     event counts per namespace and operation type (filters apply)\n"
      "  deadletters  events apply could not write, with the server's error (filters apply)\n\n"
      "Examples:\n"
      "  docshift inspect segments --spool /var/lib/docshift/spool\n"
      "  docshift inspect dump --spool S --ns 'shop.*' --op update,delete --limit 20\n"
      "  docshift inspect dump --spool S --from_time 2026-11-22T01:00:00Z --until_seq 5000",
      {"spool", "ns", "op", "from_seq", "until_seq", "from_time", "until_time", "limit", "region", "cache_dir"},
      &RunInspect};
}

}  // namespace docshift::cli
