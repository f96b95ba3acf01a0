#include "util/token_bucket.h"

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

}  // namespace
}  // namespace docshift
