#include "cutover/cutover.h"

#include <glog/logging.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "apply/transform.h"
#include "aws/dynamodb_uri.h"
#include "mongo/mongo_util.h"
#include "spool/checkpoint.h"
#include "status/status.h"
#include "util/duration.h"
#include "util/env.h"
#include "verify/verify.h"

namespace docshift::cutover {

namespace {

std::string Secs(double s) {
  std::ostringstream o;
  o.precision(s < 10 ? 1 : 0);
  o << std::fixed << s << " s";
  return o.str();
}

// The server answers, its TLS handshake and credentials pass: checked before any wait, so
// a wrong password or certificate is one line at once, not after the lag and quiet-period
// waits. what: "source" or "target".
Status CheckReachable(const std::string& uri, const char* what) {
  ASSIGN_OR_RETURN(auto u, mongo::ParseUri(uri, std::string("--") + what));
  ASSIGN_OR_RETURN(auto pool, mongo::NewPool(u.get(), 1));
  mongo::PooledClient c(pool.get());
  return mongo::PingAtStart(c.get(), std::string(what) + " " + mongo::RedactUri(uri));
}

class Cutover {
 public:
  explicit Cutover(const CutoverOptions& o) : o_(o), env_(Env::Default()), deadline_(NowMs() + o.timeout_ms) {}

  StatusOr<CutoverResult> Run();

 private:
  StatusOr<status::MigrationStatus> Collect() {
    if (o_.collect) return o_.collect(NowMs(), o_.apply_name);
    return status::CollectStatus(env_, o_.spool_dir, NowMs(), o_.apply_name);
  }
  void Say(const std::string& line) {
    if (o_.progress) o_.progress(line);
  }
  bool Stopped() const { return o_.stop != nullptr && o_.stop->load(); }
  bool TimedOut() const { return NowMs() >= deadline_; }
  void Sleep() { std::this_thread::sleep_for(std::chrono::milliseconds(o_.poll_interval_ms)); }
  // Fails the cutover with a reason; returns the result to hand back.
  CutoverResult NotSafe(const std::string& why) {
    res_.safe = false;
    res_.reasons.push_back(why);
    return res_;
  }
  // The processes must be running for the figures to mean anything.
  std::string ProcessesProblem(const status::MigrationStatus& st) {
    if (st.snapshot.running) {
      return "the snapshot " + st.snapshot.snapshot_id +
             " has not finished; finish `docshift snapshot` (it resumes) and start apply";
    }
    if (!st.capture_alive) {
      return "capture is not running (" + st.capture.why_not_alive +
             "): without it nothing shows whether the source still changes; start `docshift "
             "capture` again (it resumes) and run cutover again";
    }
    if (!st.apply.process.alive) {
      return "apply '" + o_.apply_name + "' is not running (" + st.apply.process.why_not_alive +
             "); start `docshift apply` again (it resumes) and run cutover again";
    }
    if (!st.slot_problems.empty()) {
      return "apply '" + o_.apply_name + "' " + st.slot_problems.front() +
             "; every slot must run (start the missing one with its --slot I/N) before cutover";
    }
    return "";
  }

  // ProcessesProblem, once it has lasted kGraceMs.
  std::string Problem(const status::MigrationStatus& st) {
    std::string p = ProcessesProblem(st);
    if (p.empty()) {
      problem_since_ = 0;
      return p;
    }
    if (problem_since_ == 0) problem_since_ = NowMs();
    return NowMs() - problem_since_ >= kGraceMs || TimedOut() ? p : "";
  }

  static constexpr int64_t kGraceMs = 10'000;
  const CutoverOptions& o_;
  Env* env_;
  int64_t deadline_;
  int64_t problem_since_ = 0;
  CutoverResult res_;
};

StatusOr<CutoverResult> Cutover::Run() {
  const int64_t t0 = NowMs();
  if (o_.spool_dir.empty()) return Status::InvalidArgument("--spool is required");
  RETURN_IF_ERROR(spool::CheckApplyName(o_.apply_name));
  if (o_.verify_mode != "full" && o_.verify_mode != "counts" && o_.verify_mode != "none") {
    return Status::InvalidArgument("--final_verify '" + o_.verify_mode + "' is not one of full, counts, none");
  }
  if (o_.reconcile != "auto" && o_.reconcile != "always" && o_.reconcile != "never") {
    return Status::InvalidArgument("--reconcile '" + o_.reconcile + "' is not one of auto, always, never");
  }
  bool transforms_set_id = false;  // reconcile matches _ids of both sides: not with such a rule
  if (!o_.transforms_file.empty()) {
    ASSIGN_OR_RETURN(const apply::Transforms t, apply::Transforms::Load(o_.transforms_file));
    for (const auto& r : t.rules()) transforms_set_id = transforms_set_id || r.sets_id();
  }
  if (o_.verify_mode != "none" || o_.reconcile != "never") {
    if (o_.source_uri.empty() || o_.target_uri.empty()) {
      return Status::InvalidArgument("--source and --target are required for the final verify "
                                     "(or pass --final_verify=none --reconcile=never)");
    }
    if (!aws::IsDynamoUri(o_.source_uri)) RETURN_IF_ERROR(CheckReachable(o_.source_uri, "source"));
    RETURN_IF_ERROR(CheckReachable(o_.target_uri, "target"));
  }

  // 1. Preconditions (a process just started, or a heartbeat late under load, gets a
  // grace period before it counts as not running).
  ASSIGN_OR_RETURN(auto st, Collect());
  for (int64_t since = NowMs();;) {
    std::string p = ProcessesProblem(st);
    if (p.empty()) break;
    if (NowMs() - since >= kGraceMs || TimedOut()) return NotSafe(p);
    if (Stopped()) return Status::Aborted("cutover stopped");
    Sleep();
    ASSIGN_OR_RETURN(st, Collect());
  }
  res_.checks.push_back("capture and apply are running" +
                        std::string(st.snapshot.present ? "; the snapshot has finished" : ""));

  // 2. Lag under the threshold.
  const double max_lag = o_.max_lag_ms / 1000.0;
  int64_t next_say = 0;
  for (;;) {
    ASSIGN_OR_RETURN(st, Collect());
    if (auto p = Problem(st); !p.empty()) return NotSafe(p);
    if (st.capture_lag_s <= max_lag && st.apply.gap_s <= max_lag) break;
    if (Stopped()) return Status::Aborted("cutover stopped");
    if (TimedOut()) {
      return NotSafe("the lag did not fall under " + Secs(max_lag) + " in time: capture " +
                     Secs(st.capture_lag_s) + ", apply " + Secs(st.apply.gap_s) + " (" +
                     std::to_string(st.apply.backlog_events) + " events not applied yet)");
    }
    if (NowMs() >= next_say) {
      Say("cutover: waiting for the lag to fall under " + Secs(max_lag) + ": capture " +
          Secs(st.capture_lag_s) + ", apply " + Secs(st.apply.gap_s) + ", backlog " +
          std::to_string(st.apply.backlog_events) + " events");
      next_say = NowMs() + 5000;
    }
    Sleep();
  }
  res_.checks.push_back("lag under " + Secs(max_lag) + " (capture " + Secs(st.capture_lag_s) +
                        ", apply " + Secs(st.apply.gap_s) + ")");

  // 3. Writes to the source have stopped: no new event for quiet_period, while capture
  // keeps confirming that it has read everything the source has.
  uint64_t seq0 = st.last_durable_seq;
  int64_t window_start = NowMs();
  uint64_t arrived = 0;          // events that restarted the window
  int64_t first_arrival_ms = 0;
  Say("cutover: checking that writes to the source have stopped (no new change for " +
      Secs(o_.quiet_period_ms / 1000.0) + ")");
  next_say = NowMs() + 5000;
  for (;;) {
    ASSIGN_OR_RETURN(st, Collect());
    if (auto p = Problem(st); !p.empty()) return NotSafe(p);
    const int64_t now = NowMs();
    if (st.last_durable_seq != seq0) {
      if (first_arrival_ms == 0) first_arrival_ms = now;
      arrived += st.last_durable_seq - seq0;
      seq0 = st.last_durable_seq;
      window_start = now;
    }
    const auto& cap = st.capture.st;
    // A bucket spool: capture's last durable event must also be committed in the bucket
    // (what capture wrote but the shipper has not committed is invisible to apply).
    const bool confirmed = cap.caught_up() && cap.heartbeat_wall_ms() >= window_start + o_.quiet_period_ms &&
                           st.bucket.unshipped_events == 0;
    if (now - window_start >= o_.quiet_period_ms && confirmed) break;
    if (Stopped()) return Status::Aborted("cutover stopped");
    if (TimedOut()) {
      if (arrived > 0 && now - window_start < o_.quiet_period_ms) {
        return NotSafe("writes to the source continue: " + std::to_string(arrived) +
                       " new changes captured in the last " + Secs((now - first_arrival_ms) / 1000.0) +
                       "; stop the application's writes (or make it read-only), then run cutover again");
      }
      if (st.bucket.unshipped_events > 0) {
        return NotSafe(std::to_string(st.bucket.unshipped_events) + " events capture wrote (up to seq " +
                       std::to_string(cap.seq()) + ") are not committed in " + st.bucket.url + " (committed up to " +
                       std::to_string(st.bucket.committed_seq) + "): is the shipper running (`docshift ship` or "
                       "capture --ship_to)? a segment is shipped once capture seals it (--segment_max_age)");
      }
      return NotSafe("capture did not confirm it has read everything from the source (" +
                     std::string(cap.caught_up() ? "no fresh heartbeat" : "not caught up") +
                     (cap.last_error().empty() ? "" : "; last error: " + cap.last_error()) +
                     "); check capture's log");
    }
    if (now >= next_say && arrived > 0) {
      Say("cutover: writes still arriving at the source: " + std::to_string(arrived) +
          " changes since the check started; waiting for them to stop");
      next_say = now + 5000;
    }
    Sleep();
  }
  res_.checks.push_back("no write reached the source for " + Secs(o_.quiet_period_ms / 1000.0) +
                        " (spool ends at sequence " + std::to_string(seq0) + ")");

  // 4. Drain.
  for (;;) {
    ASSIGN_OR_RETURN(st, Collect());
    if (auto p = Problem(st); !p.empty()) return NotSafe(p);
    if (st.last_durable_seq != seq0) {
      return NotSafe("writes resumed at the source while apply drained (spool now ends at " +
                     std::to_string(st.last_durable_seq) + "); stop them and run cutover again");
    }
    if (st.apply.checkpoint_seq >= seq0) break;
    if (Stopped()) return Status::Aborted("cutover stopped");
    if (TimedOut()) {
      std::string slots;  // apply --slot: the checkpoint is the slots' minimum; name the slow ones
      for (const auto& v : st.slots) {
        if (v.checkpoint_seq < seq0) slots += (slots.empty() ? "; behind: " : ", ") + v.name + " at " + std::to_string(v.checkpoint_seq);
      }
      for (const auto& p : st.slot_problems) slots += "; " + p;
      return NotSafe("apply did not drain in time: checkpoint at " +
                     std::to_string(st.apply.checkpoint_seq) + ", spool ends at " + std::to_string(seq0) + slots);
    }
    Sleep();
  }
  if (st.apply.dead_letters > 0) {
    return NotSafe(std::to_string(st.apply.dead_letters) +
                   " events could not be written to the target (dead letters); see `docshift "
                   "inspect deadletters --spool " + o_.spool_dir + "`, fix them on the target, "
                   "then run cutover again");
  }
  res_.checks.push_back("apply drained: checkpoint at sequence " + std::to_string(seq0) +
                        ", no dead letters");
  res_.last_seq = seq0;

  // 5. Deletes a Cosmos DB change stream never reported.
  const bool reconcile = o_.reconcile == "always" || (o_.reconcile == "auto" && st.source_kind == "cosmos");
  if (reconcile && transforms_set_id) {
    return NotSafe("deletes cannot be reconciled: a --transforms rule makes _id, so source and target "
                   "_ids differ; check deletes by hand, or pass --reconcile=never");
  }
  if (reconcile) {
    Say("cutover: reconciling deletes (the source's change stream reports none)");
    verify::ReconcileOptions ro;
    ro.source_uri = o_.source_uri;
    ro.target_uri = o_.target_uri;
    ro.filter = o_.namespaces;
    ro.maps = o_.maps;
    // A DynamoDB source converts its numbers as capture did: the spool records the mode.
    ro.dynamodb_numbers = st.dynamodb_numbers.empty() ? "decimal" : st.dynamodb_numbers;
    ro.parallel = o_.parallel;
    ro.stop = o_.stop;
    ro.progress = o_.progress;
    ASSIGN_OR_RETURN(auto rr, verify::RunReconcile(ro));
    res_.reconciled_deletes = rr.deleted;
    res_.checks.push_back("reconciled deletes: " + std::to_string(rr.deleted) +
                          " target documents the source no longer has were deleted");
  }

  // 6. Final verify.
  if (o_.verify_mode != "none") {
    Say("cutover: final verify (" + o_.verify_mode + ")");
    verify::VerifyOptions vo;
    vo.source_uri = o_.source_uri;
    vo.target_uri = o_.target_uri;
    vo.filter = o_.namespaces;
    vo.maps = o_.maps;
    vo.transforms_file = o_.transforms_file;
    vo.dynamodb_numbers = st.dynamodb_numbers.empty() ? "decimal" : st.dynamodb_numbers;
    vo.parallel = o_.parallel;
    vo.counts_only = o_.verify_mode == "counts";
    if (!o_.collect) vo.spool_dir = o_.spool_dir;
    vo.report_path = o_.report_path;
    vo.stop = o_.stop;
    vo.progress = o_.progress;
    ASSIGN_OR_RETURN(auto vr, verify::RunVerify(vo));
    if (!vr.identical) {
      std::string detail;
      int shown = 0;
      for (const auto& c : vr.collections) {
        if (c.ok()) continue;
        if (shown++ == 3) {
          detail += "; ...";
          break;
        }
        detail += (detail.empty() ? "" : "; ") + c.source_ns + ": source " +
                  std::to_string(c.source_count) + ", target " + std::to_string(c.target_count);
        if (c.missing + c.extra + c.changed > 0) {
          detail += " (" + std::to_string(c.missing) + " missing, " + std::to_string(c.extra) +
                    " extra, " + std::to_string(c.changed) + " changed";
          if (!c.differences.empty()) detail += ", e.g. _id " + c.differences[0].id_json;
          detail += ")";
        }
      }
      return NotSafe("the final verify found differences: " + detail +
                     (o_.report_path.empty() ? "" : " (all of them in " + o_.report_path + ")"));
    }
    uint64_t docs = 0;
    for (const auto& c : vr.collections) docs += c.source_count;
    res_.checks.push_back("final verify: " + std::to_string(vr.collections.size()) +
                          " collections, " + std::to_string(docs) + " documents, identical" +
                          (vo.counts_only ? " counts" : ""));
  }

  // Nothing arrived while we verified.
  ASSIGN_OR_RETURN(st, Collect());
  if (st.last_durable_seq != seq0) {
    return NotSafe("writes resumed at the source during the final checks (spool now ends at " +
                   std::to_string(st.last_durable_seq) + ", was " + std::to_string(seq0) +
                   "); stop them and run cutover again");
  }
  res_.safe = true;
  res_.elapsed_ms = NowMs() - t0;
  return res_;
}

}  // namespace

StatusOr<CutoverResult> RunCutover(const CutoverOptions& opts) {
  Cutover c(opts);
  auto r = c.Run();
  return r;
}

}  // namespace docshift::cutover
