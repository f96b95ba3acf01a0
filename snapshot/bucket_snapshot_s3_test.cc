// The objects of a snapshot shared by workers through a bucket (snapshot/bucket_snapshot.h)
// against a real gofakes3 (S3_URL from build/testbed.env): one plan wins, one claim wins a
// race, an expired claim is taken over, a renewal after a takeover is refused, done objects
// and STATE.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <thread>

#include "aws/s3_client.h"
#include "bucket/s3_test_util.h"
#include "snapshot/bucket_snapshot.h"
#include "util/duration.h"

namespace docshift::snapshot {
namespace {

namespace s3t = bucket::s3_test;
constexpr int64_t kLease = 30'000;

std::unique_ptr<BucketSnapshotStore> NewStore(const bucket::BucketLocation& loc, const std::string& id) {
  return std::make_unique<BucketSnapshotStore>(s3t::NewClient(), loc, WorkerIdentity{id, "host-" + id, 42});
}

pb::SnapshotState SmallPlan(const std::string& id) {
  pb::SnapshotState p;
  p.set_snapshot_id(id);
  p.set_start_seq(17);
  p.set_started_wall_ms(1000);
  auto* c = p.add_collections();
  c->set_db("d");
  c->set_coll("c");
  c->set_estimated_docs(300);
  for (int i = 0; i < 3; ++i) c->add_ranges();
  return p;
}

TEST(BucketSnapshotS3, OnePlanWinsTheOtherReadsIt) {
  auto loc = s3t::FreshLocation("snapplan", "p");
  auto a = NewStore(loc, "wa"), b = NewStore(loc, "wb");
  pb::SnapshotState got;
  EXPECT_TRUE(a->ReadPlan(&got).IsNotFound());
  pb::SnapshotState pa = SmallPlan("snap-a"), pb_ = SmallPlan("snap-b");
  bool won_a = false, won_b = false;
  ASSERT_TRUE(a->CreatePlan(&pa, &won_a).ok());
  ASSERT_TRUE(b->CreatePlan(&pb_, &won_b).ok());
  EXPECT_TRUE(won_a);
  EXPECT_FALSE(won_b);
  EXPECT_EQ(pb_.snapshot_id(), "snap-a");  // the loser now holds the winner's plan
  ASSERT_TRUE(b->ReadPlan(&got).ok());
  EXPECT_EQ(got.snapshot_id(), "snap-a");
  EXPECT_EQ(got.start_seq(), 17u);
}

TEST(BucketSnapshotS3, TwoClaimersRaceOneWins) {
  auto loc = s3t::FreshLocation("snapclaim", "r");
  pb::SnapshotState plan = SmallPlan("snap-r");
  std::vector<std::unique_ptr<BucketSnapshotStore>> stores;
  for (int i = 0; i < 4; ++i) stores.push_back(NewStore(loc, "w" + std::to_string(i)));
  bool won = false;
  ASSERT_TRUE(stores[0]->CreatePlan(&plan, &won).ok());
  for (auto& s : stores) ASSERT_TRUE(s->ReadPlan(&plan).ok());
  const std::string id = RangeId(0, 1);
  std::atomic<int> ok{0}, lost{0}, other{0};
  std::barrier start(static_cast<std::ptrdiff_t>(stores.size()));
  std::vector<std::thread> ts;
  for (auto& s : stores) {
    ts.emplace_back([&, st = s.get()] {
      start.arrive_and_wait();
      Status c = st->Claim(id, "", 5000);
      (c.ok() ? ok : c.IsFailedPrecondition() ? lost : other)++;
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(lost.load(), 3);
  EXPECT_EQ(other.load(), 0);
  auto view = stores[0]->ReadClaims();
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  ASSERT_EQ(view->claims.count(id), 1u);
  EXPECT_EQ(view->claims[id].updated_wall_ms, 5000);
  int holders = 0;
  for (auto& s : stores) holders += s->Held().count(id);
  EXPECT_EQ(holders, 1);
}

TEST(BucketSnapshotS3, ExpiredLeaseTakenOverAndOldHolderFenced) {
  auto loc = s3t::FreshLocation("snaptake", "t");
  pb::SnapshotState plan = SmallPlan("snap-t");
  auto a = NewStore(loc, "wa"), b = NewStore(loc, "wb");
  bool won = false;
  ASSERT_TRUE(a->CreatePlan(&plan, &won).ok());
  ASSERT_TRUE(b->ReadPlan(&plan).ok());
  const auto ids = PlanRangeIds(plan);
  ASSERT_TRUE(a->Claim(ids[0], "", 10'000).ok());
  ASSERT_TRUE(a->Renew(ids[0], 20'000).ok());  // renewed: the lease runs from 20 s
  auto view = b->ReadClaims();
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->claims[ids[0]].updated_wall_ms, 20'000);
  // Before the lease ends b takes the free ranges, never a's.
  NextRange n = ChooseNextRange({ids[0]}, *view, "wb", 20'000 + kLease - 1, kLease);
  EXPECT_EQ(n.kind, NextRange::Kind::kWait);
  n = ChooseNextRange({ids[0]}, *view, "wb", 20'000 + kLease, kLease);
  ASSERT_EQ(n.kind, NextRange::Kind::kTakeOver);
  EXPECT_EQ(n.from_holder, "wa");
  // A stale ETag is refused (a takeover decided on an old read loses).
  EXPECT_TRUE(b->Claim(ids[0], "\"0123456789abcdef0123456789abcdef\"", 50'001).IsFailedPrecondition());
  ASSERT_TRUE(b->Claim(ids[0], n.etag, 50'001).ok());
  // a's renewal now fails: it must stop copying the range, and forgets it.
  Status r = a->Renew(ids[0], 50'002);
  EXPECT_TRUE(r.IsFailedPrecondition()) << r.ToString();
  EXPECT_EQ(a->Held().count(ids[0]), 0u);
  EXPECT_TRUE(a->Renew(ids[0], 50'003).ok());  // nothing held: nothing to renew
  // b holds it and renews it.
  EXPECT_TRUE(b->Renew(ids[0], 50'004).ok());
  view = a->ReadClaims();
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->claims[ids[0]].holder, "wb");
  EXPECT_EQ(view->claims[ids[0]].updated_wall_ms, 50'004);
}

TEST(BucketSnapshotS3, DoneObjectsStateAndProgress) {
  auto loc = s3t::FreshLocation("snapdone", "d");
  pb::SnapshotState plan = SmallPlan("snap-d");
  auto a = NewStore(loc, "wa"), b = NewStore(loc, "wb");
  bool won = false;
  ASSERT_TRUE(a->CreatePlan(&plan, &won).ok());
  ASSERT_TRUE(b->ReadPlan(&plan).ok());
  // STATE unfinished with the plan's start_seq, before any range.
  ASSERT_TRUE(a->EnsureStateStarted(plan).ok());
  ASSERT_TRUE(b->EnsureStateStarted(plan).ok());
  pb::SnapshotState st;
  std::string etag;
  ASSERT_TRUE(a->ReadState(&st, &etag).ok());
  EXPECT_EQ(st.snapshot_id(), "snap-d");
  EXPECT_EQ(st.start_seq(), 17u);
  EXPECT_EQ(st.finished_wall_ms(), 0);
  const auto ids = PlanRangeIds(plan);
  ASSERT_TRUE(a->Claim(ids[0], "", NowMs()).ok());
  ASSERT_TRUE(a->MarkDone(ids[0], 100, 1000, NowMs()).ok());
  EXPECT_EQ(a->Held().count(ids[0]), 0u);
  // Copied twice (taken over while the first finished): both done writes succeed.
  ASSERT_TRUE(b->MarkDone(ids[0], 100, 1000, NowMs()).ok());
  ASSERT_TRUE(b->Claim(ids[1], "", NowMs()).ok());
  auto p = ReadBucketSnapshotProgress(b.get(), kLease);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->ranges_total, 3);
  EXPECT_EQ(p->ranges_done, 1);
  EXPECT_EQ(p->ranges_claimed, 1);
  EXPECT_EQ(p->docs_done, 100u);
  EXPECT_EQ(p->workers, 1);
  ASSERT_TRUE(b->FinishState(plan, {"d.c x_1: refused"}).ok());
  ASSERT_TRUE(a->ReadState(&st, nullptr).ok());
  EXPECT_NE(st.finished_wall_ms(), 0);
  ASSERT_EQ(st.rejected_indexes_size(), 1);
  ASSERT_TRUE(a->FinishState(plan, {}).ok());  // finished already: left alone
  ASSERT_TRUE(a->ReadState(&st, nullptr).ok());
  EXPECT_EQ(st.rejected_indexes_size(), 1);
}

TEST(BucketSnapshotS3, StateOfAnotherSnapshotRefused) {
  auto loc = s3t::FreshLocation("snapother", "o");
  auto a = NewStore(loc, "wa");
  pb::SnapshotState local = SmallPlan("snap-local");
  ASSERT_TRUE(a->EnsureStateStarted(local).ok());  // as a shipped local STATE would be
  pb::SnapshotState plan = SmallPlan("snap-bucket");
  Status s = a->EnsureStateStarted(plan);
  EXPECT_TRUE(s.IsFailedPrecondition()) << s.ToString();
  EXPECT_NE(s.message().find("one way or the other"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace docshift::snapshot

int main(int argc, char** argv) { return docshift::bucket::s3_test::Main(argc, argv, "snapshot_bucket_s3_test"); }
