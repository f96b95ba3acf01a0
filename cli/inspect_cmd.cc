// `docshift inspect`: thin wrapper over spool/inspect.h.
#include <gflags/gflags.h>

#include <iostream>

#include "cli/command.h"
#include "cli/flag_ranges.h"
#include "spool/inspect.h"

DECLARE_string(spool);
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
      "beside a running capture and apply.\n\n"
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
      {"spool", "ns", "op", "from_seq", "until_seq", "from_time", "until_time", "limit"},
      &RunInspect};
}

}  // namespace docshift::cli
