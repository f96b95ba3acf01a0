// Shard lineage and positions of the DynamoDB source, on shard lists shaped like
// DescribeStream's (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_DescribeStream.html):
// no test-bed server splits or closes shards, so this is where lineage is tested.
#include "capture/dynamodb_lineage.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace docshift::capture {
namespace {

aws::ShardInfo Shard(const std::string& id, const std::string& parent = "", bool closed = false) {
  aws::ShardInfo s;
  s.shard_id = id;
  s.parent_shard_id = parent;
  s.starting_sequence_number = "100";
  if (closed) s.ending_sequence_number = "200";
  return s;
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(PlanShards, NewSpoolStartsEveryRootShard) {
  auto plan = PlanShards({Shard("a"), Shard("b")}, {}, {});
  EXPECT_EQ(Sorted(plan.start), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(plan.vanished.empty());
  EXPECT_TRUE(plan.forget.empty());
}

TEST(PlanShards, ParentIsReadToItsEndBeforeItsChildren) {
  // A split found while the parent is being read: the children wait.
  const std::vector<aws::ShardInfo> d = {Shard("p", "", true), Shard("c1", "p"), Shard("c2", "p")};
  auto plan = PlanShards(d, {{"p", {"150", false}}}, {"p"});
  EXPECT_TRUE(plan.start.empty());
  // Not running yet (a restart): the parent starts, the children still wait.
  plan = PlanShards(d, {{"p", {"150", false}}}, {});
  EXPECT_EQ(plan.start, (std::vector<std::string>{"p"}));
  // Parent done: both children start.
  plan = PlanShards(d, {{"p", {"200", true}}}, {});
  EXPECT_EQ(Sorted(plan.start), (std::vector<std::string>{"c1", "c2"}));
}

TEST(PlanShards, ChildOfATrimmedParentStarts) {
  auto plan = PlanShards({Shard("c", "gone-long-ago")}, {}, {});
  EXPECT_EQ(plan.start, (std::vector<std::string>{"c"}));
}

TEST(PlanShards, AnUnfinishedShardThatVanishedIsHistoryLost) {
  auto plan = PlanShards({Shard("c", "p")}, {{"p", {"150", false}}}, {});
  EXPECT_EQ(plan.vanished, (std::vector<std::string>{"p"}));
  EXPECT_TRUE(plan.start.empty()) << "the child of a lost parent must not be read";
  // A running reader's shard vanished as well.
  plan = PlanShards({}, {}, {"r"});
  EXPECT_EQ(plan.vanished, (std::vector<std::string>{"r"}));
}

TEST(PlanShards, DoneShardsNoLongerListedAreForgotten) {
  auto plan = PlanShards({Shard("c", "p")}, {{"p", {"200", true}}}, {});
  EXPECT_EQ(plan.forget, (std::vector<std::string>{"p"}));
  EXPECT_EQ(plan.start, (std::vector<std::string>{"c"}));
  EXPECT_TRUE(plan.vanished.empty());
}

TEST(PlanShards, DoneAndRunningShardsAreNotStartedAgain) {
  auto plan = PlanShards({Shard("a", "", true), Shard("b")}, {{"a", {"200", true}}}, {"b"});
  EXPECT_TRUE(plan.start.empty());
}

TEST(DynamoPositionTest, RoundTripAndSteps) {
  DynamoPosition p;
  p.tables.push_back({"orders", "arn:aws:dynamodb:us-east-1:1:table/orders/stream/2026", {}});
  p.tables.push_back({"users", "arn:u", {}});
  ApplyShardStep({"orders", "s1", "101", false, false}, &p);
  ApplyShardStep({"orders", "s1", "", true, false}, &p);  // done keeps the last seq
  ApplyShardStep({"orders", "s2", "300", false, false}, &p);
  ApplyShardStep({"nope", "s9", "1", false, false}, &p);  // unknown table: ignored
  DynamoPosition q;
  ASSERT_TRUE(DecodeDynamoPosition(EncodeDynamoPosition(p), &q).ok());
  ASSERT_EQ(q.tables.size(), 2u);
  EXPECT_EQ(q.tables[0].stream_arn, p.tables[0].stream_arn);
  EXPECT_EQ(q.tables[0].shards["s1"].last_seq, "101");
  EXPECT_TRUE(q.tables[0].shards["s1"].done);
  EXPECT_EQ(q.tables[0].shards["s2"].last_seq, "300");
  EXPECT_FALSE(q.tables[0].shards["s2"].done);
  EXPECT_TRUE(q.tables[1].shards.empty());
  ApplyShardStep({"orders", "s1", "", false, true}, &q);
  EXPECT_EQ(q.tables[0].shards.count("s1"), 0u);

  ShardStep st;
  ASSERT_TRUE(DecodeShardStep(EncodeShardStep({"orders", "s2", "301", true, false}), &st).ok());
  EXPECT_EQ(st.table, "orders");
  EXPECT_EQ(st.last_seq, "301");
  EXPECT_TRUE(st.done);
}

TEST(DynamoPositionTest, OtherKindsAndBadBytesAreRefused) {
  DynamoPosition p;
  EXPECT_TRUE(DecodeDynamoPosition("not bson", &p).IsCorruption());
  bson_t b = BSON_INITIALIZER;
  BSON_APPEND_UTF8(&b, "kind", "oplog");
  std::string oplog(reinterpret_cast<const char*>(bson_get_data(&b)), b.len);
  bson_destroy(&b);
  EXPECT_TRUE(DecodeDynamoPosition(oplog, &p).IsFailedPrecondition());
  bson_t c = BSON_INITIALIZER;
  BSON_APPEND_UTF8(&c, "kind", "dynamodb");
  std::string no_tables(reinterpret_cast<const char*>(bson_get_data(&c)), c.len);
  bson_destroy(&c);
  EXPECT_TRUE(DecodeDynamoPosition(no_tables, &p).IsCorruption());
}

// Model check: random lineages (splits and roll-overs), read by repeatedly planning,
// finishing running shards in random order and trimming done ones: every shard is read
// exactly once, and never before its parent is done.
TEST(PlanShards, RandomLineagesReadEveryShardOnceParentsFirst) {
  for (int seed = 0; seed < 200; ++seed) {
    std::mt19937 rng(seed);
    std::vector<aws::ShardInfo> all = {Shard("s0")};
    for (int i = 1; i < 30; ++i) {
      const auto& parent = all[rng() % all.size()];
      all.push_back(Shard("s" + std::to_string(i), parent.shard_id));
    }
    std::map<std::string, ShardPosition> known;
    std::set<std::string> running;
    std::map<std::string, int> started;
    std::vector<aws::ShardInfo> listed = all;
    for (int step = 0; step < 500; ++step) {
      auto plan = PlanShards(listed, known, running);
      ASSERT_TRUE(plan.vanished.empty()) << "seed " << seed;
      for (const auto& id : plan.forget) known.erase(id);
      for (const auto& id : plan.start) {
        const auto& info = *std::find_if(all.begin(), all.end(), [&](const auto& s) { return s.shard_id == id; });
        if (!info.parent_shard_id.empty()) {
          // The parent is done or was trimmed after being done.
          const bool parent_listed = std::any_of(listed.begin(), listed.end(),
                                                 [&](const auto& s) { return s.shard_id == info.parent_shard_id; });
          ASSERT_TRUE(!parent_listed || known[info.parent_shard_id].done) << "seed " << seed << " shard " << id;
          ASSERT_TRUE(parent_listed || started.count(info.parent_shard_id) != 0) << "seed " << seed;
        }
        ++started[id];
        running.insert(id);
      }
      if (!running.empty()) {  // one random running shard finishes
        auto it = running.begin();
        std::advance(it, rng() % running.size());
        known[*it] = ShardPosition{"9", true};
        running.erase(it);
      }
      if (rng() % 4 == 0) {  // trimming: drop a done shard from the listing
        for (auto it = listed.begin(); it != listed.end(); ++it) {
          if (known.count(it->shard_id) != 0 && known[it->shard_id].done) {
            listed.erase(it);
            break;
          }
        }
      }
    }
    EXPECT_EQ(started.size(), all.size()) << "seed " << seed;
    for (const auto& [id, n] : started) EXPECT_EQ(n, 1) << "seed " << seed << " shard " << id;
  }
}

}  // namespace
}  // namespace docshift::capture
