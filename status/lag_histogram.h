// LagHistogram: a fixed-bucket, log-scale histogram of lags (seconds), for apply's
// end-to-end lag (source time of an event → its bulk write acknowledged by the target).
//
// Buckets: upper bounds 10^(k/10) seconds for k = -40 .. 40, i.e. 100 µs to 10^4 s, ten
// per decade (each ~26% wider than the previous one), plus an overflow bucket. A
// percentile is interpolated log-linearly inside its bucket and clamped to the observed
// min/max, so it is within one bucket width (~26%) of the true value, and exact for max.
// Negative lags (the source clock ahead of ours) count in the first bucket.
//
// Thread safety: Record() is lock-free (relaxed atomics) and may be called from any
// thread; Take() may run concurrently with Record() and sees a consistent-enough view
// (counts may be a few records apart from sum/count, never torn).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

namespace docshift::pb {
class LagHistogram;
}

namespace docshift::status {

struct LagSnapshot {
  std::vector<double> upper_bounds;  // seconds, ascending; the last is +inf
  std::vector<uint64_t> counts;      // per bucket, not cumulative
  uint64_t count = 0;
  double sum = 0;  // seconds
  double min = 0;  // seconds (0 when count == 0)
  double max = 0;

  // q in [0, 1]: the lag below which a fraction q of the records fall (0 when empty).
  double Percentile(double q) const;
  void ToProto(pb::LagHistogram* out) const;
  // An empty snapshot if the proto is empty or malformed (bounds/counts differ in size).
  static LagSnapshot FromProto(const pb::LagHistogram& in);
};

class LagHistogram {
 public:
  static constexpr int kMinExp = -40;  // 10^(-40/10) s = 100 µs
  static constexpr int kMaxExp = 40;   // 10^(40/10) s = 10^4 s
  static constexpr int kBuckets = kMaxExp - kMinExp + 2;  // + overflow

  LagHistogram();
  void Record(double seconds);
  LagSnapshot Take() const;
  // The bucket upper bounds (seconds); the last is +inf.
  static const std::array<double, kBuckets>& Bounds();

 private:
  std::array<std::atomic<uint64_t>, kBuckets> counts_;
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_us_{0};
  std::atomic<int64_t> min_us_;
  std::atomic<int64_t> max_us_{0};
};

}  // namespace docshift::status
