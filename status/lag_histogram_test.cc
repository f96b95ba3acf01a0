#include "status/lag_histogram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

#include "proto/spool.pb.h"
#include "status/reporter.h"

namespace docshift::status {
namespace {

// One bucket is 10^0.1 ≈ 1.26 wide: a percentile is within that factor of the truth.
constexpr double kWidth = 1.2590;

void ExpectWithinBucket(double got, double want) {
  EXPECT_GE(got, want / kWidth) << "want ~" << want;
  EXPECT_LE(got, want * kWidth) << "want ~" << want;
}

TEST(LagHistogram, EmptyIsZero) {
  LagHistogram h;
  const LagSnapshot s = h.Take();
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.Percentile(0.5), 0);
  EXPECT_EQ(s.Percentile(0.99), 0);
  EXPECT_EQ(s.max, 0);
}

TEST(LagHistogram, SingleValueIsExact) {
  LagHistogram h;
  h.Record(0.3);
  const LagSnapshot s = h.Take();
  EXPECT_EQ(s.count, 1u);
  EXPECT_NEAR(s.Percentile(0.5), 0.3, 1e-6);
  EXPECT_NEAR(s.Percentile(0.99), 0.3, 1e-6);
  EXPECT_NEAR(s.max, 0.3, 1e-6);
  EXPECT_NEAR(s.sum, 0.3, 1e-6);
}

TEST(LagHistogram, UniformOneToThousandMs) {
  LagHistogram h;
  for (int i = 1; i <= 1000; ++i) h.Record(i / 1000.0);
  const LagSnapshot s = h.Take();
  EXPECT_EQ(s.count, 1000u);
  ExpectWithinBucket(s.Percentile(0.5), 0.5);
  ExpectWithinBucket(s.Percentile(0.9), 0.9);
  ExpectWithinBucket(s.Percentile(0.99), 0.99);
  EXPECT_NEAR(s.max, 1.0, 1e-6);
  EXPECT_NEAR(s.min, 0.001, 1e-6);
  EXPECT_NEAR(s.sum, 500.5, 1e-3);
  EXPECT_LE(s.Percentile(0.5), s.Percentile(0.9));
  EXPECT_LE(s.Percentile(0.9), s.Percentile(0.99));
  EXPECT_LE(s.Percentile(0.99), s.max);
  EXPECT_NEAR(s.Percentile(1.0), 1.0, 1e-6);
}

TEST(LagHistogram, TailIsSeenAtTheRightRank) {
  // 98 % fast, 2 % slow: p50 and p90 are fast, p99 is slow.
  LagHistogram h;
  for (int i = 0; i < 980; ++i) h.Record(0.010);
  for (int i = 0; i < 20; ++i) h.Record(5.0);
  const LagSnapshot s = h.Take();
  ExpectWithinBucket(s.Percentile(0.5), 0.010);
  ExpectWithinBucket(s.Percentile(0.9), 0.010);
  ExpectWithinBucket(s.Percentile(0.98), 0.010);
  ExpectWithinBucket(s.Percentile(0.99), 5.0);
  EXPECT_NEAR(s.max, 5.0, 1e-6);
}

TEST(LagHistogram, BucketsFollowPrometheusLe) {
  LagHistogram h;
  h.Record(1.0);  // exactly a bound: counted in le="1"
  h.Record(-2.0);  // source clock ahead: first bucket
  h.Record(1e9);   // past the last finite bound: overflow
  const LagSnapshot s = h.Take();
  const auto& b = LagHistogram::Bounds();
  size_t one = 0;
  while (std::fabs(b[one] - 1.0) > 1e-9) ++one;
  EXPECT_EQ(s.counts[one], 1u);
  EXPECT_EQ(s.counts[0], 1u);
  EXPECT_EQ(s.counts.back(), 1u);
  EXPECT_TRUE(std::isinf(s.upper_bounds.back()));
  EXPECT_NEAR(b[0], 1e-4, 1e-12);
  for (size_t i = 1; i + 1 < b.size(); ++i) EXPECT_NEAR(b[i] / b[i - 1], kWidth, 1e-3);
}

TEST(LagHistogram, ConcurrentRecordsAreAllCounted) {
  LagHistogram h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 50'000; ++i) h.Record(0.001 * (1 + (i + t) % 100));
    });
  }
  for (auto& th : threads) th.join();
  const LagSnapshot s = h.Take();
  EXPECT_EQ(s.count, 200'000u);
  uint64_t sum = 0;
  for (uint64_t c : s.counts) sum += c;
  EXPECT_EQ(sum, 200'000u);
  EXPECT_NEAR(s.max, 0.100, 1e-6);
}

TEST(LagHistogram, ProtoRoundTrip) {
  LagHistogram h;
  for (int i = 1; i <= 100; ++i) h.Record(i * 0.05);
  const LagSnapshot a = h.Take();
  pb::LagHistogram p;
  a.ToProto(&p);
  const LagSnapshot b = LagSnapshot::FromProto(p);
  EXPECT_EQ(b.count, a.count);
  EXPECT_EQ(b.counts, a.counts);
  EXPECT_DOUBLE_EQ(b.Percentile(0.99), a.Percentile(0.99));
  EXPECT_DOUBLE_EQ(b.max, a.max);
  pb::LagHistogram bad = p;
  bad.add_counts(1);  // sizes differ: refused
  EXPECT_EQ(LagSnapshot::FromProto(bad).count, 0u);
}

TEST(LagHistogram, ExportedAsAPrometheusHistogram) {
  LagHistogram h;
  h.Record(0.05);
  h.Record(0.5);
  h.Record(3.0);
  pb::ProcessStatus st;
  st.set_process("apply");
  h.Take().ToProto(st.mutable_end_to_end_lag());
  const std::string m = RenderMetrics(st);
  const std::string n = "docshift_apply_end_to_end_lag_seconds";
  EXPECT_NE(m.find("# TYPE " + n + " histogram\n"), std::string::npos) << m;
  // Cumulative: two records at or below 1 s, all three at +Inf.
  EXPECT_NE(m.find(n + "_bucket{le=\"1\"} 2\n"), std::string::npos) << m;
  EXPECT_NE(m.find(n + "_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << m;
  EXPECT_NE(m.find(n + "_count 3\n"), std::string::npos) << m;
  EXPECT_NE(m.find(n + "_sum 3.5"), std::string::npos) << m;  // 3.55 as %.17g
  // Capture has no such histogram.
  st.set_process("capture");
  EXPECT_EQ(RenderMetrics(st).find(n), std::string::npos);
}

}  // namespace
}  // namespace docshift::status
