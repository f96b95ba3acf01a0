#include "status/lag_histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "proto/spool.pb.h"

namespace docshift::status {
namespace {

constexpr int64_t kNoMin = std::numeric_limits<int64_t>::max();

std::array<double, LagHistogram::kBuckets> MakeBounds() {
  std::array<double, LagHistogram::kBuckets> b{};
  for (int k = LagHistogram::kMinExp; k <= LagHistogram::kMaxExp; ++k) {
    b[static_cast<size_t>(k - LagHistogram::kMinExp)] = std::pow(10.0, k / 10.0);
  }
  b[LagHistogram::kBuckets - 1] = std::numeric_limits<double>::infinity();
  return b;
}

}  // namespace

const std::array<double, LagHistogram::kBuckets>& LagHistogram::Bounds() {
  static const std::array<double, kBuckets> bounds = MakeBounds();
  return bounds;
}

LagHistogram::LagHistogram() : min_us_(kNoMin) {
  for (auto& c : counts_) c.store(0, std::memory_order_relaxed);
}

void LagHistogram::Record(double seconds) {
  if (!(seconds > 0)) seconds = 0;  // negative (clock skew) or NaN: the first bucket
  const auto& b = Bounds();
  // First bucket whose upper bound is >= seconds (a value on a bound belongs to it, as
  // Prometheus' le does).
  const size_t i = static_cast<size_t>(std::lower_bound(b.begin(), b.end(), seconds) - b.begin());
  counts_[std::min(i, b.size() - 1)].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  const double us_d = std::min(seconds * 1e6, 9e18);
  const int64_t us = static_cast<int64_t>(us_d);
  sum_us_.fetch_add(static_cast<uint64_t>(us), std::memory_order_relaxed);
  int64_t cur = max_us_.load(std::memory_order_relaxed);
  while (us > cur && !max_us_.compare_exchange_weak(cur, us, std::memory_order_relaxed)) {
  }
  cur = min_us_.load(std::memory_order_relaxed);
  while (us < cur && !min_us_.compare_exchange_weak(cur, us, std::memory_order_relaxed)) {
  }
}

LagSnapshot LagHistogram::Take() const {
  LagSnapshot s;
  const auto& b = Bounds();
  s.upper_bounds.assign(b.begin(), b.end());
  s.counts.resize(b.size());
  uint64_t total = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    s.counts[i] = counts_[i].load(std::memory_order_relaxed);
    total += s.counts[i];
  }
  // The bucket counts define count, so percentiles are consistent with them.
  s.count = total;
  s.sum = static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / 1e6;
  if (total > 0) {
    const int64_t mn = min_us_.load(std::memory_order_relaxed);
    s.min = mn == kNoMin ? 0 : static_cast<double>(mn) / 1e6;
    s.max = static_cast<double>(max_us_.load(std::memory_order_relaxed)) / 1e6;
  }
  return s;
}

double LagSnapshot::Percentile(double q) const {
  if (count == 0 || counts.empty() || counts.size() != upper_bounds.size()) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // The rank of the wanted record, 1-based: the smallest r with r >= q * count.
  const double rank = std::max(1.0, std::ceil(q * static_cast<double>(count)));
  uint64_t below = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] == 0) continue;
    if (static_cast<double>(below + counts[i]) >= rank) {
      // Log-linear interpolation inside bucket i: (lo, hi], lo = previous bound.
      double lo = i == 0 ? std::min(min, upper_bounds[0]) : upper_bounds[i - 1];
      double hi = std::isinf(upper_bounds[i]) ? std::max(max, lo) : upper_bounds[i];
      lo = std::max(lo, min);
      hi = std::min(hi, max);
      if (hi <= lo) return std::clamp(hi, min, max);
      const double frac = (rank - static_cast<double>(below)) / static_cast<double>(counts[i]);
      double v;
      if (lo <= 0) {
        v = lo + (hi - lo) * frac;
      } else {
        v = lo * std::pow(hi / lo, frac);
      }
      return std::clamp(v, min, max);
    }
    below += counts[i];
  }
  return max;
}

void LagSnapshot::ToProto(pb::LagHistogram* out) const {
  out->Clear();
  for (double b : upper_bounds) out->add_upper_bounds_seconds(b);
  for (uint64_t c : counts) out->add_counts(c);
  out->set_count(count);
  out->set_sum_seconds(sum);
  out->set_min_seconds(min);
  out->set_max_seconds(max);
}

LagSnapshot LagSnapshot::FromProto(const pb::LagHistogram& in) {
  LagSnapshot s;
  if (in.upper_bounds_seconds_size() != in.counts_size()) return s;
  s.upper_bounds.assign(in.upper_bounds_seconds().begin(), in.upper_bounds_seconds().end());
  s.counts.assign(in.counts().begin(), in.counts().end());
  s.count = in.count();
  s.sum = in.sum_seconds();
  s.min = in.min_seconds();
  s.max = in.max_seconds();
  return s;
}

}  // namespace docshift::status
