// `docshift verify` and `docshift reconcile`: thin wrappers over verify/verify.h.
#include <gflags/gflags.h>

#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <mutex>

#include "bucket/location.h"
#include "cli/command.h"
#include "cli/signals.h"
#include "util/duration.h"
#include "status/bucket_reader.h"
#include "verify/verify.h"

DECLARE_string(source);
DECLARE_string(target);
DECLARE_string(include);
DECLARE_string(exclude);
DECLARE_string(map);
DECLARE_string(transforms);
DECLARE_string(spool);
DECLARE_string(region);
DECLARE_bool(dry_run);
DECLARE_int32(parallel);
DECLARE_int64(max_docs_per_s);
DECLARE_int64(max_mb_per_s);
DECLARE_string(dynamodb_numbers);
DEFINE_string(report, "", "verify: write the JSON report to this file (every difference, with "
                          "its kind and _id). Default: no report.");
DEFINE_string(state, "", "verify: resumable progress file; a re-run with the same flags after "
                         "an interruption continues there. Default: REPORT.state when --report "
                         "is given, else none.");
DEFINE_int32(recheck_rounds, 2, "verify: re-read the differing documents this many times "
                                "before reporting them (0 = report the first pass as is).");
DEFINE_string(recheck_timeout, "2m", "verify with --spool: longest wait, per re-check round, for "
                                     "apply to reach the spool's end.");
DEFINE_string(recheck_delay, "2s", "verify without --spool: wait this long before each re-check "
                                   "round.");
DEFINE_bool(counts_only, false, "verify: compare document counts only, not content.");
DECLARE_uint64(docs_per_range);
DEFINE_bool(strict_order, false, "verify: field order counts (default: {a,b} equals {b,a}, since "
                                 "some servers reorder fields on update).");
DEFINE_int32(max_print, 20, "verify: differing _ids printed per collection (all go to the report).");
DEFINE_string(interval, "0", "reconcile: repeat every DURATION (e.g. 10m) until Ctrl-C; 0 = once.");

namespace docshift::cli {
namespace {

std::mutex g_out_mu;

auto Progress(const std::string& cmd) {
  return [cmd](const std::string& line) {
    std::lock_guard<std::mutex> l(g_out_mu);
    std::cerr << "docshift " << cmd << ": " << line << std::endl;
  };
}

Status CommonFlags(std::string* source, std::string* target, mongo::NamespaceFilter* filter,
                   std::vector<std::string>* maps) {
  auto s = ResolveUriFlag(FLAGS_source, "--source");
  if (!s.ok()) return s.status();
  auto t = ResolveUriFlag(FLAGS_target, "--target");
  if (!t.ok()) return t.status();
  *source = s.value();
  *target = t.value();
  filter->include = SplitList(FLAGS_include);
  filter->exclude = SplitList(FLAGS_exclude);
  *maps = SplitList(FLAGS_map);
  return Status::OK();
}

void PrintTable(const verify::VerifyResult& r, std::ostream& out) {
  char line[512];
  std::snprintf(line, sizeof(line), "%-40s %12s %12s %9s %7s %8s %8s %8s  %s\n", "COLLECTION",
                "SOURCE", "TARGET", "DELTA", "RANGES", "MISSING", "EXTRA", "CHANGED", "STATUS");
  out << line;
  for (const auto& c : r.collections) {
    std::string name = c.source_ns;
    if (c.target_ns != c.source_ns) name += " -> " + c.target_ns;
    std::string status = c.ok() ? "ok" : "DIFFERENT";
    if (!c.target_exists) status = "MISSING ON TARGET";
    if (!c.source_exists) status = "ONLY ON TARGET";
    auto count = [](bool exists, uint64_t n) { return exists ? std::to_string(n) : std::string("-"); };
    auto num = [&](uint64_t n) { return r.counts_only ? std::string("-") : std::to_string(n); };
    std::snprintf(line, sizeof(line), "%-40s %12s %12s %+9" PRId64 " %7s %8s %8s %8s  %s\n",
                  name.c_str(), count(c.source_exists, c.source_count).c_str(),
                  count(c.target_exists, c.target_count).c_str(), c.delta(),
                  num(c.ranges).c_str(), num(c.missing).c_str(), num(c.extra).c_str(),
                  num(c.changed).c_str(), status.c_str());
    out << line;
  }
}

void PrintDifferences(const verify::VerifyResult& r, int max_print, std::ostream& out) {
  for (const auto& c : r.collections) {
    if (c.differences.empty()) continue;
    out << "\n" << c.source_ns << ": " << c.differences.size() << " differing documents ("
        << c.missing << " missing on the target, " << c.extra << " extra on the target, "
        << c.changed << " changed):\n";
    int shown = 0;
    for (const auto& d : c.differences) {
      if (shown++ >= max_print) break;
      std::string kind = verify::DiffKindName(d.kind);
      kind.resize(8, ' ');
      out << "  " << kind << " _id " << d.id_json;
      if (!d.problem.empty()) out << " (" << d.problem << ")";
      out << "\n";
    }
    if (c.differences.size() > static_cast<size_t>(max_print)) {
      out << "  ... and " << c.differences.size() - max_print << " more"
          << (FLAGS_report.empty() ? " (--report FILE lists them all)" : " (all in the report)")
          << "\n";
    }
  }
}

int RunVerifyCmd(const std::vector<std::string>& args) {
  const std::string cmd = "verify";
  if (!args.empty()) return Fail(cmd, Status::InvalidArgument("unexpected argument '" + args[0] + "'"));
  verify::VerifyOptions o;
  Status s = CommonFlags(&o.source_uri, &o.target_uri, &o.filter, &o.maps);
  o.transforms_file = FLAGS_transforms;
  o.dynamodb_numbers = FLAGS_dynamodb_numbers;
  if (!s.ok()) return Fail(cmd, s);
  o.parallel = FLAGS_parallel;
  o.max_docs_per_s = static_cast<double>(FLAGS_max_docs_per_s);
  o.max_mb_per_s = static_cast<double>(FLAGS_max_mb_per_s);
  o.counts_only = FLAGS_counts_only;
  o.strict_order = FLAGS_strict_order;
  o.docs_per_range = FLAGS_docs_per_range;
  o.recheck_rounds = FLAGS_recheck_rounds;
  o.spool_dir = FLAGS_spool;
  std::shared_ptr<status::BucketStatusReader> bucket;  // --spool s3://...: positions from the bucket alone
  if (bucket::IsBucketUrl(o.spool_dir)) {
    auto r = status::OpenBucketStatusReader(o.spool_dir, "--spool", FLAGS_region);
    if (!r.ok()) return Fail(cmd, r.status());
    bucket = std::move(r).value();
    o.spool_positions = [bucket](uint64_t* end, uint64_t* low, bool* any) { return bucket->Positions(end, low, any); };
  }
  auto t = ParseDurationMs(FLAGS_recheck_timeout);
  if (!t.ok()) return Fail(cmd, t.status().WithContext("--recheck_timeout"));
  o.recheck_timeout_ms = t.value();
  auto d = ParseDurationMs(FLAGS_recheck_delay);
  if (!d.ok()) return Fail(cmd, d.status().WithContext("--recheck_delay"));
  o.recheck_delay_ms = d.value();
  o.report_path = FLAGS_report;
  o.state_path = FLAGS_state;
  if (o.state_path.empty() && !o.report_path.empty()) o.state_path = o.report_path + ".state";
  o.stop = InstallStopSignals();
  o.progress = Progress(cmd);
  auto r = verify::RunVerify(o);
  if (!r.ok()) return Fail(cmd, r.status());
  PrintTable(*r, std::cout);
  PrintDifferences(*r, FLAGS_max_print, std::cout);
  size_t bad = 0;
  for (const auto& c : r->collections) bad += !c.ok();
  std::cout << "\nverify: " << (r->identical ? "IDENTICAL" : "DIFFERENT") << ": "
            << r->collections.size() << " collections";
  if (!r->identical) {
    std::cout << ", " << bad << " not in order";
    if (!r->counts_only) {
      std::cout << ", " << r->differences << " differing documents (" << r->first_pass_differences
                << " in the first pass, " << r->recheck_rounds_run << " re-check rounds)";
    }
  }
  if (r->counts_only) std::cout << " (counts only)";
  if (!o.report_path.empty()) std::cout << "; report: " << o.report_path;
  if (!r->load.empty()) std::cout << "; source read at " << r->load;
  std::cout << std::endl;
  if (!r->apply_caught_up) {
    std::cout << "verify: note: apply had not caught up with the spool at the last re-check; "
                 "differences may be replication lag\n";
  }
  return r->identical ? kExitOk : kExitProblemFound;
}

int RunReconcileCmd(const std::vector<std::string>& args) {
  const std::string cmd = "reconcile";
  if (!args.empty()) return Fail(cmd, Status::InvalidArgument("unexpected argument '" + args[0] + "'"));
  verify::ReconcileOptions o;
  Status s = CommonFlags(&o.source_uri, &o.target_uri, &o.filter, &o.maps);
  if (!s.ok()) return Fail(cmd, s);
  o.parallel = FLAGS_parallel;
  o.max_docs_per_s = static_cast<double>(FLAGS_max_docs_per_s);
  o.max_mb_per_s = static_cast<double>(FLAGS_max_mb_per_s);
  o.docs_per_range = FLAGS_docs_per_range;
  o.dry_run = FLAGS_dry_run;
  o.dynamodb_numbers = FLAGS_dynamodb_numbers;
  auto iv = ParseDurationMs(FLAGS_interval);
  if (!iv.ok()) return Fail(cmd, iv.status().WithContext("--interval"));
  o.interval_ms = iv.value();
  o.stop = InstallStopSignals();
  o.progress = Progress(cmd);
  const bool dry = o.dry_run;
  o.on_delete = [dry](const std::string& ns, const std::string& id) {
    std::lock_guard<std::mutex> l(g_out_mu);
    std::cout << (dry ? "would delete " : "deleted ") << ns << " _id " << id << std::endl;
  };
  auto r = verify::RunReconcile(o);
  if (!r.ok()) return Fail(cmd, r.status());
  std::cout << "reconcile: " << r->passes << (r->passes == 1 ? " pass, " : " passes, ")
            << r->candidates << " on the target only, " << r->deleted
            << (o.dry_run ? " would be deleted (dry run)" : " deleted") << ", " << r->kept
            << " kept (present on the source at the re-check), " << r->restored
            << " restored (appeared on the source during deletion)"
            << (r->load.empty() ? "" : "; source read at " + r->load) << std::endl;
  return kExitOk;
}

const std::vector<std::string> kCommonFlags = {"source", "target", "include", "exclude", "map",
                                               "parallel", "docs_per_range", "dynamodb_numbers",
                                               "max_docs_per_s", "max_mb_per_s"};

std::vector<std::string> With(std::vector<std::string> more) {
  std::vector<std::string> out = kCommonFlags;
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

}  // namespace

Command MakeVerifyCommand() {
  return Command{
      "verify",
      "compare source and target: counts, then document content by _id ranges",
      "Usage: docshift verify --source URI --target URI [--include GLOBS] [--map a=b]\n"
      "                       [--report FILE] [--spool DIR|s3://BUCKET/PREFIX] [--counts_only]\n\n"
      "For every selected collection: document counts on both sides and their delta; then\n"
      "(unless --counts_only) the source's _id ranges are read from both sides and each\n"
      "document hashed, keyed by its _id (numbers by value: 1 = NumberLong(1)); the\n"
      "differing _ids are named: missing on the target, extra on the target, or changed.\n"
      "Differences are re-read by _id --recheck_rounds times before they are reported, so\n"
      "writes in flight do not count: with --spool, each round first waits (up to\n"
      "--recheck_timeout) until apply has reached what capture had written; without it,\n"
      "--recheck_delay. --spool s3://BUCKET/PREFIX (a spool `docshift ship` keeps in a\n"
      "bucket) waits on the bucket alone: its committed end and every apply checkpoint in\n"
      "it (AWS_* variables, --region, as for apply).\n"
      "Collections present on one side only are reported as such.\n"
      "--transforms FILE (the rules apply used) compares each source document as the rules\n"
      "make it; a namespace whose rule makes _id is compared as one range.\n"
      "A DynamoDB source (--source dynamodb://REGION/TABLE[,TABLE...]; AWS credentials,\n"
      "region and endpoint from the usual AWS_* variables) is namespace dynamodb.TABLE per\n"
      "table, converted as capture and snapshot convert it; each table is read whole by a\n"
      "parallel consistent Scan (its count too: never DynamoDB's estimate). An item no BSON\n"
      "type holds is a difference naming the attribute (with --dynamodb_numbers=string or\n"
      "double: compared as that string or double; give the mode capture used).\n"
      "Interrupted runs continue with the same flags when --report or --state is given.\n"
      "URIs may be env:VAR or file:PATH (chmod 600). Exit 0 identical, 1 differences remain, 2 usage, 3 error.\n\n"
      "Examples:\n"
      "  docshift verify --source env:SRC --target env:DST --report verify.json\n"
      "  docshift verify --source env:SRC --target env:DST --include 'shop.*' --counts_only\n"
      "  docshift verify --source env:SRC --target env:DST --spool /data/spool --parallel 8\n"
      "  docshift verify --source dynamodb://us-east-1/orders,users --target env:DST \\\n"
      "      --map dynamodb.orders=shop.orders",
      With({"report", "state", "spool", "recheck_rounds", "recheck_timeout", "recheck_delay",
            "counts_only", "strict_order", "max_print", "transforms", "region"}),
      &RunVerifyCmd};
}

Command MakeReconcileCommand() {
  return Command{
      "reconcile",
      "delete target documents the source no longer has (Cosmos DB reports no deletes)",
      "Usage: docshift reconcile --source URI --target URI [--include GLOBS] [--map a=b]\n"
      "                          [--dry_run] [--interval DURATION]\n\n"
      "An Azure Cosmos DB change stream reports no deletes, so documents deleted on the\n"
      "source stay on the target. reconcile compares the _ids of both sides range by range\n"
      "(as verify does), looks each _id found only on the target up on the source again\n"
      "right before deleting it (a document inserted meanwhile is kept), deletes the rest\n"
      "from the target, and prints each one. A document that appears on the source between\n"
      "that check and the delete is copied back. --dry_run lists without deleting.\n"
      "--interval repeats the pass until Ctrl-C (0 = once). Exit 0, 2 usage, 3 error.\n"
      "A dynamodb://REGION/TABLE[,...] source works too (each table read whole by Scan).\n\n"
      "Examples:\n"
      "  docshift reconcile --source env:COSMOS --target env:DST --dry_run\n"
      "  docshift reconcile --source env:COSMOS --target env:DST --include 'shop.*' --interval 10m",
      With({"dry_run", "interval"}),
      &RunReconcileCmd};
}

}  // namespace docshift::cli
