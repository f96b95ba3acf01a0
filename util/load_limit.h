// The load limits of one process (issue #14): `snapshot`, `verify` and `reconcile`
// --max_docs_per_s / --max_mb_per_s, `apply --max_ops_per_s`. One LoadLimit per process,
// made by the command's Run and shared by every thread that reads or writes documents:
// one token bucket of units (documents or operations) and one of bytes (util/token_bucket.h).
//
// Take(units, bytes) reserves both at once and sleeps until the reservation is covered,
// so a batch is charged in one call and callers on many threads wait their own turn; the
// long-run rate is the limit, with at most one second of budget as a burst (the bucket
// starts full). Take sleeps in slices and returns false at once when *stop is set.
//
// What is counted is the caller's business (README "Load control"): snapshot charges
// each batch before it is inserted (documents, BSON bytes), verify and reconcile each
// source document read, apply each event written. A limit of 0 is unlimited: Take never
// sleeps, and the totals still count (the achieved rate is shown either way).
//
// Thread safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <sstream>
#include <string>

#include "util/backoff.h"
#include "util/token_bucket.h"

namespace docshift {

class LoadLimit {
 public:
  // units_per_s, bytes_per_s <= 0: that dimension is unlimited.
  LoadLimit(double units_per_s, double bytes_per_s, TokenBucket::Clock clock = TokenBucket::SteadyMicros)
      : units_(units_per_s, clock), bytes_(bytes_per_s, clock) {}

  bool limited() const { return units_.limited() || bytes_.limited(); }
  double units_limit() const { return units_.rate(); }
  double bytes_limit() const { return bytes_.rate(); }

  // Microseconds the caller must wait before spending units and bytes (reserved now).
  int64_t Reserve(double units, double bytes) {
    const int64_t a = units_.Reserve(units);
    const int64_t b = bytes_.Reserve(bytes);
    return a > b ? a : b;
  }

  // Reserve, then sleep out the wait. False if *stop was set before the wait ended (the
  // units stay spent: a stopping process does not need them back).
  bool Take(double units, double bytes, const std::atomic<bool>* stop) {
    const int64_t us = Reserve(units, bytes);
    if (us <= 0) return !(stop != nullptr && stop->load());
    return !SleepUnlessStopped((us + 999) / 1000, stop);
  }

  double units_total() { return units_.spent(); }
  double bytes_total() { return bytes_.spent(); }
  double units_per_s() { return units_.AchievedPerSecond(); }
  double bytes_per_s() { return bytes_.AchievedPerSecond(); }

  // "1234 docs/s (limit 1500), 2.1 MB/s (no limit)": for progress lines and summaries.
  std::string Describe(const std::string& unit) {
    std::ostringstream o;
    o.setf(std::ios::fixed);
    o.precision(1);
    o << units_per_s() << " " << unit << "/s";
    if (units_.limited()) o << " (limit " << units_limit() << ")";
    o << ", " << bytes_per_s() / 1e6 << " MB/s";
    if (bytes_.limited()) o << " (limit " << bytes_limit() / 1e6 << ")";
    return o.str();
  }

 private:
  TokenBucket units_, bytes_;
};

}  // namespace docshift
