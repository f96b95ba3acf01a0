#include "status/status.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>

#include "spool/checkpoint.h"
#include "spool/dead_letter.h"
#include "spool/format.h"
#include "spool/inspect.h"
#include "spool/segment.h"
#include "spool/slot_name.h"
#include "spool/spool.h"
#include "status/reporter.h"
#include "util/duration.h"

namespace docshift::status {
namespace {

double Seconds(int64_t ms) { return static_cast<double>(std::max<int64_t>(0, ms)) / 1000.0; }

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), std::string::npos, suffix) == 0;
}

bool PidRunning(int64_t pid) {
  if (pid <= 0) return false;
  return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

std::string LocalHostname() {
  char host[256] = {0};
  return gethostname(host, sizeof(host) - 1) == 0 ? std::string(host) : std::string();
}

// Reads one status file and judges whether its process is alive.
ProcessView ReadProcess(Env* env, const std::string& path, int64_t now_ms,
                        std::vector<std::string>* warnings, int64_t extra_stale_ms = 0) {
  ProcessView v;
  Status s = ReadProcessStatus(env, path, &v.st);
  if (s.IsNotFound()) {
    v.why_not_alive = "no status file (" + BaseName(path) + "): not started on this spool";
    return v;
  }
  if (!s.ok()) {
    warnings->push_back("status file unreadable: " + s.ToString());
    v.st.Clear();
    v.why_not_alive = "its status file is unreadable";
    return v;
  }
  v.present = true;
  const pb::ProcessStatus& st = v.st;
  const int64_t age_ms = now_ms - st.heartbeat_wall_ms();
  v.heartbeat_age_s = Seconds(age_ms);
  const int64_t stale_ms = std::max<int64_t>(kStaleAfterMs, 5 * st.interval_ms()) + extra_stale_ms;
  char buf[160];
  if (st.exited()) {
    v.why_not_alive = "exited at " + spool::FormatTimeMs(st.heartbeat_wall_ms());
  } else if (age_ms > stale_ms) {
    std::snprintf(buf, sizeof(buf), "heartbeat %.0f s old (pid %lld): not running or hung",
                  v.heartbeat_age_s, static_cast<long long>(st.pid()));
    v.why_not_alive = buf;
  } else if (st.hostname() == LocalHostname() && !PidRunning(st.pid())) {
    v.why_not_alive = "pid " + std::to_string(st.pid()) + " is not running";
  } else {
    v.alive = true;
  }
  return v;
}

// Apply's process as a bucket checkpoint shows it: alive while its lease lasts.
ProcessView ProcessFromLease(const pb::ApplyCheckpoint* ckpt, int64_t lease_ms, int64_t now_ms) {
  ProcessView v;
  if (ckpt == nullptr) {
    v.why_not_alive = "no checkpoint in the bucket: not started on this spool";
    return v;
  }
  v.present = true;
  v.st.set_process("apply");
  v.st.set_pid(ckpt->writer_pid());
  v.st.set_hostname(ckpt->writer_host());
  v.st.set_heartbeat_wall_ms(ckpt->updated_wall_ms());
  v.st.set_seq(ckpt->applied_seq());
  const int64_t age_ms = now_ms - ckpt->updated_wall_ms();
  v.heartbeat_age_s = Seconds(age_ms);
  if (age_ms > lease_ms) {
    char buf[200];
    std::snprintf(buf, sizeof(buf), "its checkpoint in the bucket was last rewritten %.0f s ago (lease %lld s; pid %lld on %s): not running",
                  v.heartbeat_age_s, static_cast<long long>(lease_ms / 1000), static_cast<long long>(ckpt->writer_pid()),
                  ckpt->writer_host().empty() ? "?" : ckpt->writer_host().c_str());
    v.why_not_alive = buf;
  } else if (ckpt->writer_pid() > 0 && ckpt->writer_host() == LocalHostname() &&
             !PidRunning(static_cast<int64_t>(ckpt->writer_pid()))) {
    // Its writer ran on this host and is gone: known now, not when the lease runs out
    // (the same rule lets a new apply of the name take the checkpoint over at once).
    v.why_not_alive = "pid " + std::to_string(ckpt->writer_pid()) + " on this host is not running (its checkpoint "
                      "lease in the bucket would hold another " + std::to_string((lease_ms - age_ms + 999) / 1000) + " s)";
  } else {
    v.alive = true;
  }
  return v;
}

// Apply names from checkpoints/<name>.ckpt and status/apply-<name>.status.
std::vector<std::string> ApplyNames(Env* env, const std::string& dir) {
  std::set<std::string> names;
  const std::string ckpts = JoinPath(dir, spool::kCheckpointsDir);
  if (auto c = env->GetChildren(ckpts); env->FileExists(ckpts) && c.ok()) {
    for (const auto& n : c.value()) {
      if (EndsWith(n, spool::kCheckpointSuffix) && n.size() > spool::kCheckpointSuffix.size()) {
        names.insert(n.substr(0, n.size() - spool::kCheckpointSuffix.size()));
      }
    }
  }
  const std::string sts = JoinPath(dir, spool::kStatusDir);
  if (auto c = env->GetChildren(sts); env->FileExists(sts) && c.ok()) {
    for (const auto& n : c.value()) {
      if (n.rfind("apply-", 0) == 0 && EndsWith(n, ".status") && n.size() > 13) {
        names.insert(n.substr(6, n.size() - 13));
      }
    }
  }
  return {names.begin(), names.end()};
}

struct SegmentSpan {
  uint64_t first = 0, last = 0, bytes = 0;
};

// Capture time of event `seq` if the batch holds it (the batch's write time when the
// event has none); 0 otherwise.
int64_t CaptureTimeIn(const pb::ChangeBatch& b, uint64_t seq) {
  if (seq < b.first_seq() || seq >= b.first_seq() + static_cast<uint64_t>(b.events_size())) return 0;
  const int64_t t = b.events(static_cast<int>(seq - b.first_seq())).capture_wall_ms();
  return t != 0 ? t : b.written_wall_ms();
}

// Reads one segment to its end, or only up to the batch holding `want` if stop_at_want.
// *want_ms gets that event's capture time. The reader's stats cover what was read.
Status ScanSegment(Env* env, const std::string& path, uint64_t want, bool stop_at_want,
                   int64_t* want_ms, std::unique_ptr<spool::SegmentReader>* reader) {
  ASSIGN_OR_RETURN(*reader, spool::SegmentReader::Open(env, path));
  if (!(*reader)->has_header()) return Status::OK();  // being created
  pb::ChangeBatch b;
  for (;;) {
    Status s = (*reader)->Next(&b);
    if (s.IsEndOfFile()) return Status::OK();
    RETURN_IF_ERROR(s);
    if (const int64_t t = CaptureTimeIn(b, want); t != 0 && *want_ms == 0) {
      *want_ms = t;
      if (stop_at_want) return Status::OK();
    }
  }
}

// Fills the spool figures and the apply backlog (which needs the checkpoint).
Status CollectSpool(Env* env, const spool::SpoolView& view, MigrationStatus* out) {
  ApplyView& a = out->apply;
  const uint64_t want = a.checkpoint_seq + 1;  // oldest unapplied event
  std::vector<SegmentSpan> spans;
  out->source_kind = view.manifest.created.source_kind();
  out->dynamodb_numbers = view.manifest.created.dynamodb_numbers();
  out->last_durable_seq = view.manifest.next_seq_after_sealed() - 1;
  int64_t want_ms = 0;
  for (const auto& seg : view.segments) {
    if (seg.sealed) {
      const pb::SegmentSealed& m = *seg.manifest_entry;
      spans.push_back({m.first_seq(), m.last_seq(), m.file_bytes()});
      out->sealed_segments++;
      out->spool_bytes += m.file_bytes();
      out->last_event_capture_ms = m.last_wall_ms();
      out->last_cluster_time = m.last_cluster_time();
      if (want == m.first_seq()) want_ms = m.first_wall_ms();
      continue;
    }
    // The open segment: its complete records, as apply would read them.
    std::unique_ptr<spool::SegmentReader> r;
    Status s = ScanSegment(env, seg.path, want, /*stop_at_want=*/false, &want_ms, &r);
    if (s.IsNotFound()) {
      out->warnings.push_back(seg.file_name + " vanished while being read (sealed and pruned?)");
      continue;
    }
    if (!s.ok()) out->warnings.push_back("open segment: " + s.ToString());
    if (!r) continue;
    const spool::SegmentStats& st = r->stats();
    out->spool_bytes += r->file_size();
    if (st.event_count > 0) {
      spans.push_back({st.first_seq, st.next_seq - 1, r->valid_end()});
      out->last_durable_seq = std::max(out->last_durable_seq, st.next_seq - 1);
      out->last_event_capture_ms = st.last_wall_ms;
      out->last_cluster_time = st.last_cluster_time;
    }
  }
  out->segments = view.segments.size();
  if (want > out->last_durable_seq) {
    // Everything is applied. apply's status file is written about once a second and can
    // still list an event pending that the (newer) checkpoint already covers.
    for (NamespaceView& n : a.namespaces) n.gap_s = 0;
    return Status::OK();
  }

  a.backlog_events = out->last_durable_seq - a.checkpoint_seq;
  for (const auto& sp : spans) {
    if (sp.last < want) continue;
    const uint64_t from = std::max(sp.first, want);
    a.backlog_bytes += sp.bytes * (sp.last - from + 1) / (sp.last - sp.first + 1);
  }
  if (want_ms == 0) {
    // In a sealed segment, past its first event: read that segment up to it.
    for (const auto& seg : view.segments) {
      if (!seg.sealed || seg.manifest_entry->last_seq() < want || seg.first_seq > want) continue;
      std::unique_ptr<spool::SegmentReader> r;
      Status s = ScanSegment(env, seg.path, want, /*stop_at_want=*/true, &want_ms, &r);
      if (!s.ok()) out->warnings.push_back("reading the oldest unapplied event: " + s.ToString());
    }
  }
  if (want_ms == 0) {
    // Gone (retention) or unreadable: the oldest capture time still in the spool.
    for (const auto& seg : view.segments) {
      if (seg.sealed && seg.manifest_entry->last_seq() >= want) {
        want_ms = seg.manifest_entry->first_wall_ms();
        break;
      }
    }
  }
  a.oldest_unapplied_capture_ms = want_ms;
  if (want_ms != 0) a.gap_s = Seconds(out->now_ms - want_ms);
  return Status::OK();
}

// lease_ms > 0 (a bucket spool, whose applies leave no status file in it): without a
// status file, apply's process is judged from its checkpoint's writer and lease.
void CollectApply(Env* env, const std::string& dir, const std::string& name, MigrationStatus* out,
                  int64_t lease_ms = 0) {
  ApplyView& a = out->apply;
  a.name = name;
  pb::ApplyCheckpoint ckpt;
  Status s = spool::ReadCheckpoint(env, spool::CheckpointPath(dir, name), &ckpt);
  if (s.ok()) {
    a.has_checkpoint = true;
    a.checkpoint_seq = ckpt.applied_seq();
    a.checkpoint_updated_ms = ckpt.updated_wall_ms();
    a.events_applied_total = ckpt.events_applied_total();
  } else if (!s.IsNotFound()) {
    out->warnings.push_back("checkpoint: " + s.ToString());
  }
  uint64_t dead = 0;
  s = spool::ReadDeadLetters(env, spool::DeadLetterPath(dir, name),
                             [&](uint64_t, const pb::DeadLetter&) { ++dead; });
  if (!s.ok() && !s.IsNotFound()) out->warnings.push_back("dead letters: " + s.ToString());
  a.dead_letters = dead;
  a.process = ReadProcess(env, ProcessStatusPath(dir, "apply", name), out->now_ms, &out->warnings);
  if (lease_ms > 0 && !a.process.present) a.process = ProcessFromLease(a.has_checkpoint ? &ckpt : nullptr, lease_ms, out->now_ms);
  const pb::ProcessStatus& st = a.process.st;
  if (a.process.alive) a.events_per_s = st.events_per_second();
  for (const auto& n : st.namespaces()) {
    NamespaceView v;
    v.ns = n.ns();
    v.events_applied = n.events_applied();
    v.last_source_ms = n.last_applied_source_ms();
    if (n.oldest_pending_capture_ms() != 0) v.gap_s = Seconds(out->now_ms - n.oldest_pending_capture_ms());
    a.namespaces.push_back(std::move(v));
  }
  std::sort(a.namespaces.begin(), a.namespaces.end(),
            [](const NamespaceView& x, const NamespaceView& y) { return x.ns < y.ns; });
}

// Apply slots: every NAME.slot-I-of-N among the apply names, each collected as an apply,
// then the view of all of them (status.h, ApplyView::slots). False when there are none.
bool CollectSlots(Env* env, const std::string& dir, const std::string& name,
                  const std::vector<std::string>& names, MigrationStatus* out, int64_t lease_ms = 0) {
  std::map<int, std::set<int>> by_count;  // N → the I seen
  for (const std::string& n : names) {
    if (auto spec = spool::ParseSlotName(name, n)) by_count[spec->count].insert(spec->index);
  }
  if (by_count.empty()) return false;
  // Several N: the one with the most slots seen (the others are named in a warning).
  int count = 0;
  for (const auto& [n, seen] : by_count) {
    if (count == 0 || seen.size() > by_count[count].size()) count = n;
  }
  for (const auto& [n, seen] : by_count) {
    if (n != count) {
      out->warnings.push_back("apply '" + name + "' also has slot names of " + std::to_string(n) +
                              " slots (e.g. " + spool::SlotName(name, *seen.begin(), n) + "), shown as " +
                              std::to_string(count) + " slots");
    }
  }
  ApplyView all;
  all.name = name;
  all.has_checkpoint = true;
  all.process.present = true;
  all.process.alive = true;
  std::map<std::string, NamespaceView> ns;
  for (int i = 0; i < count; ++i) {
    MigrationStatus one;
    one.now_ms = out->now_ms;
    CollectApply(env, dir, spool::SlotName(name, i, count), &one, lease_ms);
    for (auto& w : one.warnings) out->warnings.push_back(std::move(w));
    const ApplyView& a = one.apply;
    const std::string who = "slot " + std::to_string(i) + "/" + std::to_string(count) + " (" + a.name + ")";
    if (!a.has_checkpoint) {
      all.has_checkpoint = false;
      out->slot_problems.push_back(who + ": no checkpoint" +
                                   (a.process.present ? "" : " and no status file: never started?"));
    }
    all.checkpoint_seq = i == 0 ? a.checkpoint_seq : std::min(all.checkpoint_seq, a.checkpoint_seq);
    all.checkpoint_updated_ms =
        i == 0 ? a.checkpoint_updated_ms : std::min(all.checkpoint_updated_ms, a.checkpoint_updated_ms);
    all.events_applied_total += a.events_applied_total;
    all.dead_letters += a.dead_letters;
    all.events_per_s += a.events_per_s;
    if (!a.process.alive && all.process.alive) {
      all.process.alive = false;
      all.process.why_not_alive = who + ": " + a.process.why_not_alive;
      all.process.st = a.process.st;
    }
    for (const NamespaceView& v : a.namespaces) {
      NamespaceView& m = ns[v.ns];
      m.ns = v.ns;
      m.events_applied += v.events_applied;
      m.last_source_ms = std::max(m.last_source_ms, v.last_source_ms);
      m.gap_s = std::max(m.gap_s, v.gap_s);
    }
    out->slots.push_back(a);
  }
  if (all.process.alive && !out->slots.empty()) all.process.st = out->slots.front().process.st;
  for (auto& [k, v] : ns) all.namespaces.push_back(v);
  out->slot_count = count;
  out->apply = std::move(all);
  return true;
}

// After CollectSpool: a slot behind the spool's end whose checkpoint has not moved for
// kSlotStalledAfterMs is named (the others wait for it at the next DDL).
void NameStalledSlots(MigrationStatus* out) {
  for (ApplyView& a : out->slots) {
    if (!a.has_checkpoint) continue;
    a.backlog_events = out->last_durable_seq > a.checkpoint_seq ? out->last_durable_seq - a.checkpoint_seq : 0;
    const int64_t age = out->now_ms - a.checkpoint_updated_ms;
    if (a.backlog_events > 0 && age > kSlotStalledAfterMs) {
      out->slot_problems.push_back(a.name + ": stalled: checkpoint at seq " + std::to_string(a.checkpoint_seq) +
                                   ", " + std::to_string(a.backlog_events) + " events behind, not moved for " +
                                   std::to_string(age / 1000) + " s" +
                                   (a.process.alive ? "" : " (" + a.process.why_not_alive + ")"));
    }
  }
}

void CollectCapture(Env* env, const std::string& dir, MigrationStatus* out, int64_t extra_stale_ms = 0) {
  out->capture = ReadProcess(env, ProcessStatusPath(dir, "capture", ""), out->now_ms, &out->warnings, extra_stale_ms);
  const ProcessView& c = out->capture;
  out->capture_alive = c.alive;
  if (!c.present) return;
  if (c.alive) out->capture_events_per_s = c.st.events_per_second();
  if (c.st.caught_up()) {
    // Caught up at its last heartbeat; a capture that stopped since knows nothing newer.
    out->capture_lag_s = c.alive ? 0 : c.heartbeat_age_s;
  } else if (c.st.last_source_wall_ms() != 0) {
    out->capture_lag_s = Seconds(out->now_ms - c.st.last_source_wall_ms());
  } else {
    out->capture_lag_s = c.st.lag_seconds();
  }
}

void CollectSnapshot(Env* env, const std::string& dir, MigrationStatus* out) {
  pb::SnapshotState st;
  Status s = spool::ReadSnapshotState(env, dir, &st);
  if (s.IsNotFound()) return;
  if (!s.ok()) {
    out->warnings.push_back("snapshot state: " + s.ToString());
    return;
  }
  SnapshotView& v = out->snapshot;
  v.present = true;
  v.running = st.finished_wall_ms() == 0;
  v.snapshot_id = st.snapshot_id();
  v.started_ms = st.started_wall_ms();
  v.finished_ms = st.finished_wall_ms();
  v.rate_limit_docs_per_s = st.rate_limit_docs_per_s();
  v.rate_achieved_docs_per_s = st.rate_achieved_docs_per_s();
  v.throttled_total = st.throttled_total();
  for (const auto& c : st.collections()) {
    SnapshotCollectionView cv;
    cv.ns = c.db() + "." + c.coll();
    cv.ranges_total = static_cast<uint64_t>(c.ranges_size());
    cv.estimated_docs = c.estimated_docs();
    for (const auto& r : c.ranges()) {
      cv.ranges_done += r.done() ? 1 : 0;
      cv.docs_copied += r.docs_copied();
    }
    v.collections.push_back(std::move(cv));
  }
}

std::string Fixed(double v, int digits = 1) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

void DecideState(MigrationStatus* s) {
  const ApplyView& a = s->apply;
  const std::string lags = "capture lag " + Fixed(s->capture_lag_s) + " s, apply lag " +
                           Fixed(a.gap_s) + " s, backlog " + std::to_string(a.backlog_events) +
                           " events";
  if (!s->capture_alive) {
    s->state = "capture stopped";
    s->state_reason = "capture: " + s->capture.why_not_alive;
  } else if (s->snapshot.running) {
    uint64_t done = 0, total = 0;
    for (const auto& c : s->snapshot.collections) {
      done += c.ranges_done;
      total += c.ranges_total;
    }
    s->state = "snapshotting";
    s->state_reason = "snapshot " + s->snapshot.snapshot_id + ": " + std::to_string(done) + " of " +
                      std::to_string(total) + " ranges copied";
  } else if (!a.process.alive) {
    s->state = "apply stopped";
    s->state_reason = "apply '" + a.name + "': " + a.process.why_not_alive;
  } else if (!s->slot_problems.empty()) {
    s->state = "apply stopped";
    s->state_reason = "apply '" + a.name + "' " + s->slot_problems.front();
  } else if (s->capture_lag_s > kInSyncLagSeconds || a.gap_s > kInSyncLagSeconds) {
    s->state = "catching up";
    s->state_reason = lags;
  } else {
    s->state = "in sync";
    s->state_reason = lags + " (lags within " + Fixed(kInSyncLagSeconds, 0) + " s)";
  }
  if (s->state != "in sync") {
    s->cutover_blocked_by = s->state + ": " + s->state_reason;
  } else if (a.dead_letters > 0) {
    s->cutover_blocked_by = std::to_string(a.dead_letters) + " dead letters in deadletter/" + a.name +
                            ".dlq: apply them by hand or `docshift reconcile`";
  }
  if (!s->bucket.url.empty() && s->cutover_blocked_by.empty() && s->bucket.unshipped_events > 0) {
    s->cutover_blocked_by = std::to_string(s->bucket.unshipped_events) + " events capture wrote (up to seq " +
                            std::to_string(s->capture.st.seq()) + ") are not committed in " + s->bucket.url +
                            " yet (committed up to seq " + std::to_string(s->bucket.committed_seq) +
                            "): the shipper commits a segment once capture seals it (--segment_max_age)";
  }
  s->can_cutover = s->cutover_blocked_by.empty();
}

// The spool figures and the apply backlog of a bucket spool, from its commit log. The
// oldest unapplied event's capture time is its segment's first_wall_ms (no download):
// exact at a segment boundary, where a bucket apply's checkpoint usually is, and never
// less than the true lag otherwise.
void CollectBucketSpool(const BucketLogInput& log, MigrationStatus* out) {
  ApplyView& a = out->apply;
  BucketView& b = out->bucket;
  out->source_kind = log.created.source_kind();
  out->dynamodb_numbers = log.created.dynamodb_numbers();
  out->last_durable_seq = log.next_seq - 1;
  out->segments = out->sealed_segments = log.segments.size();
  for (const auto& seg : log.segments) out->spool_bytes += seg.file_bytes();
  if (!log.segments.empty()) {
    out->last_event_capture_ms = log.segments.back().last_wall_ms();
    out->last_cluster_time = log.segments.back().last_cluster_time();
  }
  b.url = log.url;
  b.log_number = log.log_number;
  b.committed_seq = out->last_durable_seq;
  b.oldest_seq = log.segments.empty() ? 0 : log.segments.front().first_seq();
  b.writer_id = log.writer_id;
  b.shipper_host = log.shipper.host();
  b.shipper_pid = log.shipper.pid();
  b.last_commit_ms = log.last_written_wall_ms;
  if (b.last_commit_ms != 0) b.last_commit_age_s = Seconds(out->now_ms - b.last_commit_ms);
  if (out->last_event_capture_ms != 0) b.newest_committed_age_s = Seconds(out->now_ms - out->last_event_capture_ms);

  const uint64_t want = a.checkpoint_seq + 1;
  if (want > out->last_durable_seq) {
    for (NamespaceView& n : a.namespaces) n.gap_s = 0;
    return;
  }
  a.backlog_events = out->last_durable_seq - a.checkpoint_seq;
  int64_t want_ms = 0;
  for (const auto& seg : log.segments) {
    if (seg.last_seq() < want) continue;
    const uint64_t from = std::max(seg.first_seq(), want);
    a.backlog_bytes += seg.file_bytes() * (seg.last_seq() - from + 1) / (seg.last_seq() - seg.first_seq() + 1);
    if (want_ms == 0) want_ms = seg.first_wall_ms();
  }
  a.oldest_unapplied_capture_ms = want_ms;
  if (want_ms != 0) a.gap_s = Seconds(out->now_ms - want_ms);
}

}  // namespace

StatusOr<MigrationStatus> CollectBucketStatus(Env* env, const std::string& dir, const BucketLogInput& log,
                                              int64_t now_ms, const std::string& apply_name) {
  RETURN_IF_ERROR(spool::CheckApplyName(apply_name));
  MigrationStatus out;
  out.spool_dir = log.url;
  out.now_ms = now_ms;
  out.apply_names = ApplyNames(env, dir);
  const bool own = std::find(out.apply_names.begin(), out.apply_names.end(), apply_name) != out.apply_names.end();
  if (own || !CollectSlots(env, dir, apply_name, out.apply_names, &out, kBucketApplyLeaseMs)) {
    CollectApply(env, dir, apply_name, &out, kBucketApplyLeaseMs);
  }
  CollectBucketSpool(log, &out);
  NameStalledSlots(&out);
  for (const std::string& p : out.slot_problems) out.warnings.push_back("apply " + p);
  CollectCapture(env, dir, &out, kBucketStatusSlackMs);
  if (!out.capture.present) {
    out.capture.why_not_alive = "no status/capture.status in " + log.url +
                                " (the shipper uploads it; a shipper older than this docshift does not)";
  } else if (out.capture.st.seq() > out.bucket.committed_seq) {
    out.bucket.unshipped_events = out.capture.st.seq() - out.bucket.committed_seq;
  }
  CollectSnapshot(env, dir, &out);
  DecideState(&out);
  return out;
}

StatusOr<MigrationStatus> CollectStatus(Env* env, const std::string& spool_dir, int64_t now_ms,
                                        const std::string& apply_name) {
  RETURN_IF_ERROR(spool::CheckApplyName(apply_name));
  if (!env->FileExists(spool_dir)) {
    return Status::NotFound("no spool at " + spool_dir + ": the directory does not exist; check --spool");
  }
  MigrationStatus out;
  out.spool_dir = spool_dir;
  out.now_ms = now_ms;
  spool::SpoolView view;
  RETURN_IF_ERROR(spool::OpenSpoolView(env, spool_dir, &view));
  out.apply_names = ApplyNames(env, spool_dir);
  // The name's own checkpoint or status file, or else its slots (apply --slot).
  const bool own = std::find(out.apply_names.begin(), out.apply_names.end(), apply_name) != out.apply_names.end();
  if (own || !CollectSlots(env, spool_dir, apply_name, out.apply_names, &out)) {
    CollectApply(env, spool_dir, apply_name, &out);
  }
  RETURN_IF_ERROR(CollectSpool(env, view, &out));
  NameStalledSlots(&out);
  for (const std::string& p : out.slot_problems) out.warnings.push_back("apply " + p);
  CollectCapture(env, spool_dir, &out);
  CollectSnapshot(env, spool_dir, &out);
  DecideState(&out);
  return out;
}

}  // namespace docshift::status
