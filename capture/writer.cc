#include "capture/writer.h"

#include <glog/logging.h>

#include <atomic>
#include <chrono>
#include <sstream>
#include <thread>

#include "status/reporter.h"
#include "util/cpu_time.h"
#include "util/duration.h"
#include "util/service_notify.h"

namespace docshift::capture {

using Clock = std::chrono::steady_clock;

Status RunWriter(const CaptureOptions& opts, spool::SpoolWriter* writer, ChangeSource* source,
                 SourceContext* ctx) {
  const auto run_started = Clock::now();
  ItemQueue& queue = *ctx->queue;
  const bool resuming = !writer->resume_state().resume_token.empty();

  // What the status file and the metrics report: written by this thread, read by the
  // reporter's thread about once a second.
  struct {
    std::atomic<uint64_t> events_total{0}, durable_seq{0}, cluster_time{0}, segments{0}, spool_bytes{0};
    std::atomic<int64_t> source_ms{0}, capture_ms{0};
    std::atomic<bool> ready{false};          // every reader's starting position is durable
    std::atomic<bool> batch_pending{false};  // events read but not yet durable
    std::atomic<int> caught_up_at_exit{-1};  // frozen before the readers stop
  } progress;
  progress.durable_seq = writer->resume_state().next_seq - 1;
  // A reader counts as caught up for this long after its last empty read: longer than any
  // legitimate wait between two reads (a change stream's 500 ms, the oplog's await), short
  // enough that a stalled connection shows as lag, not as "caught up".
  const int64_t fresh_ms = std::max<int64_t>(10'000, 2 * opts.oplog_max_await_ms + 2'000);
  auto caught_up_now = [&] {
    return progress.ready && queue.Empty() && !progress.batch_pending &&
           ctx->AllCaughtUp(SteadyMs(), fresh_ms);
  };
  // Lag: 0 when caught up, else now - source time of the newest event read (never 0 while
  // nothing arrives from a source that has not said it is caught up); -1: no event yet.
  auto lag_seconds = [&](int64_t now_ms, bool caught_up) -> double {
    if (caught_up) return 0.0;
    const int64_t source_ms = progress.source_ms;
    return source_ms == 0 ? -1.0 : std::max<int64_t>(0, now_ms - source_ms) / 1000.0;
  };
  status::ReporterOptions ro;
  ro.spool_dir = opts.spool_dir;
  ro.process = "capture";
  ro.http_host = opts.http_host;
  ro.metrics_port = opts.metrics_port;
  ro.interval_ms = opts.status_interval_ms;
  status::StatusReporter reporter(ro, [&](int64_t now, pb::ProcessStatus* st) {
    st->set_events_total(progress.events_total);
    st->set_seq(progress.durable_seq);
    st->set_last_cluster_time(progress.cluster_time);
    st->set_last_source_wall_ms(progress.source_ms);
    st->set_last_capture_wall_ms(progress.capture_ms);
    st->set_segments(progress.segments);
    st->set_spool_bytes(progress.spool_bytes);
    const int frozen = progress.caught_up_at_exit;
    const bool caught_up = frozen >= 0 ? frozen == 1 : caught_up_now();
    st->set_caught_up(caught_up);
    st->set_lag_seconds(std::max(0.0, lag_seconds(now, caught_up)));
  });
  auto publish_spool_figures = [&] {
    uint64_t bytes = writer->open_segment_bytes();
    for (const auto& m : writer->manifest().segments) bytes += m.file_bytes();
    progress.segments = writer->manifest().segments.size() + (writer->open_segment_bytes() > 0 ? 1 : 0);
    progress.spool_bytes = bytes;
  };
  publish_spool_figures();
  RETURN_IF_ERROR(reporter.Start());
  ctx->reporter = &reporter;

  Status status = source->Start(writer->resume_state().resume_token);
  if (!status.ok()) {
    ctx->stopping = true;
    queue.Close();
    source->Stop();
    ctx->reporter = nullptr;
    reporter.Stop();
    return status;
  }

  pb::ChangeBatch batch;
  uint64_t batch_bytes = 0;
  auto batch_started = Clock::now();
  // A new spool writes its starting position at once (before "ready").
  bool token_dirty = !resuming && source->InitialPositionPending();
  auto last_token_write = Clock::now();
  auto last_progress = Clock::now();
  auto last_prune = Clock::now();
  auto last_spool_figures = Clock::now();
  uint64_t events_total = 0, events_at_progress = 0, filtered_total = 0;
  int64_t last_event_capture_ms = 0;
  int64_t last_event_source_ms = 0;
  const int expected_ready = source->ExpectedReady();
  bool logged_ready = false;

  auto flush = [&](bool token_only_ok) -> Status {
    if (batch.events_size() == 0 && !(token_only_ok && token_dirty)) return Status::OK();
    batch.set_resume_token(source->EncodePosition());
    batch.set_resume_cluster_time(source->PositionClusterTime());
    batch.set_written_wall_ms(NowMs());
    // A full disk stops writing until space returns; the writer has cut any partial record.
    for (int attempt = 0;; ++attempt) {
      Status s = writer->Append(&batch);
      if (s.ok()) break;
      if (!s.IsIOError() || s.message().find("No space left") == std::string::npos) return s;
      if (attempt == 0) LOG(ERROR) << "capture: spool disk is full (" << s.message() << "); waiting for space";
      reporter.NoteError("spool disk is full (" + s.message() + "); waiting for space");
      WatchdogPing();  // waiting for space is work going on, not a hang
      if (ctx->SleepUnlessStopped(1000)) return s;
    }
    RETURN_IF_ERROR(writer->Sync());  // group commit: the batch and its position are now durable
    events_total += static_cast<uint64_t>(batch.events_size());
    progress.events_total = events_total;
    progress.durable_seq = writer->resume_state().next_seq - 1;
    progress.cluster_time = source->PositionClusterTime();
    progress.source_ms = last_event_source_ms;
    progress.capture_ms = last_event_capture_ms;
    progress.batch_pending = false;
    batch.Clear();
    batch_bytes = 0;
    token_dirty = false;
    last_token_write = Clock::now();
    return writer->MaybeRoll(NowMs());
  };

  while (!ctx->Stopped()) {
    WatchdogPing();  // this loop turns at least every 20 ms while capture works
    SourceItem item;
    const bool got = queue.Pop(&item, std::chrono::milliseconds(20));
    if (got) {
      source->Advance(item);
      token_dirty = true;
      // The namespace filter, applied here once for every kind of source (a deployment or
      // database stream brings every namespace; its server-side $match is only a
      // superset). A dropped event still moves the position on.
      if (item.has_event && !EventSelected(opts.namespaces, item.event)) {
        item.has_event = false;
        ++filtered_total;
      }
      if (item.has_event) {
        if (batch.events_size() == 0) batch_started = Clock::now();
        last_event_capture_ms = item.event.capture_wall_ms();
        last_event_source_ms = item.event.wall_time_ms() != 0
                                   ? item.event.wall_time_ms()
                                   : static_cast<int64_t>(item.event.cluster_time() >> 32) * 1000;
        progress.batch_pending = true;
        batch_bytes += item.event.ByteSizeLong();
        *batch.add_events() = std::move(item.event);
      }
    }
    // Readers queue their starting position before counting themselves ready, so once
    // all are counted and the queue is drained, every starting position is in hand.
    if (!logged_ready && ctx->ready.load() >= expected_ready && queue.Empty()) {
      // The starting positions the readers queued must be durable first.
      if (token_dirty && batch.events_size() == 0) {
        status = flush(true);
        if (!status.ok()) break;
      }
      if (!token_dirty) {
        logged_ready = true;
        progress.ready = true;
        LOG(INFO) << "capture: ready: " << expected_ready << " source stream(s) open, capturing";
        NotifyReady("capture: ready: " + std::to_string(expected_ready) + " source stream(s) open, capturing");
      }
    }
    const auto now = Clock::now();
    const bool full = batch.events_size() >= opts.batch_max_events || batch_bytes >= opts.batch_max_bytes;
    // Or sooner, when the readers have gone quiet (nothing queued for the 20 ms Pop
    // waited): under load the queue stays busy and batches fill up to the window; at low
    // rates an event need not wait out the window (issue #6: end-to-end lag).
    const bool old = batch.events_size() > 0 &&
                     (!got || now - batch_started >= std::chrono::milliseconds(opts.batch_max_ms));
    // An idle stream's advancing position is written at most every few seconds.
    const bool token_due = token_dirty && now - last_token_write >= std::chrono::seconds(5);
    if (full || old || token_due) {
      status = flush(true);
      if (!status.ok()) break;
    } else if (!got) {
      status = writer->MaybeRoll(NowMs());
      if (!status.ok()) break;
    }
    source->Tick();
    if (opts.retention_ms >= 0 && now - last_prune >= std::chrono::seconds(60)) {
      // Never holds capture up for long: an apply deciding its start holds prune.lock.
      auto r = writer->Prune(opts.retention_ms, NowMs(), /*lock_timeout_ms=*/2000);
      if (!r.ok() && r.status().IsBusy()) {
        LOG(INFO) << "capture: retention skipped this minute: " << r.status().message();
      } else if (!r.ok()) {
        LOG(WARNING) << "capture: retention: " << r.status().ToString();
        reporter.NoteError("retention: " + r.status().ToString());
      } else if (r->segments_deleted > 0) {
        LOG(INFO) << "capture: retention deleted " << r->segments_deleted << " applied segments";
      }
      last_prune = now;
    }
    if (now - last_spool_figures >= std::chrono::seconds(1)) {
      publish_spool_figures();
      last_spool_figures = now;
    }
    if (now - last_progress >= std::chrono::milliseconds(opts.progress_interval_ms)) {
      const double secs = std::chrono::duration<double>(now - last_progress).count();
      const double lag = lag_seconds(NowMs(), caught_up_now());
      std::ostringstream line;
      line << "capture: " << static_cast<uint64_t>((events_total - events_at_progress) / secs)
           << " events/s, " << events_total << " events this run, next seq " << writer->next_seq()
           << ", source time " << (source->PositionClusterTime() >> 32) << ", lag "
           << (lag < 0 ? std::string("unknown (no event yet)") : std::to_string(lag) + " s")
           << ", " << source->StreamCount() << " stream(s)"
           << (filtered_total > 0 ? ", " + std::to_string(filtered_total) + " events filtered out" : "");
      LOG(INFO) << line.str();
      NotifyStatus(line.str());
      events_at_progress = events_total;
      last_progress = now;
    }
  }
  // Stop the readers, write what was read, seal.
  progress.caught_up_at_exit = caught_up_now() ? 1 : 0;
  ctx->stopping = true;
  queue.Close();
  if (!source->Stop()) ctx->readers_left_running = true;
  if (status.ok() || !status.IsIOError()) {
    Status fs = flush(true);
    if (status.ok()) status = fs;
    Status cs = writer->Close(NowMs());
    if (status.ok()) status = cs;
  }
  {
    std::lock_guard<std::mutex> l(ctx->mu);
    if (status.ok()) status = ctx->fatal;
  }
  progress.durable_seq = writer->resume_state().next_seq - 1;
  publish_spool_figures();
  if (!status.ok()) reporter.NoteError(status.ToString());
  ctx->reporter = nullptr;
  reporter.Stop();
  LOG(INFO) << "capture: stopped; " << events_total << " events this run, next seq " << writer->next_seq() << "; "
            << CpuSummary(ProcessCpuTimes(),
                          std::chrono::duration<double>(Clock::now() - run_started).count(), events_total);
  return status;
}

}  // namespace docshift::capture
