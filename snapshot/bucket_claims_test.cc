#include "snapshot/bucket_claims.h"

#include <gtest/gtest.h>

namespace docshift::snapshot {
namespace {

using Kind = NextRange::Kind;
constexpr int64_t kLease = 30'000;

std::vector<std::string> Ids(int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(RangeId(0, i));
  return ids;
}

pb::SnapshotClaim Done(uint64_t docs) {
  pb::SnapshotClaim d;
  d.set_docs(docs);
  d.set_bytes(docs * 10);
  return d;
}

TEST(BucketClaims, RangeIdsRoundTrip) {
  EXPECT_EQ(RangeId(3, 17), "0003-000017");
  int c = -1, r = -1;
  ASSERT_TRUE(ParseRangeId("0003-000017", &c, &r));
  EXPECT_EQ(c, 3);
  EXPECT_EQ(r, 17);
  EXPECT_FALSE(ParseRangeId(kFinishRangeId, &c, &r));
  EXPECT_FALSE(ParseRangeId("0003_000017", &c, &r));
  EXPECT_FALSE(ParseRangeId("0003-00001x", &c, &r));
  pb::SnapshotState plan;
  plan.add_collections()->add_ranges();
  auto* c2 = plan.add_collections();
  c2->add_ranges();
  c2->add_ranges();
  EXPECT_EQ(PlanRangeIds(plan), (std::vector<std::string>{"0000-000000", "0001-000000", "0001-000001"}));
}

TEST(BucketClaims, TakesAFreeRangeAmongTheFirstFew) {
  ClaimsView v;
  auto ids = Ids(20);
  NextRange n = ChooseNextRange(ids, v, "w1", 1000, kLease);
  ASSERT_EQ(n.kind, Kind::kTake);
  // Among the first 8, by the worker id; the same worker always picks the same.
  auto pos = std::find(ids.begin(), ids.end(), n.range_id) - ids.begin();
  EXPECT_LT(pos, 8);
  EXPECT_EQ(ChooseNextRange(ids, v, "w1", 1000, kLease).range_id, n.range_id);
  // Different workers spread over the first ranges.
  std::set<std::string> picked;
  for (int w = 0; w < 16; ++w) picked.insert(ChooseNextRange(ids, v, "worker-" + std::to_string(w), 0, kLease).range_id);
  EXPECT_GT(picked.size(), 2u);
}

TEST(BucketClaims, SkipsDoneAndLiveClaimsAndWaits) {
  ClaimsView v;
  auto ids = Ids(3);
  v.done[ids[0]] = Done(5);
  v.claims[ids[1]] = ClaimSeen{"w2", 10'000, "\"e1\""};
  NextRange n = ChooseNextRange(ids, v, "w1", 20'000, kLease);
  ASSERT_EQ(n.kind, Kind::kTake);
  EXPECT_EQ(n.range_id, ids[2]);
  v.claims[ids[2]] = ClaimSeen{"w3", 19'000, "\"e2\""};
  EXPECT_EQ(ChooseNextRange(ids, v, "w1", 20'000, kLease).kind, Kind::kWait);
  // A claim on a done range is nothing to take over.
  v.claims[ids[0]] = ClaimSeen{"w9", 0, "\"e0\""};
  EXPECT_EQ(ChooseNextRange(ids, v, "w1", 20'000, kLease).kind, Kind::kWait);
}

TEST(BucketClaims, TakesOverOnlyOnceTheLeaseExpired) {
  ClaimsView v;
  auto ids = Ids(1);
  v.claims[ids[0]] = ClaimSeen{"w2", 10'000, "\"etag-1\""};
  EXPECT_FALSE(LeaseExpired(v.claims[ids[0]], 10'000 + kLease - 1, kLease));
  EXPECT_TRUE(LeaseExpired(v.claims[ids[0]], 10'000 + kLease, kLease));
  EXPECT_EQ(ChooseNextRange(ids, v, "w1", 10'000 + kLease - 1, kLease).kind, Kind::kWait);
  NextRange n = ChooseNextRange(ids, v, "w1", 10'000 + kLease, kLease);
  ASSERT_EQ(n.kind, Kind::kTakeOver);
  EXPECT_EQ(n.range_id, ids[0]);
  EXPECT_EQ(n.etag, "\"etag-1\"");
  EXPECT_EQ(n.from_holder, "w2");
  // Never a range it holds (skip); its own expired claim it gave up, like any other.
  EXPECT_EQ(ChooseNextRange(ids, v, "w1", 10'000 + kLease, kLease, {ids[0]}).kind, Kind::kWait);
  EXPECT_EQ(ChooseNextRange(ids, v, "w2", 10'000 + kLease, kLease, {ids[0]}).kind, Kind::kWait);
  EXPECT_EQ(ChooseNextRange(ids, v, "w2", 10'000 + kLease, kLease).kind, Kind::kTakeOver);
}

TEST(BucketClaims, FreeRangesBeforeTakeovers) {
  ClaimsView v;
  auto ids = Ids(2);
  v.claims[ids[0]] = ClaimSeen{"w2", 0, "\"e\""};
  NextRange n = ChooseNextRange(ids, v, "w1", 100'000, kLease);
  EXPECT_EQ(n.kind, Kind::kTake);
  EXPECT_EQ(n.range_id, ids[1]);
}

TEST(BucketClaims, FinishComesLastThenAllDone) {
  ClaimsView v;
  auto ids = Ids(2);
  v.done[ids[0]] = Done(1);
  EXPECT_NE(ChooseNextRange(ids, v, "w1", 0, kLease).range_id, kFinishRangeId);
  v.done[ids[1]] = Done(1);
  NextRange n = ChooseNextRange(ids, v, "w1", 0, kLease);
  ASSERT_EQ(n.kind, Kind::kTake);
  EXPECT_EQ(n.range_id, kFinishRangeId);
  v.claims[kFinishRangeId] = ClaimSeen{"w2", 0, "\"f\""};
  EXPECT_EQ(ChooseNextRange(ids, v, "w1", 1000, kLease).kind, Kind::kWait);
  EXPECT_EQ(ChooseNextRange(ids, v, "w1", kLease, kLease).kind, Kind::kTakeOver);
  v.done[kFinishRangeId] = Done(0);
  EXPECT_EQ(ChooseNextRange(ids, v, "w1", kLease, kLease).kind, Kind::kAllDone);
  // An empty plan: only the finish step.
  ClaimsView empty;
  EXPECT_EQ(ChooseNextRange({}, empty, "w1", 0, kLease).range_id, kFinishRangeId);
}

TEST(BucketClaims, ProgressOfTheWholeSnapshot) {
  pb::SnapshotState plan;
  plan.set_started_wall_ms(0);
  auto* c = plan.add_collections();
  c->set_estimated_docs(1000);
  for (int i = 0; i < 4; ++i) c->add_ranges();
  ClaimsView v;
  SnapshotProgress p = ComputeProgress(plan, v, 10'000, kLease);
  EXPECT_EQ(p.ranges_total, 4);
  EXPECT_EQ(p.ranges_done, 0);
  EXPECT_LT(p.eta_s, 0);
  v.done[RangeId(0, 0)] = Done(250);
  v.claims[RangeId(0, 0)] = ClaimSeen{"w1", 9'000, ""};
  v.claims[RangeId(0, 1)] = ClaimSeen{"w1", 9'000, ""};
  v.claims[RangeId(0, 2)] = ClaimSeen{"w2", 9'000, ""};
  v.claims[RangeId(0, 3)] = ClaimSeen{"w3", -50'000, ""};  // silent
  p = ComputeProgress(plan, v, 10'000, kLease);
  EXPECT_EQ(p.ranges_done, 1);
  EXPECT_EQ(p.ranges_claimed, 2);
  EXPECT_EQ(p.ranges_stale, 1);
  EXPECT_EQ(p.workers, 2);
  EXPECT_EQ(p.docs_done, 250u);
  EXPECT_EQ(p.bytes_done, 2500u);
  // 250 docs in 10 s, 750 left: 30 s.
  EXPECT_NEAR(p.eta_s, 30.0, 0.01);
  EXPECT_NE(p.ToString().find("ranges 1/4 done, 2 copying (2 workers)"), std::string::npos) << p.ToString();
  EXPECT_NE(p.ToString().find("ETA 0:00:30"), std::string::npos) << p.ToString();
  EXPECT_FALSE(p.finished);
  for (int i = 1; i < 4; ++i) v.done[RangeId(0, i)] = Done(250);
  v.done[kFinishRangeId] = Done(0);
  p = ComputeProgress(plan, v, 20'000, kLease);
  EXPECT_TRUE(p.finished);
  EXPECT_EQ(p.eta_s, 0);
  EXPECT_NE(p.ToString().find("finished"), std::string::npos);
}

TEST(BucketClaims, ProgressPerCollectionInPlanOrder) {
  pb::SnapshotState plan;
  for (int k : {2, 3}) {
    auto* c = plan.add_collections();
    for (int i = 0; i < k; ++i) c->add_ranges();
  }
  ClaimsView v;
  v.done[RangeId(0, 1)] = Done(10);
  v.done[RangeId(1, 0)] = Done(7);
  v.done[RangeId(1, 2)] = Done(5);
  v.done[RangeId(5, 0)] = Done(99);  // not in the plan: counted nowhere
  SnapshotProgress p = ComputeProgress(plan, v, 1000, kLease);
  EXPECT_EQ(p.ranges_total, 5);
  EXPECT_EQ(p.ranges_done, 3);
  EXPECT_EQ(p.collection_ranges_done, (std::vector<int>{1, 2}));
  EXPECT_EQ(p.collection_docs_done, (std::vector<uint64_t>{10, 12}));
}

}  // namespace
}  // namespace docshift::snapshot
