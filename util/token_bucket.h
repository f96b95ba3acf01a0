// A budget of units per second shared by every thread of a process (a token bucket):
// `snapshot --max_rcu` (DynamoDB read capacity units, charged after each read with what
// the server says it consumed), and the load limits of issue #14.
//
// The bucket holds at most one second of budget. Two ways to spend it:
//   - WaitMicros() then Charge(n): a caller that learns the cost after the fact (a Scan
//     page's consumed capacity) may overdraw once; the next callers then wait until the
//     debt is repaid.
//   - Reserve(n): takes n units at once and returns how long *this* caller must wait
//     before using them (until the debt its reservation made is repaid). Callers on many
//     threads each wait their own turn, so n units per call may be as large as a batch
//     and the long-run rate is still the limit (LoadLimit below).
//
// Thread safety: all methods are thread-safe. The clock is a parameter for tests.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>

namespace docshift {

class TokenBucket {
 public:
  using Clock = std::function<int64_t()>;  // microseconds, monotonic
  // rate_per_s <= 0: unlimited (Acquire never waits).
  explicit TokenBucket(double rate_per_s, Clock clock = SteadyMicros)
      : rate_(rate_per_s), clock_(std::move(clock)), tokens_(rate_per_s), last_us_(clock_()),
        created_us_(last_us_) {}

  bool limited() const { return rate_ > 0; }

  // How long to wait before the next unit may be spent (0: now). Does not consume.
  int64_t WaitMicros() {
    if (!limited()) return 0;
    std::lock_guard<std::mutex> l(mu_);
    Refill();
    if (tokens_ > 0) return 0;
    return static_cast<int64_t>((-tokens_ + 1e-9) / rate_ * 1e6) + 1;
  }

  // Spends n units (possibly overdrawing: see above).
  void Charge(double n) {
    if (!limited()) return;
    std::lock_guard<std::mutex> l(mu_);
    Refill();
    tokens_ -= n;
    spent_ += n;
  }

  // Takes n units now and returns the microseconds the caller must wait before using
  // them (0: at once). Unlimited: counts them and returns 0.
  int64_t Reserve(double n) {
    std::lock_guard<std::mutex> l(mu_);
    spent_ += n;
    if (!limited()) return 0;
    Refill();
    tokens_ -= n;
    return tokens_ >= 0 ? 0 : static_cast<int64_t>(-tokens_ / rate_ * 1e6) + 1;
  }

  // Units charged or reserved so far (for the achieved rate in status and metrics).
  double spent() {
    std::lock_guard<std::mutex> l(mu_);
    return spent_;
  }
  double rate() const { return rate_; }
  // Units spent per second since the bucket was made.
  double AchievedPerSecond() {
    std::lock_guard<std::mutex> l(mu_);
    const int64_t us = clock_() - created_us_;
    return us > 0 ? spent_ * 1e6 / static_cast<double>(us) : 0.0;
  }

  static int64_t SteadyMicros() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch()).count();
  }

 private:
  void Refill() {
    const int64_t now = clock_();
    tokens_ = std::min(rate_, tokens_ + (now - last_us_) * rate_ / 1e6);
    last_us_ = now;
  }

  const double rate_;
  const Clock clock_;
  std::mutex mu_;
  double tokens_;
  int64_t last_us_;
  const int64_t created_us_;
  double spent_ = 0;
};

}  // namespace docshift
