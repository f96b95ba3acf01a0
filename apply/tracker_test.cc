// apply's checkpoint arithmetic (issue #11 item 1): the safe checkpoint is just below the
// oldest event a lane has not finished, never past one, and never moves back.
#include "apply/tracker.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace docshift::apply {
namespace {

TEST(TrackerTest, SafeIsBelowTheOldestUnfinishedEvent) {
  Tracker t(2, /*start=*/1, 0);
  EXPECT_EQ(t.Safe(), 0u);
  t.Dispatch(0, 1, 100, "db.a", 1000);
  t.Dispatch(1, 2, 101, "db.b", 1001);
  t.Dispatch(0, 3, 102, "db.a", 1002);
  EXPECT_EQ(t.Safe(), 0u);
  t.Done(1, 1);  // seq 2 finished, seq 1 not yet
  EXPECT_EQ(t.Safe(), 0u);
  t.Done(0, 1);  // seq 1
  EXPECT_EQ(t.Safe(), 2u);
  t.Done(0, 1);  // seq 3
  EXPECT_EQ(t.Safe(), 3u);
  EXPECT_EQ(t.total_done(), 3u);
  EXPECT_EQ(t.last_done_time_ms(), 102);
}

TEST(TrackerTest, PassedAndSkippedEventsAdvanceOnlyPastFinishedOnes) {
  Tracker t(1, 10, 0);
  t.Dispatch(0, 10, 1, "db.a", 1);
  t.Passed(11, 2, nullptr);  // a noop needing no lane
  t.Skipped(12);             // before --from's time
  EXPECT_EQ(t.Safe(), 9u) << "passed an event a lane has not finished";
  t.Done(0, 1);
  EXPECT_EQ(t.Safe(), 12u);
  const std::string ns = "db.ddl";
  t.Passed(13, 50, &ns);  // a DDL counts as applied in its namespace
  EXPECT_EQ(t.Safe(), 13u);
  EXPECT_EQ(t.total_done(), 3u);  // seq 10, 11, 13; the skipped one is not counted
}

TEST(TrackerTest, NamespaceFiguresAndOldestPending) {
  Tracker t(2, 1, 0);
  t.Dispatch(0, 1, 100, "db.a", 5000);
  t.Dispatch(1, 2, 200, "db.b", 6000);
  EXPECT_EQ(t.OldestPendingCaptureMs(), 5000);
  t.Done(0, 1);
  EXPECT_EQ(t.OldestPendingCaptureMs(), 6000);
  pb::ProcessStatus st;
  t.FillNamespaces(/*now_ms=*/9000, &st);
  ASSERT_EQ(st.namespaces_size(), 2);
  EXPECT_EQ(st.namespaces(0).ns(), "db.a");
  EXPECT_EQ(st.namespaces(0).events_applied(), 1u);
  EXPECT_EQ(st.namespaces(0).gap_in_seconds(), 0.0);
  EXPECT_EQ(st.namespaces(1).ns(), "db.b");
  EXPECT_EQ(st.namespaces(1).oldest_pending_capture_ms(), 6000);
  EXPECT_DOUBLE_EQ(st.namespaces(1).gap_in_seconds(), 3.0);
  t.Done(1, 1);
  EXPECT_EQ(t.OldestPendingCaptureMs(), 0);
}

// Random dispatch over lanes, lanes finishing in their own order: Safe() is always the
// model's answer (one below the oldest unfinished, else the last dispatched) and never
// decreases.
TEST(TrackerTest, RandomizedAgainstAModel) {
  for (uint32_t seed = 1; seed <= 50; ++seed) {
    std::mt19937 rng(seed);
    const int lanes = 1 + static_cast<int>(rng() % 6);
    const uint64_t start = 1 + rng() % 1000;
    Tracker t(lanes, start, 0);
    std::vector<std::deque<uint64_t>> fifo(lanes);
    std::set<uint64_t> unfinished;
    uint64_t next = start, last_dispatched = start - 1, prev_safe = 0;
    for (int step = 0; step < 2000; ++step) {
      const uint32_t r = rng() % 10;
      if (r < 5) {
        const int lane = static_cast<int>(rng() % lanes);
        t.Dispatch(lane, next, 0, "db.c" + std::to_string(lane), 0);
        fifo[lane].push_back(next);
        unfinished.insert(next);
        last_dispatched = next++;
      } else if (r < 6) {
        t.Passed(next, 0);
        last_dispatched = next++;
      } else {
        const int lane = static_cast<int>(rng() % lanes);
        const size_t n = std::min<size_t>(fifo[lane].size(), rng() % 3);
        t.Done(lane, n);
        for (size_t i = 0; i < n; ++i) {
          unfinished.erase(fifo[lane].front());
          fifo[lane].pop_front();
        }
      }
      const uint64_t want = unfinished.empty() ? last_dispatched : *unfinished.begin() - 1;
      ASSERT_EQ(t.Safe(), want) << "seed " << seed << " step " << step;
      ASSERT_GE(t.Safe(), prev_safe) << "seed " << seed << " step " << step;
      prev_safe = t.Safe();
    }
  }
}

}  // namespace
}  // namespace docshift::apply
