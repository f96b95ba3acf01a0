#include "snapshot/bucket_claims.h"

#include <algorithm>
#include <cstdio>
#include <functional>

namespace docshift::snapshot {

namespace {
constexpr size_t kSpread = 8;  // a worker picks among the first this many free ranges
}  // namespace

std::string RangeId(int coll, int range) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%04d-%06d", coll, range);
  return buf;
}

bool ParseRangeId(const std::string& id, int* coll, int* range) {
  if (id.size() != 11 || id[4] != '-') return false;
  for (size_t i = 0; i < id.size(); ++i) {
    if (i != 4 && (id[i] < '0' || id[i] > '9')) return false;
  }
  *coll = std::stoi(id.substr(0, 4));
  *range = std::stoi(id.substr(5));
  return true;
}

std::vector<std::string> PlanRangeIds(const pb::SnapshotState& plan) {
  std::vector<std::string> ids;
  for (int c = 0; c < plan.collections_size(); ++c) {
    for (int r = 0; r < plan.collections(c).ranges_size(); ++r) ids.push_back(RangeId(c, r));
  }
  return ids;
}

bool LeaseExpired(const ClaimSeen& c, int64_t now_ms, int64_t lease_ms) {
  return now_ms - c.updated_wall_ms >= lease_ms;
}

NextRange ChooseNextRange(const std::vector<std::string>& range_ids, const ClaimsView& view,
                          const std::string& self, int64_t now_ms, int64_t lease_ms,
                          const std::set<std::string>& skip) {
  NextRange next;
  std::vector<std::string> free;
  const ClaimSeen* expired = nullptr;
  std::string expired_id;
  bool all_done = true;
  auto consider = [&](const std::string& id) {
    if (view.done.count(id)) return;
    all_done = false;
    if (skip.count(id)) return;
    auto it = view.claims.find(id);
    if (it == view.claims.end()) {
      free.push_back(id);
    } else if (expired == nullptr && LeaseExpired(it->second, now_ms, lease_ms)) {
      expired = &it->second;
      expired_id = id;
    }
  };
  for (const auto& id : range_ids) consider(id);
  if (all_done) {
    // Every range is on the target: the last step, once.
    consider(kFinishRangeId);
    if (all_done) {
      next.kind = NextRange::Kind::kAllDone;
      return next;
    }
  }
  if (!free.empty()) {
    const size_t n = std::min(free.size(), kSpread);
    next.kind = NextRange::Kind::kTake;
    next.range_id = free[std::hash<std::string>{}(self) % n];
    return next;
  }
  if (expired != nullptr) {
    next.kind = NextRange::Kind::kTakeOver;
    next.range_id = expired_id;
    next.etag = expired->etag;
    next.from_holder = expired->holder;
    return next;
  }
  next.kind = NextRange::Kind::kWait;
  return next;
}

SnapshotProgress ComputeProgress(const pb::SnapshotState& plan, const ClaimsView& view, int64_t now_ms,
                                 int64_t lease_ms) {
  SnapshotProgress p;
  std::set<std::string> live_holders;
  uint64_t est = 0;
  for (const auto& c : plan.collections()) est += c.estimated_docs();
  p.docs_estimated = est;
  p.collection_ranges_done.assign(static_cast<size_t>(plan.collections_size()), 0);
  p.collection_docs_done.assign(static_cast<size_t>(plan.collections_size()), 0);
  for (const auto& id : PlanRangeIds(plan)) {
    ++p.ranges_total;
    auto d = view.done.find(id);
    if (d != view.done.end()) {
      ++p.ranges_done;
      p.docs_done += d->second.docs();
      p.bytes_done += d->second.bytes();
      int coll = 0, range = 0;
      if (ParseRangeId(id, &coll, &range) && coll >= 0 && coll < plan.collections_size()) {
        ++p.collection_ranges_done[static_cast<size_t>(coll)];
        p.collection_docs_done[static_cast<size_t>(coll)] += d->second.docs();
      }
      continue;
    }
    auto c = view.claims.find(id);
    if (c == view.claims.end()) continue;
    if (LeaseExpired(c->second, now_ms, lease_ms)) {
      ++p.ranges_stale;
    } else {
      ++p.ranges_claimed;
      live_holders.insert(c->second.holder);
    }
  }
  p.workers = static_cast<int>(live_holders.size());
  p.finished = view.done.count(kFinishRangeId) > 0;
  const double secs = (now_ms - plan.started_wall_ms()) / 1000.0;
  if (p.finished || p.ranges_done == p.ranges_total) {
    p.eta_s = 0;
  } else if (p.ranges_done > 0 && secs > 0) {
    if (est > p.docs_done && p.docs_done > 0) {
      p.eta_s = (est - p.docs_done) / (p.docs_done / secs);
    } else {
      p.eta_s = (p.ranges_total - p.ranges_done) / (p.ranges_done / secs);
    }
  }
  return p;
}

std::string SnapshotProgress::ToString() const {
  std::string s = "ranges " + std::to_string(ranges_done) + "/" + std::to_string(ranges_total) + " done, " +
                  std::to_string(ranges_claimed) + " copying (" + std::to_string(workers) + " worker" +
                  (workers == 1 ? "" : "s") + ")";
  if (ranges_stale > 0) s += ", " + std::to_string(ranges_stale) + " held by silent workers";
  s += ", " + std::to_string(docs_done) + (docs_estimated ? "/~" + std::to_string(docs_estimated) : "") + " docs";
  if (finished) {
    s += ", finished";
  } else if (eta_s >= 0) {
    const long t = static_cast<long>(eta_s + 0.5);
    char buf[48];
    snprintf(buf, sizeof(buf), ", ETA %ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    s += buf;
  } else {
    s += ", ETA ?";
  }
  return s;
}

}  // namespace docshift::snapshot
