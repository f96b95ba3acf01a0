// Text and JSON views of a MigrationStatus (status.h).
#include <cstdio>
#include <sstream>

#include "spool/inspect.h"
#include "status/lag_histogram.h"
#include "status/status.h"

namespace docshift::status {
namespace {

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

std::string Bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return (u == 0 ? std::to_string(b) : Fixed(v, 1)) + " " + units[u];
}

std::string ClusterTime(uint64_t ct) {
  return std::to_string(ct >> 32) + "." + std::to_string(ct & 0xffffffffu);
}

// ---- JSON ----

std::string Quote(const std::string& s) { return spool::JsonString(s); }

// An object written key by key: {"a": 1, "b": "x"}.
class Json {
 public:
  Json& Raw(const std::string& key, const std::string& value) {
    text_ += (text_.empty() ? "{" : ", ") + Quote(key) + ": " + value;
    return *this;
  }
  Json& Str(const std::string& key, const std::string& v) { return Raw(key, Quote(v)); }
  Json& OptStr(const std::string& key, const std::string& v) { return Raw(key, v.empty() ? "null" : Quote(v)); }
  Json& Int(const std::string& key, uint64_t v) { return Raw(key, std::to_string(v)); }
  Json& Num(const std::string& key, double v) { return Raw(key, Fixed(v, 3)); }
  Json& Bool(const std::string& key, bool v) { return Raw(key, v ? "true" : "false"); }
  // RFC 3339 UTC time, or null for 0 (unknown / never).
  Json& Time(const std::string& key, int64_t ms) {
    return Raw(key, ms == 0 ? "null" : Quote(spool::FormatTimeMs(ms)));
  }
  std::string Done() const { return text_.empty() ? "{}" : text_ + "}"; }

 private:
  std::string text_;
};

std::string Array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out + "]";
}

// The fields both processes report.
Json ProcessJson(const ProcessView& p) {
  Json j;
  j.Bool("alive", p.alive).Bool("status_file", p.present).OptStr("why_not_alive", p.alive ? "" : p.why_not_alive);
  if (p.present) {
    j.Int("pid", static_cast<uint64_t>(p.st.pid())).Str("hostname", p.st.hostname())
        .Time("started", p.st.started_wall_ms()).Time("heartbeat", p.st.heartbeat_wall_ms())
        .Num("heartbeat_age_seconds", p.heartbeat_age_s).Int("events_total", p.st.events_total());
  } else {
    j.Raw("pid", "null").Raw("hostname", "null").Raw("started", "null").Raw("heartbeat", "null")
        .Raw("heartbeat_age_seconds", "null").Int("events_total", 0);
  }
  j.OptStr("last_error", p.st.last_error()).Time("last_error_time", p.st.last_error_wall_ms());
  return j;
}

std::string DetailsJson(const std::vector<NamespaceView>& ns) {
  std::vector<std::string> items;
  for (const auto& n : ns) {
    items.push_back(Json().Str("namespace", n.ns).Int("events_applied", n.events_applied)
                        .Time("last_source_time", n.last_source_ms).Num("time_gap_in_seconds", n.gap_s)
                        .Done());
  }
  return Array(items);
}

// Apply's end-to-end lag this run (status/lag_histogram.h), or null before any event.
std::string LagJson(const ProcessView& p) {
  const LagSnapshot lag = LagSnapshot::FromProto(p.st.end_to_end_lag());
  if (!p.present || lag.count == 0) return "null";
  return Json().Int("count", lag.count).Num("p50_seconds", lag.Percentile(0.5))
      .Num("p90_seconds", lag.Percentile(0.9)).Num("p99_seconds", lag.Percentile(0.99))
      .Num("max_seconds", lag.max).Done();
}

// ---- text ----

std::string Ago(int64_t now_ms, int64_t ms) {
  if (ms == 0) return "never";
  return spool::FormatTimeMs(ms) + " (" + Fixed(static_cast<double>(now_ms - ms) / 1000.0, 1) + " s ago)";
}

std::string Liveness(const ProcessView& p) {
  if (p.alive) return "running (pid " + std::to_string(p.st.pid()) + ")";
  return "STOPPED: " + p.why_not_alive;
}

}  // namespace

std::string RenderJson(const MigrationStatus& s) {
  const ApplyView& a = s.apply;
  Json capture = ProcessJson(s.capture);
  capture.Num("lag_seconds", s.capture_lag_s).Bool("caught_up", s.capture.st.caught_up())
      .Num("events_per_second", s.capture_events_per_s).Int("last_seq", s.capture.st.seq())
      .Time("last_source_time", s.capture.st.last_source_wall_ms());
  Json spool;
  spool.Str("dir", s.spool_dir).Str("source_kind", s.source_kind).Int("last_durable_seq", s.last_durable_seq)
      .Int("segments", s.segments).Int("sealed_segments", s.sealed_segments).Int("bytes", s.spool_bytes)
      .Time("last_event_capture_time", s.last_event_capture_ms)
      .OptStr("last_cluster_time", s.last_cluster_time ? ClusterTime(s.last_cluster_time) : "");
  Json apply = ProcessJson(a.process);
  apply.Str("name", a.name)
      .Raw("checkpoint_seq", a.has_checkpoint ? std::to_string(a.checkpoint_seq) : "null")
      .Time("checkpoint_time", a.checkpoint_updated_ms).Int("events_applied_total", a.events_applied_total)
      .Num("events_per_second", a.events_per_s).Num("gap_in_seconds", a.gap_s)
      .Int("backlog_events", a.backlog_events).Int("backlog_bytes", a.backlog_bytes)
      .Time("oldest_unapplied_capture_time", a.oldest_unapplied_capture_ms)
      .Int("dead_letters", a.dead_letters).Raw("details", DetailsJson(a.namespaces))
      .Raw("end_to_end_lag", LagJson(a.process))
      .Num("rate_limit_ops_per_second", a.process.st.rate_limit_per_s())
      .Num("rate_achieved_ops_per_second", a.process.st.rate_achieved_per_s())
      .Int("throttled_total", a.process.st.throttled_total());
  if (s.slot_count > 0) {
    std::vector<std::string> slots, problems;
    for (size_t i = 0; i < s.slots.size(); ++i) {
      const ApplyView& v = s.slots[i];
      Json j = ProcessJson(v.process);
      slots.push_back(j.Str("name", v.name).Int("slot", i)
                          .Raw("checkpoint_seq", v.has_checkpoint ? std::to_string(v.checkpoint_seq) : "null")
                          .Time("checkpoint_time", v.checkpoint_updated_ms).Int("backlog_events", v.backlog_events)
                          .Int("events_applied_total", v.events_applied_total).Int("dead_letters", v.dead_letters)
                          .Done());
    }
    for (const auto& p : s.slot_problems) problems.push_back(Quote(p));
    apply.Int("slot_count", static_cast<uint64_t>(s.slot_count)).Raw("slots", Array(slots))
        .Raw("slot_problems", Array(problems));
  }
  std::string snapshot = "null";
  if (s.snapshot.present) {
    std::vector<std::string> colls;
    for (const auto& c : s.snapshot.collections) {
      colls.push_back(Json().Str("namespace", c.ns).Int("ranges_done", c.ranges_done)
                          .Int("ranges_total", c.ranges_total).Int("docs_copied", c.docs_copied)
                          .Int("estimated_docs", c.estimated_docs).Done());
    }
    snapshot = Json().Str("id", s.snapshot.snapshot_id).Bool("running", s.snapshot.running)
                   .Time("started", s.snapshot.started_ms).Time("finished", s.snapshot.finished_ms)
                   .Raw("collections", Array(colls))
                   .Num("rate_limit_docs_per_second", s.snapshot.rate_limit_docs_per_s)
                   .Num("rate_achieved_docs_per_second", s.snapshot.rate_achieved_docs_per_s)
                   .Int("throttled_total", s.snapshot.throttled_total)
                   .Raw("workers", !s.snapshot.shared.present ? "null"
                        : Json().Int("ranges_done", s.snapshot.shared.ranges_done)
                              .Int("ranges_total", s.snapshot.shared.ranges_total)
                              .Int("ranges_copying", s.snapshot.shared.ranges_copying)
                              .Int("ranges_stale", s.snapshot.shared.ranges_stale)
                              .Int("workers", s.snapshot.shared.workers)
                              .Int("docs_done", s.snapshot.shared.docs_done)
                              .Int("docs_estimated", s.snapshot.shared.docs_estimated)
                              .Raw("eta_seconds", s.snapshot.shared.eta_s < 0 ? "null" : Fixed(s.snapshot.shared.eta_s, 1)).Str("summary", s.snapshot.shared.line).Done())
                   .Done();
  }
  std::string bucket = "null";
  if (!s.bucket.url.empty()) {
    const BucketView& b = s.bucket;
    bucket = Json().Str("url", b.url).Int("log_records", b.log_number).Int("committed_seq", b.committed_seq)
                 .Int("oldest_seq", b.oldest_seq).OptStr("shipper_writer_id", b.writer_id)
                 .OptStr("shipper_host", b.shipper_host).Int("shipper_pid", static_cast<uint64_t>(b.shipper_pid))
                 .Time("last_commit_time", b.last_commit_ms).Num("last_commit_age_seconds", b.last_commit_age_s)
                 .Num("newest_committed_event_age_seconds", b.newest_committed_age_s)
                 .Int("unshipped_events", b.unshipped_events).Done();
  }
  std::vector<std::string> names, warnings;
  for (const auto& n : s.apply_names) names.push_back(Quote(n));
  for (const auto& w : s.warnings) warnings.push_back(Quote(w));
  return Json().Time("current_time", s.now_ms).Str("state", s.state).Str("state_reason", s.state_reason)
      .Bool("can_cutover", s.can_cutover).OptStr("cutover_blocked_by", s.cutover_blocked_by)
      .Num("gap_in_seconds", a.gap_s).Raw("details", DetailsJson(a.namespaces))
      .Raw("capture", capture.Done()).Raw("spool", spool.Done()).Raw("apply", apply.Done())
      .Raw("apply_names", Array(names)).Raw("snapshot", snapshot).Raw("bucket", bucket).Raw("warnings", Array(warnings))
      .Done();
}

std::string RenderText(const MigrationStatus& s) {
  const ApplyView& a = s.apply;
  std::ostringstream o;
  o << "spool   " << s.spool_dir << " at " << spool::FormatTimeMs(s.now_ms) << "\n"
    << "state   " << s.state << ": " << s.state_reason << "\n\n";
  o << "capture  " << Liveness(s.capture) << "\n";
  if (s.capture.present) {
    o << "         lag " << Fixed(s.capture_lag_s, 1) << " s" << (s.capture.st.caught_up() ? " (caught up)" : "")
      << ", " << Fixed(s.capture_events_per_s, 0) << " events/s, " << s.capture.st.events_total()
      << " events this run, heartbeat " << Fixed(s.capture.heartbeat_age_s, 1) << " s ago\n";
    if (!s.capture.st.last_error().empty()) {
      o << "         last error " << Ago(s.now_ms, s.capture.st.last_error_wall_ms()) << ": "
        << s.capture.st.last_error() << "\n";
    }
  }
  o << "spool    last seq " << s.last_durable_seq << ", " << s.segments << " segments (" << s.sealed_segments
    << " sealed), " << Bytes(s.spool_bytes) << ", last event captured " << Ago(s.now_ms, s.last_event_capture_ms)
    << "\n";
  if (const BucketView& b = s.bucket; !b.url.empty()) {
    o << "bucket   committed up to seq " << b.committed_seq << " (oldest still there " << b.oldest_seq << ", "
      << b.log_number << " log records), last commit " << Ago(s.now_ms, b.last_commit_ms) << ", newest committed event "
      << Fixed(b.newest_committed_age_s, 1) << " s old\n"
      << "         shipper " << (b.writer_id.empty() ? std::string("none") : b.writer_id) << " ("
      << (b.shipper_host.empty() ? std::string("?") : b.shipper_host) << " pid " << b.shipper_pid << ")";
    if (s.capture.present) o << ", " << b.unshipped_events << " events captured but not committed yet";
    o << "\n";
  }
  o << "apply    '" << a.name << "' " << Liveness(a.process) << "\n";
  o << "         checkpoint " << (a.has_checkpoint ? "seq " + std::to_string(a.checkpoint_seq) : std::string("none"))
    << ", lag " << Fixed(a.gap_s, 1) << " s, backlog " << a.backlog_events << " events (" << Bytes(a.backlog_bytes)
    << "), " << Fixed(a.events_per_s, 0) << " events/s, dead letters " << a.dead_letters << "\n";
  if (a.process.present && (a.process.st.rate_limit_per_s() > 0 || a.process.st.throttled_total() > 0)) {
    o << "         load: " << Fixed(a.process.st.rate_achieved_per_s(), 1) << " ops/s since start (limit "
      << (a.process.st.rate_limit_per_s() > 0 ? Fixed(a.process.st.rate_limit_per_s(), 0) : std::string("none"))
      << "), throttled by the target " << a.process.st.throttled_total() << " times (retried)\n";
  }
  if (const LagSnapshot lag = LagSnapshot::FromProto(a.process.st.end_to_end_lag()); a.process.present && lag.count > 0) {
    o << "         end-to-end lag p50 " << Fixed(lag.Percentile(0.5), 3) << " s, p99 " << Fixed(lag.Percentile(0.99), 3)
      << " s, max " << Fixed(lag.max, 3) << " s over " << lag.count << " events this run\n";
  }
  if (!a.process.st.last_error().empty()) {
    o << "         last error " << Ago(s.now_ms, a.process.st.last_error_wall_ms()) << ": "
      << a.process.st.last_error() << "\n";
  }
  for (size_t i = 0; i < s.slots.size(); ++i) {
    const ApplyView& v = s.slots[i];
    o << "         slot " << i << "/" << s.slot_count << " checkpoint "
      << (v.has_checkpoint ? "seq " + std::to_string(v.checkpoint_seq) : std::string("none")) << ", backlog "
      << v.backlog_events << " events, dead letters " << v.dead_letters << ", " << Liveness(v.process) << "\n";
  }
  for (const auto& p : s.slot_problems) o << "         " << p << "\n";
  if (s.apply_names.size() > 1 && s.slot_count == 0) {
    o << "         other applies on this spool:";
    for (const auto& n : s.apply_names)
      if (n != a.name) o << " " << n;
    o << " (see --name)\n";
  }
  if (!a.namespaces.empty()) {
    char line[512];
    std::snprintf(line, sizeof(line), "\n  %-40s %12s  %-24s %8s\n", "namespace", "applied", "last source time", "gap s");
    o << line;
    for (const auto& n : a.namespaces) {
      std::snprintf(line, sizeof(line), "  %-40s %12llu  %-24s %8.1f\n", n.ns.c_str(),
                    static_cast<unsigned long long>(n.events_applied),
                    n.last_source_ms ? spool::FormatTimeMs(n.last_source_ms).c_str() : "-", n.gap_s);
      o << line;
    }
  }
  if (s.snapshot.present) {
    o << "\nsnapshot " << s.snapshot.snapshot_id << (s.snapshot.running ? " running" : " finished ")
      << (s.snapshot.running ? "" : spool::FormatTimeMs(s.snapshot.finished_ms)) << "\n";
    if (s.snapshot.rate_limit_docs_per_s > 0 || s.snapshot.throttled_total > 0) {
      o << "  load: " << Fixed(s.snapshot.rate_achieved_docs_per_s, 1) << " docs/s (limit "
        << (s.snapshot.rate_limit_docs_per_s > 0 ? Fixed(s.snapshot.rate_limit_docs_per_s, 0) : std::string("none"))
        << "), throttled by the target " << s.snapshot.throttled_total << " times (retried)\n";
    }
    if (s.snapshot.shared.present) o << "  by several workers: " << s.snapshot.shared.line << "\n";
    char line[512];
    for (const auto& c : s.snapshot.collections) {
      std::snprintf(line, sizeof(line), "  %-40s ranges %llu/%llu, %llu of ~%llu documents\n", c.ns.c_str(),
                    static_cast<unsigned long long>(c.ranges_done), static_cast<unsigned long long>(c.ranges_total),
                    static_cast<unsigned long long>(c.docs_copied), static_cast<unsigned long long>(c.estimated_docs));
      o << line;
    }
  }
  for (const auto& w : s.warnings) o << "warning: " << w << "\n";
  return o.str();
}

}  // namespace docshift::status
