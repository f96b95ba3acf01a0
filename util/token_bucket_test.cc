#include "util/token_bucket.h"

#include "util/load_limit.h"

#include <gtest/gtest.h>

namespace docshift {
namespace {

struct FakeClock {
  int64_t us = 0;
  TokenBucket::Clock fn() {
    return [this] { return us; };
  }
};

TEST(TokenBucketTest, UnlimitedNeverWaits) {
  TokenBucket b(0);
  b.Charge(1e9);
  EXPECT_EQ(b.WaitMicros(), 0);
  EXPECT_FALSE(b.limited());
}

TEST(TokenBucketTest, StartsWithOneSecondOfBudget) {
  FakeClock c;
  TokenBucket b(100, c.fn());
  EXPECT_EQ(b.WaitMicros(), 0);
  b.Charge(100);
  EXPECT_GT(b.WaitMicros(), 0);  // empty: the next unit needs 10 ms
  EXPECT_LE(b.WaitMicros(), 10'001);
  c.us += 10'000;
  EXPECT_EQ(b.WaitMicros(), 0);
}

TEST(TokenBucketTest, DebtIsRepaidBeforeTheNextSpend) {
  FakeClock c;
  TokenBucket b(10, c.fn());
  b.Charge(10);
  b.Charge(40);  // one read that cost 4 s of budget
  const int64_t w = b.WaitMicros();
  EXPECT_GE(w, 4'000'000);
  EXPECT_LE(w, 4'000'001 + 100'000);
  c.us += 4'000'000;
  EXPECT_GT(b.WaitMicros(), 0);  // still exactly at zero: one more unit needed
  c.us += 100'000;
  EXPECT_EQ(b.WaitMicros(), 0);
}

TEST(TokenBucketTest, BurstIsCappedAtOneSecond) {
  FakeClock c;
  TokenBucket b(50, c.fn());
  c.us += 60'000'000;  // a minute idle does not buy a minute of budget
  b.Charge(50);
  EXPECT_GT(b.WaitMicros(), 0);
}

TEST(TokenBucketTest, LongRunRateIsTheLimit) {
  FakeClock c;
  TokenBucket b(200, c.fn());
  double spent = 0;
  // A caller that waits as told and charges 7 units each time, for 100 simulated seconds.
  while (c.us < 100'000'000) {
    const int64_t w = b.WaitMicros();
    if (w > 0) {
      c.us += w;
      continue;
    }
    b.Charge(7);
    spent += 7;
  }
  EXPECT_NEAR(spent / 100.0, 200.0, 200.0 * 0.02);
  EXPECT_DOUBLE_EQ(b.spent(), spent);
}

TEST(TokenBucketTest, ReserveMakesEachCallerWaitItsOwnTurn) {
  FakeClock c;
  TokenBucket b(100, c.fn());
  EXPECT_EQ(b.Reserve(100), 0);  // the first second's budget
  // Three callers reserve 50 each at the same instant: 0.5 s, 1 s, 1.5 s of debt.
  EXPECT_NEAR(b.Reserve(50), 500'000, 2);
  EXPECT_NEAR(b.Reserve(50), 1'000'000, 2);
  EXPECT_NEAR(b.Reserve(50), 1'500'000, 2);
  c.us += 1'500'000;
  EXPECT_EQ(b.Reserve(0), 0);  // repaid
  EXPECT_DOUBLE_EQ(b.spent(), 250);
}

TEST(TokenBucketTest, ReserveHoldsTheRateWithBatchesLargerThanTheLimit) {
  FakeClock c;
  TokenBucket b(40, c.fn());
  double spent = 0;
  // Batches of 100 (2.5 s of budget each), each caller sleeping what it is told, over 200 s.
  while (c.us < 200'000'000) {
    c.us += b.Reserve(100);
    spent += 100;
  }
  // One second of burst on top of the rate, no more.
  EXPECT_NEAR(spent, 40.0 * 200, 40 + 100);
  EXPECT_NEAR(b.AchievedPerSecond(), 40.0, 40.0 * 0.02);
}

TEST(TokenBucketTest, UnlimitedReserveCountsButNeverWaits) {
  FakeClock c;
  TokenBucket b(0, c.fn());
  EXPECT_EQ(b.Reserve(1e6), 0);
  c.us += 2'000'000;
  EXPECT_DOUBLE_EQ(b.spent(), 1e6);
  EXPECT_DOUBLE_EQ(b.AchievedPerSecond(), 5e5);
}

TEST(LoadLimitTest, TheSlowerDimensionDecides) {
  FakeClock c;
  LoadLimit l(1000, 1e6, c.fn());  // 1000 docs/s, 1 MB/s
  EXPECT_TRUE(l.limited());
  EXPECT_EQ(l.Reserve(1000, 1e6), 0);
  // 10 docs of 100 kB: the bytes say 1 s, the docs 10 ms.
  EXPECT_NEAR(l.Reserve(10, 1e6), 1'000'000, 2);
  LoadLimit docs_only(1000, 0, c.fn());
  EXPECT_EQ(docs_only.Reserve(1000, 1e12), 0);
  EXPECT_NEAR(docs_only.Reserve(10, 1e12), 10'000, 2);
  LoadLimit none(0, 0, c.fn());
  EXPECT_FALSE(none.limited());
  EXPECT_EQ(none.Reserve(1e9, 1e12), 0);
}

TEST(LoadLimitTest, TakeReturnsAtOnceWhenStopped) {
  LoadLimit l(1, 0);
  std::atomic<bool> stop{true};
  EXPECT_TRUE(l.Take(1, 0, nullptr));  // the first second's budget: no wait
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(l.Take(3600, 0, &stop));  // an hour of debt, but stopped
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

}  // namespace
}  // namespace docshift
