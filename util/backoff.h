// The one retry pacing used by every retry loop: exponential from 100 ms, doubling, capped
// at 5 s; and a sleep that ends early when the process is asked to stop, so no retry loop
// holds a stop up for longer than one slice.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <thread>

namespace docshift {

// The delay before retry number attempt + 1 (attempt 0: the first retry): 100 ms,
// doubling, at most 5 s.
inline int64_t BackoffDelayMs(int attempt) {
  return std::min<int64_t>(5000, int64_t{100} << std::min(std::max(attempt, 0), 6));
}

class Backoff {
 public:
  explicit Backoff(int64_t initial_ms = 100, int64_t max_ms = 5000)
      : initial_ms_(initial_ms), max_ms_(max_ms) {}
  // The delay before the next attempt, after one more failure.
  int64_t Next() {
    const int shift = std::min(failures_, 30);
    ++failures_;
    return std::min<int64_t>(max_ms_, initial_ms_ << shift);
  }
  void Reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  int64_t initial_ms_, max_ms_;
  int failures_ = 0;
};

// Sleeps ms in slices of at most 20 ms; returns true (early) once stopped() holds.
template <typename StopFn>
  requires std::invocable<StopFn&>
bool SleepUnlessStopped(int64_t ms, StopFn&& stopped) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    if (stopped()) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now >= end) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(end - now, std::chrono::milliseconds(20)));
  }
}

// The same, stopping once *stop is set. A null stop never ends the sleep early.
inline bool SleepUnlessStopped(int64_t ms, const std::atomic<bool>* stop) {
  return SleepUnlessStopped(ms, [stop] { return stop != nullptr && stop->load(); });
}

}  // namespace docshift
