// StatusReporter: how a running capture or apply reports on itself.
//
// Every interval (1 s) a background thread asks the owner for its figures (Gather), adds
// identity and heartbeat (pid, host, start time, now), derives events/s over the last
// interval, writes status/capture.status or status/apply-<name>.status in the spool
// (a framed ProcessStatus, replaced atomically), and refreshes what the optional metrics
// endpoint serves. The owner's hot path is untouched: Gather reads only thread-safe
// state (atomics, mutex-guarded counters). Status files are advisory: a failed write is
// logged once per episode and never stops the process.
//
// Lifetime: Stop() (or the destructor) writes a last status with exited = true and joins
// the thread; everything Gather reads must outlive the reporter or Stop() must come first.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "proto/spool.pb.h"
#include "status/metrics_http.h"
#include "util/env.h"
#include "util/status.h"

namespace docshift::status {

// status/capture.status (process "capture") or status/apply-<name>.status ("apply").
std::string ProcessStatusPath(const std::string& spool_dir, const std::string& process,
                              const std::string& name);
// NotFound if absent; Corruption naming the file if damaged.
Status ReadProcessStatus(Env* env, const std::string& path, pb::ProcessStatus* st);

// The Prometheus text exposition of one process's status: docshift_capture_* (and
// docshift_spool_*) for capture, docshift_apply_* for apply. No credentials: only the
// figures of ProcessStatus.
std::string RenderMetrics(const pb::ProcessStatus& st);

struct ReporterOptions {
  Env* env = Env::Default();
  std::string spool_dir;
  std::string process;  // "capture" | "apply"
  std::string name;     // apply name
  // The HTTP endpoint (--http_listen HOST:PORT, or --metrics_port PORT on 127.0.0.1):
  // GET /metrics (RenderMetrics) and GET /progress (`docshift status --json` of this
  // spool, computed per request, for the apply named progress_apply_name). Port 0 = none.
  // A host beyond loopback is logged as a warning.
  std::string http_host = "127.0.0.1";
  int metrics_port = 0;
  std::string progress_apply_name = "apply";
  int64_t interval_ms = 1000;
};

class StatusReporter {
 public:
  // Fills the owner's figures: events_total, seq, lag_seconds, caught_up, ... Runs on the
  // reporter's thread; now_ms is the heartbeat time.
  using Gather = std::function<void(int64_t now_ms, pb::ProcessStatus* st)>;

  StatusReporter(ReporterOptions opts, Gather gather);
  ~StatusReporter();

  // Creates status/, writes the first status and starts the thread and the metrics
  // endpoint. IOError if the metrics port cannot be opened (the message names it).
  Status Start();
  // Writes the final status (exited = true) and stops. Idempotent.
  void Stop();
  // The most recent error, for last_error. Thread safe. Must hold no credentials.
  void NoteError(const std::string& message);
  int metrics_port() const { return server_ ? server_->port() : 0; }

 private:
  void Run();
  void Report(bool exiting);

  const ReporterOptions opts_;
  const Gather gather_;
  const std::string path_;
  std::string hostname_;
  int64_t started_ms_ = 0;
  std::unique_ptr<MetricsServer> server_;
  std::thread thread_;
  std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  bool stopping_ = false;
  bool started_ = false;
  std::string last_error_;
  int64_t last_error_ms_ = 0;
  uint64_t prev_events_ = 0;
  int64_t prev_ms_ = 0;
  bool write_failing_ = false;
  std::string metrics_;  // what /metrics serves
};

}  // namespace docshift::status
