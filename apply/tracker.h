// apply's Tracker: which events are finished, and so where the checkpoint may go. Pure
// code (no server), unit-tested in tracker_test.cc.
//
// Thread safety: every method takes an internal mutex (the reader dispatches, the lanes
// report Done, the checkpointer and the status reporter read).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "proto/spool.pb.h"

namespace docshift::apply {

// Which events are finished. Lanes finish their own events in dispatch order, so each
// lane keeps a FIFO; the safe checkpoint is just below the oldest unfinished event.
// Also keeps per-namespace figures for the status file.
class Tracker {
 public:
  Tracker(int lanes, uint64_t start, int64_t last_done_time_ms)
      : pending_(lanes), dispatched_(start - 1), last_done_time_ms_(last_done_time_ms) {}
  // ns: the source namespace; time_ms: source time; capture_ms: when it was captured.
  void Dispatch(int lane, uint64_t seq, int64_t time_ms, const std::string& ns, int64_t capture_ms) {
    std::lock_guard<std::mutex> l(mu_);
    const int n = NsIndexLocked(ns);
    pending_[lane].push_back({seq, time_ms, capture_ms, n});
    ns_[n].pending.emplace(seq, capture_ms);
    dispatched_ = seq;
  }
  // An event before --from's time: read, neither applied nor counted.
  void Skipped(uint64_t seq) {
    std::lock_guard<std::mutex> l(mu_);
    dispatched_ = seq;
  }
  // An event that needs no lane (DDL run by the reader, noop, dry run).
  // With a namespace, it counts as applied there (a DDL run).
  void Passed(uint64_t seq, int64_t time_ms, const std::string* ns = nullptr) {
    std::lock_guard<std::mutex> l(mu_);
    dispatched_ = seq;
    last_done_time_ms_ = std::max(last_done_time_ms_, time_ms);
    total_done_++;
    if (ns != nullptr) {
      NsFigures& f = ns_[NsIndexLocked(*ns)];
      f.applied++;
      f.last_source_ms = std::max(f.last_source_ms, time_ms);
    }
  }
  void Done(int lane, size_t n) {
    std::lock_guard<std::mutex> l(mu_);
    auto& q = pending_[lane];
    for (size_t i = 0; i < n && !q.empty(); ++i) {
      const Pending& p = q.front();
      last_done_time_ms_ = std::max(last_done_time_ms_, p.time_ms);
      NsFigures& f = ns_[p.ns];
      f.pending.erase(p.seq);
      f.applied++;
      f.last_source_ms = std::max(f.last_source_ms, p.time_ms);
      q.pop_front();
    }
    total_done_ += n;
  }
  uint64_t Safe() const {
    std::lock_guard<std::mutex> l(mu_);
    uint64_t safe = dispatched_;
    for (const auto& q : pending_)
      if (!q.empty()) safe = std::min(safe, q.front().seq - 1);
    return safe;
  }
  // Capture time of the oldest unfinished event, or 0 when none is pending.
  int64_t OldestPendingCaptureMs() const {
    std::lock_guard<std::mutex> l(mu_);
    int64_t t = 0;
    for (const auto& q : pending_)
      if (!q.empty() && (t == 0 || q.front().capture_ms < t)) t = q.front().capture_ms;
    return t;
  }
  // Per-namespace figures at now_ms, for the status file.
  void FillNamespaces(int64_t now_ms, pb::ProcessStatus* st) const {
    std::lock_guard<std::mutex> l(mu_);
    for (const NsFigures& f : ns_) {
      pb::NamespaceStatus* n = st->add_namespaces();
      n->set_ns(f.ns);
      n->set_events_applied(f.applied);
      n->set_last_applied_source_ms(f.last_source_ms);
      if (!f.pending.empty()) {
        const int64_t oldest = f.pending.begin()->second;
        n->set_oldest_pending_capture_ms(oldest);
        n->set_gap_in_seconds(static_cast<double>(std::max<int64_t>(0, now_ms - oldest)) / 1000.0);
      }
    }
  }
  uint64_t total_done() const {
    std::lock_guard<std::mutex> l(mu_);
    return total_done_;
  }
  int64_t last_done_time_ms() const {
    std::lock_guard<std::mutex> l(mu_);
    return last_done_time_ms_;
  }

 private:
  struct Pending {
    uint64_t seq;
    int64_t time_ms;     // source time
    int64_t capture_ms;  // capture time
    int ns;              // index into ns_
  };
  struct NsFigures {
    std::string ns;
    uint64_t applied = 0;
    int64_t last_source_ms = 0;
    std::map<uint64_t, int64_t> pending;  // seq → capture time, read but not applied
  };
  int NsIndexLocked(const std::string& ns) {
    auto [it, inserted] = ns_index_.try_emplace(ns, static_cast<int>(ns_.size()));
    if (inserted) {
      ns_.emplace_back();
      ns_.back().ns = ns;
    }
    return it->second;
  }

  mutable std::mutex mu_;
  std::vector<std::deque<Pending>> pending_;
  std::vector<NsFigures> ns_;
  std::map<std::string, int> ns_index_;
  uint64_t dispatched_;
  int64_t last_done_time_ms_;
  uint64_t total_done_ = 0;
};

}  // namespace docshift::apply
