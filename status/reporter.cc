#include "status/reporter.h"

#include <glog/logging.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "spool/checkpoint.h"
#include "spool/format.h"
#include "status/lag_histogram.h"
#include "status/status.h"
#include "util/duration.h"

#ifndef DOCSHIFT_VERSION
#define DOCSHIFT_VERSION "dev"
#endif

namespace docshift::status {
namespace {

// Prometheus label value: backslash, double quote and newline escaped.
std::string LabelValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string Number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

// A histogram bound as a label value, to 4 significant digits ("0.001585").
std::string Bound(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.4g", v);
  return buf;
}

// Builds the exposition text: one HELP/TYPE header per metric, then its samples.
class Exposition {
 public:
  void Metric(const std::string& name, const char* type, const char* help) {
    text_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void Sample(const std::string& name, double value, const std::string& labels = "") {
    text_ += name + (labels.empty() ? "" : "{" + labels + "}") + " " + Number(value) + "\n";
  }
  void One(const std::string& name, const char* type, const char* help, double value) {
    Metric(name, type, help);
    Sample(name, value);
  }
  std::string Take() { return std::move(text_); }

 private:
  std::string text_;
};

}  // namespace

std::string ProcessStatusPath(const std::string& spool_dir, const std::string& process,
                              const std::string& name) {
  const std::string file = process == "apply" ? "apply-" + name + ".status" : process + ".status";
  return JoinPath(JoinPath(spool_dir, spool::kStatusDir), file);
}

Status ReadProcessStatus(Env* env, const std::string& path, pb::ProcessStatus* st) {
  return spool::ReadStateFile(env, path, spool::kStatusMagic, spool::kRecordProcessStatus, st);
}

std::string RenderMetrics(const pb::ProcessStatus& st) {
  Exposition m;
  const std::string p = "docshift_" + st.process() + "_";
  m.One(p + "start_time_seconds", "gauge", "When this process started, seconds since the epoch.",
        static_cast<double>(st.started_wall_ms()) / 1000);
  m.One(p + "heartbeat_time_seconds", "gauge", "When these figures were taken, seconds since the epoch.",
        static_cast<double>(st.heartbeat_wall_ms()) / 1000);
  m.One(p + "events_total", "counter",
        st.process() == "capture" ? "Change events captured and made durable in the spool by this process."
                                  : "Change events applied to the target by this process.",
        static_cast<double>(st.events_total()));
  m.One(p + "events_per_second", "gauge", "Events per second over the last status interval.",
        st.events_per_second());
  m.One(p + "lag_seconds", "gauge",
        st.process() == "capture"
            ? "0 when the last read found nothing newer on the source, else now minus the source time of the newest captured event."
            : "0 when everything read is applied and nothing more is in the spool, else now minus the capture time of the oldest unapplied event.",
        st.lag_seconds());
  m.One(p + "caught_up", "gauge", "1 when the lag is 0 by the definition above.", st.caught_up() ? 1 : 0);
  m.One(p + "last_source_time_seconds", "gauge",
        "Source time of the newest event handled, seconds since the epoch (0: none yet).",
        static_cast<double>(st.last_source_wall_ms()) / 1000);
  m.One(p + "last_error_time_seconds", "gauge", "When the most recent error happened (0: none).",
        static_cast<double>(st.last_error_wall_ms()) / 1000);
  if (st.process() == "capture") {
    m.One("docshift_spool_last_seq", "gauge", "Last durable sequence number in the spool.",
          static_cast<double>(st.seq()));
    m.One("docshift_spool_segments", "gauge", "Live segments in the spool, including the open one.",
          static_cast<double>(st.segments()));
    m.One("docshift_spool_bytes", "gauge", "Bytes of the live segments on disk.",
          static_cast<double>(st.spool_bytes()));
    return m.Take();
  }
  m.One(p + "checkpoint_seq", "gauge", "Durable checkpoint: every event up to it is applied.",
        static_cast<double>(st.seq()));
  m.One(p + "read_seq", "gauge", "Highest sequence number read from the spool.",
        static_cast<double>(st.read_seq()));
  m.One(p + "dead_letters_total", "counter", "Events this process wrote to the dead-letter file.",
        static_cast<double>(st.dead_letters()));
  m.One(p + "throttled_total", "counter",
        "Writes the target pushed back (Cosmos DB 16500, write concern timeouts, ...), each retried, never dead-lettered.",
        static_cast<double>(st.throttled_total()));
  m.One(p + "rate_limit_ops_per_second", "gauge", "--max_ops_per_s: events written per second at most (0: no limit).",
        st.rate_limit_per_s());
  m.One(p + "rate_achieved_ops_per_second", "gauge", "Events written per second since this process started.",
        st.rate_achieved_per_s());
  const std::string ev = p + "namespace_events_total";
  m.Metric(ev, "counter", "Events applied per source namespace by this process.");
  for (const auto& n : st.namespaces()) {
    m.Sample(ev, static_cast<double>(n.events_applied()), "namespace=\"" + LabelValue(n.ns()) + "\"");
  }
  {
    // Exported with every second internal bound (five per decade: 1, 1.58, 2.51, 3.98,
    // 6.31 × 10^n s): the cumulative counts at those bounds are exact.
    const LagSnapshot lag = LagSnapshot::FromProto(st.end_to_end_lag());
    const std::string h = p + "end_to_end_lag_seconds";
    m.Metric(h, "histogram",
             "Per applied event: when its bulk write was acknowledged by the target minus its source time (wall time, else cluster time).");
    uint64_t cumulative = 0;
    for (size_t i = 0; i < lag.counts.size(); ++i) {
      cumulative += lag.counts[i];
      const bool inf = std::isinf(lag.upper_bounds[i]);
      if (!inf && i % 2 != 0) continue;
      m.Sample(h + "_bucket", static_cast<double>(cumulative),
               "le=\"" + (inf ? std::string("+Inf") : Bound(lag.upper_bounds[i])) + "\"");
    }
    if (lag.counts.empty()) m.Sample(h + "_bucket", 0, "le=\"+Inf\"");
    m.Sample(h + "_sum", lag.sum);
    m.Sample(h + "_count", static_cast<double>(lag.count));
  }
  const std::string gap = p + "namespace_gap_seconds";
  m.Metric(gap, "gauge",
           "Per source namespace: 0 when nothing of it is pending, else now minus the capture time of its oldest read but unapplied event.");
  for (const auto& n : st.namespaces()) {
    m.Sample(gap, n.gap_in_seconds(), "namespace=\"" + LabelValue(n.ns()) + "\"");
  }
  return m.Take();
}

StatusReporter::StatusReporter(ReporterOptions opts, Gather gather)
    : opts_(std::move(opts)), gather_(std::move(gather)),
      path_(ProcessStatusPath(opts_.spool_dir, opts_.process, opts_.name)) {}

StatusReporter::~StatusReporter() { Stop(); }

Status StatusReporter::Start() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) == 0) hostname_ = host;
  started_ms_ = NowMs();
  prev_ms_ = started_ms_;
  RETURN_IF_ERROR(opts_.env->CreateDirIfMissing(JoinPath(opts_.spool_dir, spool::kStatusDir)));
  if (opts_.metrics_port != 0) {
    server_ = std::make_unique<MetricsServer>([this] {
      std::lock_guard<std::mutex> l(mu_);
      return metrics_;
    });
    server_->Handle("/progress", [this] {
      auto s = CollectStatus(opts_.env, opts_.spool_dir, NowMs(), opts_.progress_apply_name);
      if (!s.ok()) {
        return MetricsServer::Reply{"503 Service Unavailable", "text/plain; charset=utf-8",
                                    s.status().ToString() + "\n"};
      }
      return MetricsServer::Reply{"200 OK", "application/json", RenderJson(s.value()) + "\n"};
    });
    RETURN_IF_ERROR(server_->Start(opts_.http_host, opts_.metrics_port));
    LOG(INFO) << opts_.process << ": serving http://" << server_->address() << "/metrics and /progress";
    if (!server_->loopback()) {
      LOG(WARNING) << opts_.process << ": the HTTP endpoint " << server_->address()
                   << " is reachable beyond loopback: /metrics and /progress carry no credentials but do "
                   << "show namespace names, positions and host names to anyone who can connect; "
                   << "firewall it, or listen on 127.0.0.1 behind a proxy";
    }
  }
  Report(false);
  started_ = true;
  thread_ = std::thread([this] { Run(); });
  return Status::OK();
}

void StatusReporter::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (started_) Report(true);
  if (server_) server_->Stop();
}

void StatusReporter::NoteError(const std::string& message) {
  std::lock_guard<std::mutex> l(mu_);
  last_error_ = message;
  last_error_ms_ = NowMs();
}

void StatusReporter::Run() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stopping_) {
    cv_.wait_for(l, std::chrono::milliseconds(opts_.interval_ms), [&] { return stopping_; });
    if (stopping_) break;
    l.unlock();
    Report(false);
    l.lock();
  }
}

// Called by one thread at a time: Start, then the reporter thread, then Stop.
void StatusReporter::Report(bool exiting) {
  const int64_t now = NowMs();
  pb::ProcessStatus st;
  gather_(now, &st);
  st.set_process(opts_.process);
  st.set_name(opts_.name);
  st.set_pid(getpid());
  st.set_hostname(hostname_);
  st.set_version(DOCSHIFT_VERSION);
  st.set_started_wall_ms(started_ms_);
  st.set_heartbeat_wall_ms(now);
  st.set_interval_ms(opts_.interval_ms);
  st.set_exited(exiting);
  if (now > prev_ms_ && st.events_total() >= prev_events_) {
    st.set_events_per_second(static_cast<double>(st.events_total() - prev_events_) * 1000.0 /
                             static_cast<double>(now - prev_ms_));
  }
  prev_events_ = st.events_total();
  prev_ms_ = now;
  {
    std::lock_guard<std::mutex> l(mu_);
    st.set_last_error(last_error_);
    st.set_last_error_wall_ms(last_error_ms_);
    metrics_ = RenderMetrics(st);
  }
  Status s = spool::WriteStateFile(opts_.env, path_, spool::kStatusMagic,
                                   spool::kRecordProcessStatus, st);
  if (!s.ok() && !write_failing_) {
    LOG(WARNING) << opts_.process << ": cannot write status file " << path_ << ": " << s.ToString()
                 << " (status only; " << opts_.process << " goes on)";
  }
  write_failing_ = !s.ok();
}

}  // namespace docshift::status
