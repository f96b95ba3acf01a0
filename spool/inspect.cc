#include "spool/inspect.h"

#include <bson/bson.h>
#include <fnmatch.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>

#include "proto/spool.pb.h"
#include "spool/checkpoint.h"
#include "spool/dead_letter.h"
#include "spool/spool.h"
#include "util/duration.h"

namespace docshift::spool {
namespace {

constexpr const char* kOpNames[] = {"unknown", "insert",     "update",       "replace",
                                    "delete",  "drop",       "rename",       "dropDatabase",
                                    "create",  "createIndexes", "dropIndexes", "invalidate",
                                    "noop"};
constexpr int kOpCount = sizeof(kOpNames) / sizeof(kOpNames[0]);

std::string Ns(const pb::ChangeEvent& e) { return e.coll().empty() ? e.db() : e.db() + "." + e.coll(); }

// Source time of an event in ms: cluster time seconds, else source wall time, else the
// time capture received it.
int64_t EventTimeMs(const pb::ChangeEvent& e) {
  if (e.cluster_time() != 0) return static_cast<int64_t>(e.cluster_time() >> 32) * 1000;
  if (e.wall_time_ms() != 0) return e.wall_time_ms();
  return e.capture_wall_ms();
}

std::string FormatClusterTime(uint64_t ct) {
  if (ct == 0) return "-";
  return FormatTimeMs(static_cast<int64_t>(ct >> 32) * 1000) + "#" +
         std::to_string(ct & 0xffffffffu);
}

std::string HumanBytes(uint64_t b) {
  char buf[32];
  if (b < 1024) {
    std::snprintf(buf, sizeof(buf), "%" PRIu64 " B", b);
  } else if (b < (1u << 20)) {
    std::snprintf(buf, sizeof(buf), "%.1f KiB", b / 1024.0);
  } else if (b < (1u << 30)) {
    std::snprintf(buf, sizeof(buf), "%.1f MiB", b / 1048576.0);
  } else {
    std::snprintf(buf, sizeof(buf), "%.2f GiB", b / 1073741824.0);
  }
  return buf;
}

std::string Ratio(uint64_t raw, uint64_t compressed) {
  if (compressed == 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2fx", static_cast<double>(raw) / compressed);
  return buf;
}

// Relaxed Extended JSON of BSON bytes; a marker string if they are not valid BSON (the
// record's checksum was fine, so these are the bytes the source sent or a capture bug).
std::string BsonToJson(const std::string& bytes) {
  bson_t b;
  if (bytes.empty()) return "{}";
  if (!bson_init_static(&b, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())) {
    return "\"<invalid BSON, " + std::to_string(bytes.size()) + " bytes>\"";
  }
  size_t len = 0;
  char* s = bson_as_relaxed_extended_json(&b, &len);
  if (s == nullptr) return "\"<invalid BSON, " + std::to_string(bytes.size()) + " bytes>\"";
  std::string out(s, len);
  bson_free(s);
  return out;
}


std::string EventJson(uint64_t seq, const pb::ChangeEvent& e) {
  std::string j = "{\"seq\": " + std::to_string(seq) + ", \"ns\": " + JsonString(Ns(e)) +
                  ", \"op\": " + JsonString(OpName(e.op()));
  if (e.cluster_time() != 0) {
    j += ", \"clusterTime\": {\"$timestamp\": {\"t\": " + std::to_string(e.cluster_time() >> 32) +
         ", \"i\": " + std::to_string(e.cluster_time() & 0xffffffffu) + "}}";
  }
  if (e.wall_time_ms() != 0) j += ", \"wallTime\": " + JsonString(FormatTimeMs(e.wall_time_ms()));
  if (e.capture_wall_ms() != 0)
    j += ", \"capturedAt\": " + JsonString(FormatTimeMs(e.capture_wall_ms()));
  if (!e.document_key().empty()) j += ", \"documentKey\": " + BsonToJson(e.document_key());
  if (!e.full_document().empty()) j += ", \"fullDocument\": " + BsonToJson(e.full_document());
  if (!e.update_description().empty())
    j += ", \"updateDescription\": " + BsonToJson(e.update_description());
  if (!e.to_db().empty() || !e.to_coll().empty())
    j += ", \"to\": " + JsonString(e.to_db() + "." + e.to_coll());
  if (!e.lsid().empty()) j += ", \"lsid\": " + BsonToJson(e.lsid());
  if (e.txn_number() != 0) j += ", \"txnNumber\": " + std::to_string(e.txn_number());
  if (!e.ddl().empty()) j += ", \"ddl\": " + BsonToJson(e.ddl());
  if (!e.resume_token().empty()) j += ", \"resumeToken\": " + BsonToJson(e.resume_token());
  // As a JSON string: the bytes are the source's (DynamoDB Streams JSON), not checked here.
  if (!e.source_record().empty()) j += ", \"sourceRecord\": " + JsonString(e.source_record());
  if (!e.conversion_error().empty()) j += ", \"conversionError\": " + JsonString(e.conversion_error());
  return j + "}";
}

class EventFilter {
 public:
  explicit EventFilter(const InspectOptions& o) : o_(o) {
    for (const auto& name : o.ops) ops_.push_back(ParseOpName(name));
  }
  bool Match(uint64_t seq, const pb::ChangeEvent& e) const {
    if (seq < o_.from_seq || seq > o_.until_seq) return false;
    if (!ops_.empty() && std::find(ops_.begin(), ops_.end(), e.op()) == ops_.end()) return false;
    if (o_.from_time_ms != std::numeric_limits<int64_t>::min() ||
        o_.until_time_ms != std::numeric_limits<int64_t>::max()) {
      int64_t t = EventTimeMs(e);
      if (t < o_.from_time_ms || t > o_.until_time_ms) return false;
    }
    if (!o_.ns_globs.empty()) {
      const std::string ns = Ns(e);
      bool any = false;
      for (const auto& g : o_.ns_globs) {
        if (fnmatch(g.c_str(), ns.c_str(), 0) == 0) {
          any = true;
          break;
        }
      }
      if (!any) return false;
    }
    return true;
  }

 private:
  const InspectOptions& o_;
  std::vector<int> ops_;
};

// Calls fn(seq, event) for every event passing the filter, in sequence order, until fn
// returns false.
template <typename Fn>
Status ForEachEvent(Env* env, const InspectOptions& opts, Fn fn) {
  SpoolView view;
  RETURN_IF_ERROR(OpenSpoolView(env, opts.dir, &view));
  SpoolReader::Options ro;
  ro.include_open_segment = true;
  ro.from_seq = std::max<uint64_t>(opts.from_seq, 1);
  SpoolReader reader(env, &view, ro);
  EventFilter filter(opts);
  pb::ChangeBatch batch;
  while (true) {
    Status s = reader.Next(&batch);
    if (s.IsEndOfFile()) return Status::OK();
    RETURN_IF_ERROR(s);
    for (int i = 0; i < batch.events_size(); ++i) {
      const uint64_t seq = batch.first_seq() + static_cast<uint64_t>(i);
      if (seq > opts.until_seq) return Status::OK();
      if (!filter.Match(seq, batch.events(i))) continue;
      if (!fn(seq, batch.events(i))) return Status::OK();
    }
  }
}

}  // namespace

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

int ParseOpName(const std::string& name) {
  for (int i = 0; i < kOpCount; ++i)
    if (name == kOpNames[i]) return i;
  return -1;
}

const char* OpName(int op) { return op >= 0 && op < kOpCount ? kOpNames[op] : "unknown"; }

StatusOr<int64_t> ParseTimeMs(const std::string& text) {
  if (!text.empty() && std::all_of(text.begin(), text.end(), ::isdigit)) {
    auto secs = ParseInt64(text);
    if (text.size() > 12 || !secs.ok()) return Status::InvalidArgument("time '" + text + "' is out of range; give seconds since the epoch or RFC 3339 like 2026-11-22T01:00:00Z");
    return secs.value() * 1000;
  }
  struct tm tm = {};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) {
    return Status::InvalidArgument("time '" + text +
                                   "' is not RFC 3339 UTC (2026-11-22T01:00:00Z) or "
                                   "seconds since the epoch");
  }
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  if (*rest == '.') {
    ++rest;
    int64_t frac = 0, scale = 100;
    while (*rest >= '0' && *rest <= '9') {
      frac += (*rest - '0') * scale;
      scale /= 10;
      ++rest;
    }
    ms += frac;
  }
  if (std::string(rest) != "Z" && std::string(rest) != "") {
    return Status::InvalidArgument("time '" + text + "': only UTC times ending in Z are accepted");
  }
  return ms;
}

std::string FormatTimeMs(int64_t ms) {
  time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

Status InspectSegments(Env* env, const InspectOptions& opts, std::ostream& out) {
  SpoolView view;
  RETURN_IF_ERROR(OpenSpoolView(env, opts.dir, &view));
  char line[512];
  std::snprintf(line, sizeof(line), "%-26s %-7s %-23s %-28s %-28s %10s %11s %11s %7s\n",
                "SEGMENT", "STATE", "SEQUENCE", "FIRST CLUSTER TIME", "LAST CLUSTER TIME",
                "EVENTS", "RAW", "ON DISK", "RATIO");
  out << line;
  uint64_t total_events = 0, total_raw = 0, total_disk = 0;
  for (const auto& seg : view.segments) {
    uint64_t first, last, events, raw, disk, first_ct, last_ct;
    std::string state;
    if (seg.sealed) {
      const auto& m = *seg.manifest_entry;
      first = m.first_seq();
      last = m.last_seq();
      events = m.event_count();
      raw = m.raw_bytes();
      disk = m.file_bytes();
      first_ct = m.first_cluster_time();
      last_ct = m.last_cluster_time();
      state = "sealed";
    } else {
      // Open: scan it (its numbers are not in the manifest yet).
      ASSIGN_OR_RETURN(auto r, SegmentReader::Open(env, seg.path));
      pb::ChangeBatch b;
      Status s;
      while ((s = r->Next(&b)).ok()) {
      }
      if (!s.IsEndOfFile()) return s;
      const SegmentStats& st = r->stats();
      first = st.first_seq;
      last = st.next_seq - 1;
      events = st.event_count;
      raw = st.raw_bytes;
      disk = r->file_size();
      first_ct = st.first_cluster_time;
      last_ct = st.last_cluster_time;
      state = r->stop() == RecordScanner::Stop::kTornTail ? "open*" : "open";
    }
    std::string range = events == 0 ? "-" : std::to_string(first) + ".." + std::to_string(last);
    std::snprintf(line, sizeof(line), "%-26s %-7s %-23s %-28s %-28s %10" PRIu64 " %11s %11s %7s\n",
                  seg.file_name.c_str(), state.c_str(), range.c_str(),
                  FormatClusterTime(first_ct).c_str(), FormatClusterTime(last_ct).c_str(),
                  events, HumanBytes(raw).c_str(), HumanBytes(disk).c_str(),
                  Ratio(raw, disk).c_str());
    out << line;
    total_events += events;
    total_raw += raw;
    total_disk += disk;
  }
  out << view.segments.size() << " segments, " << total_events << " events, "
      << HumanBytes(total_raw) << " raw, " << HumanBytes(total_disk) << " on disk ("
      << Ratio(total_raw, total_disk) << ")\n";
  for (const auto& seg : view.segments) {
    if (!seg.sealed) {
      out << "open* = the open segment ends in an incomplete record (capture is writing, "
             "or crashed; capture truncates it on restart)\n";
      break;
    }
  }
  for (const auto& f : view.unexpected_files)
    out << "warning: unexpected file segments/" << f << " (run `docshift inspect verify`)\n";
  return Status::OK();
}

Status InspectManifest(Env* env, const InspectOptions& opts, std::ostream& out) {
  SpoolView view;
  RETURN_IF_ERROR(OpenSpoolView(env, opts.dir, &view, /*keep_manifest_entries=*/true));
  out << "MANIFEST of " << opts.dir << "\n";
  for (const auto& e : view.manifest.entries) {
    const auto& r = e.record;
    out << "  @" << e.offset << " ";
    if (r.has_created()) {
      const auto& c = r.created();
      out << "created  format=" << c.format_version() << " source_kind=" << c.source_kind()
          << " source_id=" << c.source_id() << " at " << FormatTimeMs(c.created_wall_ms())
          << " filter: "
          << (c.has_namespace_filter() ? DescribeNamespaceFilter(c.namespace_filter())
                                       : std::string("none recorded (apply checks nothing)"));
      if (!c.dynamodb_numbers().empty()) out << " dynamodb_numbers=" << c.dynamodb_numbers();
    } else if (r.has_sealed()) {
      const auto& s = r.sealed();
      char crc[16];
      std::snprintf(crc, sizeof(crc), "%08x", s.file_crc32c());
      out << "sealed   " << s.file_name() << " seq " << s.first_seq() << ".." << s.last_seq()
          << " events=" << s.event_count() << " bytes=" << s.file_bytes()
          << " raw=" << s.raw_bytes() << " crc32c=" << crc
          << " clusterTime " << FormatClusterTime(s.first_cluster_time()) << " .. "
          << FormatClusterTime(s.last_cluster_time()) << " sealed at "
          << FormatTimeMs(s.sealed_wall_ms())
          << " resumeToken=" << BsonToJson(s.last_resume_token());
    } else if (r.has_deleted()) {
      const auto& d = r.deleted();
      out << "deleted  " << d.file_name() << " seq " << d.first_seq() << ".." << d.last_seq()
          << " at " << FormatTimeMs(d.deleted_wall_ms());
    }
    out << "\n";
  }
  if (view.manifest.torn_tail) {
    out << "  @" << view.manifest.valid_end << " torn tail (" << view.manifest.torn_reason
        << "): an append in progress, or cut by a crash; capture truncates it on restart\n";
  }
  out << view.manifest.segments.size() << " live sealed segments, "
      << view.manifest.deleted.size() << " deleted; next sequence after sealed: "
      << view.manifest.next_seq_after_sealed() << "\n";
  out << "CHECKPOINTS\n";
  ASSIGN_OR_RETURN(auto ckpts, ListCheckpoints(env, opts.dir));
  if (ckpts.empty()) out << "  (none: no apply has checkpointed against this spool)\n";
  for (const auto& c : ckpts) {
    out << "  " << c.name << ": applied through seq " << c.ckpt.applied_seq()
        << " clusterTime " << FormatClusterTime(c.ckpt.applied_cluster_time())
        << " events_applied_total=" << c.ckpt.events_applied_total()
        << " target=" << c.ckpt.target_id() << " updated "
        << FormatTimeMs(c.ckpt.updated_wall_ms()) << "\n";
  }
  return Status::OK();
}

Status InspectDump(Env* env, const InspectOptions& opts, std::ostream& out) {
  uint64_t printed = 0;
  if (opts.limit == 0) return Status::OK();
  return ForEachEvent(env, opts, [&](uint64_t seq, const pb::ChangeEvent& e) {
    out << EventJson(seq, e) << "\n";
    return ++printed < opts.limit;
  });
}

Status InspectStats(Env* env, const InspectOptions& opts, std::ostream& out) {
  struct Counts {
    uint64_t total = 0;
    uint64_t by_op[kOpCount] = {};
    uint64_t doc_bytes = 0;
  };
  std::map<std::string, Counts> per_ns;
  Counts all;
  uint64_t first_seq = 0, last_seq = 0;
  RETURN_IF_ERROR(ForEachEvent(env, opts, [&](uint64_t seq, const pb::ChangeEvent& e) {
    const int op = e.op() >= 0 && e.op() < kOpCount ? e.op() : 0;
    const uint64_t bytes =
        e.full_document().size() + e.update_description().size() + e.document_key().size();
    for (Counts* c : {&per_ns[Ns(e)], &all}) {
      c->total++;
      c->by_op[op]++;
      c->doc_bytes += bytes;
    }
    if (first_seq == 0) first_seq = seq;
    last_seq = seq;
    return true;
  }));
  // Only the operation columns that occur.
  std::vector<int> cols;
  for (int op = 0; op < kOpCount; ++op)
    if (all.by_op[op] > 0) cols.push_back(op);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%-40s %10s", "NAMESPACE", "EVENTS");
  out << buf;
  for (int op : cols) {
    std::snprintf(buf, sizeof(buf), " %12s", kOpNames[op]);
    out << buf;
  }
  out << "   BSON BYTES\n";
  auto row = [&](const std::string& name, const Counts& c) {
    std::snprintf(buf, sizeof(buf), "%-40s %10" PRIu64, name.c_str(), c.total);
    out << buf;
    for (int op : cols) {
      std::snprintf(buf, sizeof(buf), " %12" PRIu64, c.by_op[op]);
      out << buf;
    }
    out << "   " << HumanBytes(c.doc_bytes) << "\n";
  };
  for (const auto& [ns, c] : per_ns) row(ns, c);
  row("TOTAL", all);
  if (all.total > 0) out << "sequence range " << first_seq << ".." << last_seq << "\n";
  return Status::OK();
}

StatusOr<uint64_t> InspectDeadLetters(Env* env, const InspectOptions& opts, std::ostream& out) {
  SpoolView view;
  RETURN_IF_ERROR(OpenSpoolView(env, opts.dir, &view));
  const std::string dir = JoinPath(opts.dir, "deadletter");
  uint64_t n = 0;
  if (!env->FileExists(dir)) {
    out << "no dead letters (no apply has recorded any)\n";
    return n;
  }
  ASSIGN_OR_RETURN(auto names, env->GetChildren(dir));
  std::sort(names.begin(), names.end());
  EventFilter filter(opts);
  for (const auto& name : names) {
    if (name.size() < 5 || name.compare(name.size() - 4, 4, ".dlq") != 0) continue;
    const std::string apply_name = name.substr(0, name.size() - 4);
    RETURN_IF_ERROR(ReadDeadLetters(env, JoinPath(dir, name), [&](uint64_t, const pb::DeadLetter& d) {
      if (!filter.Match(d.seq(), d.event()) || n >= opts.limit) return;
      ++n;
      out << "{\"apply\": " << JsonString(apply_name) << ", \"seq\": " << d.seq()
          << ", \"targetNs\": " << JsonString(d.target_ns()) << ", \"code\": " << d.error_code()
          << ", \"error\": " << JsonString(d.error_message())
          << ", \"at\": " << JsonString(FormatTimeMs(d.wall_ms()))
          << ", \"event\": " << EventJson(d.seq(), d.event()) << "}\n";
    }));
  }
  if (n == 0) out << "no dead letters\n";
  return n;
}

StatusOr<int> InspectVerify(Env* env, const InspectOptions& opts, std::ostream& out) {
  int problems = 0;
  Status newer;  // the first file from a newer format version: the verdict is "upgrade"
  auto problem = [&](const std::string& what) {
    ++problems;
    out << "PROBLEM: " << what << "\n";
  };
  auto failed = [&](const Status& st) {
    if (st.IsNotSupported() && newer.ok()) newer = st;
    problem(st.ToString());
  };
  SpoolView view;
  Status s = OpenSpoolView(env, opts.dir, &view);
  if (s.IsNotFound()) return s;
  if (!s.ok()) {
    failed(s);
    out << "cannot check segments without a readable manifest\n";
    if (!newer.ok()) return newer;
    return problems;
  }
  if (view.manifest.torn_tail) {
    out << "note: MANIFEST ends in a torn record at offset " << view.manifest.valid_end << " ("
        << view.manifest.torn_reason << "); an append in progress or a crash, repaired by capture on restart\n";
  }
  uint64_t expect_seq = 0;
  uint64_t events = 0, segments_ok = 0;
  int open_segments = 0;
  for (const auto& seg : view.segments) {
    auto r = SegmentReader::Open(env, seg.path, /*compute_file_crc=*/true);
    if (!r.ok()) {
      failed(r.status());
      continue;
    }
    auto& reader = *r.value();
    if (!reader.has_header()) {
      if (seg.sealed) {
        problem(seg.file_name + ": sealed segment has no complete header (offset 0)");
      } else {
        out << "note: open segment " << seg.file_name << " has no complete header yet\n";
      }
      continue;
    }
    if (expect_seq != 0 && reader.header().first_seq() != expect_seq) {
      problem(seg.file_name + ": starts at sequence " + std::to_string(reader.header().first_seq()) +
              ", the previous segment ended before " + std::to_string(expect_seq));
    }
    if (reader.header().source_id() != view.manifest.created.source_id()) {
      problem(seg.file_name + ": header names source '" + reader.header().source_id() +
              "', the manifest '" + view.manifest.created.source_id() + "'");
    }
    pb::ChangeBatch batch;
    Status n;
    while ((n = reader.Next(&batch)).ok()) {
    }
    if (!n.IsEndOfFile()) {
      problem(n.ToString());
      expect_seq = 0;
      continue;
    }
    const SegmentStats& st = reader.stats();
    events += st.event_count;
    expect_seq = st.next_seq;
    if (seg.sealed) {
      const auto& m = *seg.manifest_entry;
      if (!reader.sealed()) {
        problem(seg.file_name + ": sealed in the manifest but " + reader.stop_reason() +
                " at offset " + std::to_string(reader.stop_offset()));
        continue;
      }
      if (reader.file_size() != m.file_bytes()) {
        problem(seg.file_name + ": file is " + std::to_string(reader.file_size()) +
                " bytes, the manifest says " + std::to_string(m.file_bytes()));
      } else if (reader.file_crc() != m.file_crc32c()) {
        problem(seg.file_name + ": file checksum does not match the manifest");
      }
      if (st.first_seq != m.first_seq() || st.next_seq - 1 != m.last_seq() ||
          st.event_count != m.event_count()) {
        problem(seg.file_name + ": holds seq " + std::to_string(st.first_seq) + ".." +
                std::to_string(st.next_seq - 1) + ", the manifest says " +
                std::to_string(m.first_seq()) + ".." + std::to_string(m.last_seq()));
      }
      segments_ok++;
    } else {
      open_segments++;
      if (reader.sealed()) {
        out << "note: " << seg.file_name
            << " is sealed on disk but not yet in the manifest (a seal in progress, or "
               "interrupted; capture records it on restart)\n";
      } else if (reader.stop() == RecordScanner::Stop::kTornTail) {
        out << "note: open segment " << seg.file_name << " ends in a torn record at offset "
            << reader.stop_offset() << " (" << reader.stop_reason()
            << "); normal while capture writes or after a crash; capture truncates it on restart\n";
      }
    }
  }
  if (open_segments > 1) problem(std::to_string(open_segments) + " unsealed segments; at most one may be open");
  for (const auto& f : view.unexpected_files)
    problem("segments/" + f + " is neither listed in the manifest nor the open segment");
  auto ckpts = ListCheckpoints(env, opts.dir);
  if (!ckpts.ok()) {
    failed(ckpts.status());
  } else {
    for (const auto& c : ckpts.value()) {
      if (c.ckpt.applied_seq() >= expect_seq && expect_seq != 0) {
        problem("checkpoint " + c.name + " claims seq " + std::to_string(c.ckpt.applied_seq()) +
                " applied, beyond the last event in the spool (" + std::to_string(expect_seq - 1) + ")");
      }
    }
  }
  out << "checked " << view.segments.size() << " segments (" << segments_ok
      << " sealed ok), " << events << " events: "
      << (problems == 0 ? "no problems" : std::to_string(problems) + " problem(s)") << "\n";
  if (!newer.ok()) return newer;
  return problems;
}

}  // namespace docshift::spool
