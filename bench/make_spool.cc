// make_spool: writes a spool of deterministic synthetic change events (bench/synth.h)
// through SpoolWriter, exactly as capture does: Append + Sync per batch, MaybeRoll after
// each sync, Close at the end (which seals the open segment). For the demo script and the
// end-to-end CLI tests.
//
// Run on an existing spool it continues the same synthetic stream from the spool's next
// sequence number (event index = seq - 1), so the result is as if written in one go.
//
// Exit status: 0 success; 1 the spool refused or an I/O error (message on stderr);
// 2 bad command-line arguments.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "bench/strict_flags.h"
#include "bench/synth.h"
#include "capture/convert.h"
#include "mongo/mongo_util.h"
#include "spool/spool.h"
#include "util/duration.h"

DEFINE_string(spool, "", "Spool directory to create or extend (required).");
DEFINE_int64(events, 10000, "Synthetic events to append (0 creates or recovers the spool only).");
DEFINE_int32(batch_events, 100, "Events per batch; each batch is one Append + Sync.");
DEFINE_string(source_id, "synthetic",
              "Source identity the spool is bound to; an existing spool must match.");
DEFINE_string(source_kind, "synthetic", "Source kind recorded when the spool is created.");
DEFINE_bool(nested, false,
            "Nested order-like documents (subdocuments, arrays, mixed types) instead of "
            "~1 KB YCSB rows.");
DEFINE_uint64(segment_max_bytes, 64ull << 20, "Seal the open segment once it reaches this size.");
DEFINE_int32(zstd_level, 1, "zstd level of batch compression.");
DEFINE_uint64(seed, 1, "Seed of the synthetic stream; same seed, same bytes.");
DEFINE_int64(start_unix_s, 1'700'000'000,
             "Source time of event 0 in seconds since the epoch (events are 1 ms apart); "
             "0 means now.");
DEFINE_bool(update_lookup, false, "Updates also carry a full_document (updateLookup).");
DEFINE_int32(insert_pct, 45, "Percent of events drawn as inserts (the four must sum to 100).");
DEFINE_int32(update_pct, 30, "Percent of events drawn as updates.");
DEFINE_int32(replace_pct, 10, "Percent of events drawn as replaces.");
DEFINE_int32(delete_pct, 15, "Percent of events drawn as deletes.");
DEFINE_string(include, "", "Record this namespace filter in a new spool, as capture --include does "
              "(comma-separated globs; the events are not filtered: a test's spool of events "
              "outside its own filter).");
DEFINE_string(exclude, "", "Recorded with --include, as capture --exclude does.");
DEFINE_bool(single_namespace, false, "Every document in one namespace (the hot-collection case).");
DEFINE_string(events_json, "",
              "Then append source events from this file, one Extended JSON document a line: "
              "a change stream event (it has operationType) or an oplog entry, converted "
              "as capture converts them, one batch per line (for DDL tests).");
DEFINE_bool(start_position, false, "Then append one batch with no events, only a resume token, as "
                                    "capture does when it records its start position: a spool a "
                                    "snapshot accepts, for tests of sources whose capture is not "
                                    "there yet.");
DEFINE_bool(leave_open, false, "Sync but do not seal the last segment at the end, as a capture "
                               "that was killed would leave it (for tests).");

namespace docshift::bench {
namespace {

constexpr const char* kUsage =
    "make_spool --spool DIR [--events N] [--batch_events K] [--source_id S] [--nested]\n"
    "           [--segment_max_bytes B] [--seed N] [--start_unix_s T]\n"
    "           [--insert_pct 45 --update_pct 30 --replace_pct 10 --delete_pct 15]\n"
    "           [--single_namespace] [--events_json FILE] [--include GLOBS] [--exclude GLOBS]\n"
    "           [--start_position]\n"
    "Writes (or extends) a spool of deterministic synthetic change events.";

// --events_json: each line through capture's conversion, one batch per line.
Status AppendJsonEvents(spool::SpoolWriter* writer, const std::string& path, std::array<uint64_t, 16>* ops) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("--events_json " + path + ": cannot open the file");
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = "--events_json " + path + " line " + std::to_string(n);
    bson_error_t err;
    mongo::BsonPtr doc(bson_new_from_json(reinterpret_cast<const uint8_t*>(line.data()),
                                          static_cast<ssize_t>(line.size()), &err));
    if (!doc) return Status::InvalidArgument(where + ": not Extended JSON: " + err.message);
    pb::ChangeBatch batch;
    batch.set_first_seq(writer->next_seq());
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc.get(), "operationType")) {
      capture::ConvertContext ctx;
      Status s = capture::ConvertChangeEvent(doc.get(), &ctx, batch.add_events());
      if (!s.ok()) return Status::InvalidArgument(where + ": " + s.message());
    } else {
      std::vector<pb::ChangeEvent> evs;
      uint32_t t = 0, i = 0;
      Status s = capture::ConvertOplogEntry(doc.get(), capture::OplogOptions{}, &evs, &t, &i);
      if (!s.ok()) return Status::InvalidArgument(where + ": " + s.message());
      for (auto& e : evs) *batch.add_events() = std::move(e);
    }
    if (batch.events_size() == 0) continue;
    const pb::ChangeEvent& last = batch.events(batch.events_size() - 1);
    batch.set_resume_token(last.resume_token());
    batch.set_resume_cluster_time(last.cluster_time());
    for (const auto& e : batch.events()) (*ops)[static_cast<size_t>(e.op()) % ops->size()]++;
    RETURN_IF_ERROR(writer->Append(&batch));
    RETURN_IF_ERROR(writer->Sync());
  }
  return Status::OK();
}

struct Options {
  spool::SpoolWriterOptions writer;
  SynthConfig synth;
  int64_t events = 0;
  int batch_events = 0;
  pb::NamespaceFilterSpec filter;  // recorded when --include or --exclude is given
};

Status Run(const Options& opts) {
  const auto start = std::chrono::steady_clock::now();
  // SpoolWriter creates only the last path component; create the parents for convenience.
  std::error_code ec;
  std::filesystem::create_directories(opts.writer.dir, ec);
  if (ec) return Status::IOError("create directory " + opts.writer.dir + ": " + ec.message());

  spool::RecoveryReport report;
  ASSIGN_OR_RETURN(auto writer, spool::SpoolWriter::Open(opts.writer, &report));
  const uint64_t first_seq = writer->next_seq();
  const uint64_t first_event = first_seq - 1;
  if (opts.events > 0) {
    pb::ChangeEvent probe;
    MakeEvent(opts.synth, first_event, &probe);
    const uint64_t durable_ct = writer->resume_state().resume_cluster_time;
    if (durable_ct != 0 && probe.cluster_time() <= durable_ct) {
      return Status::InvalidArgument(
          "spool " + opts.writer.dir + " already holds events up to cluster time " +
          std::to_string(durable_ct >> 32) + "." + std::to_string(durable_ct & 0xffffffff) +
          "; --start_unix_s would make time go backwards (use the value the spool was "
          "written with, or 0 for now)");
    }
  }

  std::array<uint64_t, 16> ops{};
  uint64_t raw_bytes = 0, batches = 0;
  pb::ChangeBatch batch;
  for (int64_t done = 0; done < opts.events;) {
    const int n = static_cast<int>(std::min<int64_t>(opts.batch_events, opts.events - done));
    FillBatch(opts.synth, first_event + static_cast<uint64_t>(done), n, &batch);
    for (const auto& e : batch.events()) ops[static_cast<size_t>(e.op()) % ops.size()]++;
    raw_bytes += batch.ByteSizeLong();
    RETURN_IF_ERROR(writer->Append(&batch));
    RETURN_IF_ERROR(writer->Sync());
    RETURN_IF_ERROR(writer->MaybeRoll(NowMs()));
    done += n;
    ++batches;
  }
  if (!FLAGS_events_json.empty()) RETURN_IF_ERROR(AppendJsonEvents(writer.get(), FLAGS_events_json, &ops));
  if (FLAGS_start_position) {
    pb::ChangeBatch start;
    mongo::BsonPtr token(BCON_NEW("make_spool", BCON_UTF8("start position")));
    start.set_resume_token(mongo::Bytes(token.get()));
    RETURN_IF_ERROR(writer->Append(&start));
    RETURN_IF_ERROR(writer->Sync());
  }
  if (FLAGS_leave_open) {
    RETURN_IF_ERROR(writer->Sync());
  } else {
    RETURN_IF_ERROR(writer->Close(NowMs()));
  }

  const auto& segs = writer->manifest().segments;
  uint64_t file_bytes = 0, total_raw = 0;
  for (const auto& s : segs) {
    file_bytes += s.file_bytes();
    total_raw += s.raw_bytes();
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string mix;
  for (size_t op = 0; op < ops.size(); ++op) {
    if (ops[op] == 0) continue;
    if (!mix.empty()) mix += ' ';
    mix += OpName(static_cast<pb::OpType>(op));
    mix += '=';
    mix += std::to_string(ops[op]);
  }
  const uint64_t last_seq = writer->next_seq() - 1;
  const std::string range = opts.events == 0 ? "none"
                                             : "seq " + std::to_string(first_seq) + ".." +
                                                   std::to_string(last_seq);
  std::printf(
      "make_spool: appended %lld events (%s) in %llu batches, %.1f MB raw "
      "[%s] to %s in %.2f s; spool now seq 1..%llu in %zu sealed segments, %.1f MB raw, "
      "%.1f MB on disk (%.2fx); recovery: %s\n",
      static_cast<long long>(opts.events), range.c_str(), static_cast<unsigned long long>(batches),
      raw_bytes / 1e6, mix.empty() ? "none" : mix.c_str(), opts.writer.dir.c_str(), secs,
      static_cast<unsigned long long>(last_seq), segs.size(), total_raw / 1e6,
      file_bytes / 1e6, file_bytes ? static_cast<double>(total_raw) / file_bytes : 0.0,
      report.ToString().c_str());
  return Status::OK();
}

// Flags → Options; an empty string when they make sense, else what is wrong.
std::string BuildOptions(Options* opts) {
  if (FLAGS_spool.empty()) return "--spool is required (the spool directory to write)";
  if (FLAGS_events < 0) return "--events must be >= 0";
  if (FLAGS_batch_events < 1 || FLAGS_batch_events > 100'000) {
    return "--batch_events must be in [1, 100000]";
  }
  if (FLAGS_segment_max_bytes < 4096) return "--segment_max_bytes must be >= 4096";
  if (FLAGS_zstd_level < -7 || FLAGS_zstd_level > 22) return "--zstd_level must be in [-7, 22]";
  if (FLAGS_source_id.empty()) return "--source_id must not be empty";
  if (FLAGS_start_unix_s < 0) return "--start_unix_s must be >= 0";
  opts->writer.dir = FLAGS_spool;
  if (!FLAGS_include.empty() || !FLAGS_exclude.empty()) {
    auto add = [](const std::string& list, auto* out) {
      size_t b = 0;
      while (b <= list.size()) {
        const size_t e = std::min(list.find(',', b), list.size());
        if (e > b) out->Add(list.substr(b, e - b));
        b = e + 1;
      }
    };
    add(FLAGS_include, opts->filter.mutable_include());
    add(FLAGS_exclude, opts->filter.mutable_exclude());
    std::sort(opts->filter.mutable_include()->begin(), opts->filter.mutable_include()->end());
    std::sort(opts->filter.mutable_exclude()->begin(), opts->filter.mutable_exclude()->end());
    opts->writer.namespace_filter = &opts->filter;
  }
  opts->writer.source_id = FLAGS_source_id;
  opts->writer.source_kind = FLAGS_source_kind;
  opts->writer.segment_max_bytes = FLAGS_segment_max_bytes;
  opts->writer.zstd_level = FLAGS_zstd_level;
  opts->synth.seed = FLAGS_seed;
  opts->synth.shape = FLAGS_nested ? DocShape::kNested : DocShape::kYcsb;
  opts->synth.update_lookup = FLAGS_update_lookup;
  opts->synth.insert_pct = FLAGS_insert_pct;
  opts->synth.update_pct = FLAGS_update_pct;
  opts->synth.replace_pct = FLAGS_replace_pct;
  opts->synth.delete_pct = FLAGS_delete_pct;
  opts->synth.single_namespace = FLAGS_single_namespace;
  opts->synth.start_unix_s = FLAGS_start_unix_s != 0 ? FLAGS_start_unix_s : NowMs() / 1000;
  opts->events = FLAGS_events;
  opts->batch_events = FLAGS_batch_events;
  return ValidateSynthConfig(opts->synth);
}

}  // namespace
}  // namespace docshift::bench

int main(int argc, char** argv) {
  using namespace docshift::bench;
  if (const int rc = ParseFlagsOrExitCode(argc, argv, "make_spool", kUsage, "make_spool.cc"); rc >= 0) return rc;
  std::string error;
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  Options opts;
  error = BuildOptions(&opts);
  if (!error.empty()) {
    std::fprintf(stderr, "make_spool: %s\n", error.c_str());
    return 2;
  }
  docshift::Status s = Run(opts);
  if (!s.ok()) {
    std::fprintf(stderr, "make_spool: %s\n", s.ToString().c_str());
    return s.IsInvalidArgument() ? 2 : 1;
  }
  return 0;
}
