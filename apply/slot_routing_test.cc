#include "apply/slot_routing.h"

#include <bson/bson.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

namespace docshift::apply {
namespace {

// The BSON bytes of a document key {_id: v}, built by libbson.
std::string KeyInt32(int32_t v) {
  bson_t b = BSON_INITIALIZER;
  BSON_APPEND_INT32(&b, "_id", v);
  std::string out(reinterpret_cast<const char*>(bson_get_data(&b)), b.len);
  bson_destroy(&b);
  return out;
}
std::string KeyUtf8(const std::string& v) {
  bson_t b = BSON_INITIALIZER;
  BSON_APPEND_UTF8(&b, "_id", v.c_str());
  std::string out(reinterpret_cast<const char*>(bson_get_data(&b)), b.len);
  bson_destroy(&b);
  return out;
}

TEST(SlotRouting, Fnv1a64PublishedVectors) {
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ull);
  // Continuing from a prefix is hashing the concatenation.
  EXPECT_EQ(Fnv1a64("bar", Fnv1a64("foo")), Fnv1a64("foobar"));
}

// The vectors of spool/FORMAT.md ("Apply slots"): a worker that computes anything else
// routes differently from the others, so these never change (a new rule gets a new name).
TEST(SlotRouting, FormatVectors) {
  EXPECT_EQ(kSlotHashName, "fnv1a64-ns-id/1");
  // "shop.orders" 0x00, int32 type 0x10, value 01 00 00 00.
  EXPECT_EQ(SlotHash("shop.orders", KeyInt32(1), false), 0x1d282d995340f5cdull);
  EXPECT_EQ(SlotOf("shop.orders", KeyInt32(1), false, 3), 0);
  // "shop.orders" 0x00, string type 0x02, length 04 00 00 00, "abc" 0x00.
  EXPECT_EQ(SlotHash("shop.orders", KeyUtf8("abc"), false), 0xa587bb8feee5f226ull);
  // By namespace alone (DDL, a secondary unique index): the namespace bytes.
  EXPECT_EQ(SlotHash("shop.users", KeyInt32(1), true), 0x523c4de2dc6f25d3ull);
  EXPECT_EQ(SlotOf("shop.users", KeyInt32(7), true, 3), 1);
}

TEST(SlotRouting, ByNamespaceIgnoresTheKey) {
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(SlotOf("db.u", KeyInt32(i), true, 7), SlotOf("db.u", "", true, 7));
  }
}

TEST(SlotRouting, OnlyTheIdElementCounts) {
  // Other key fields (a shard key) do not move a document between slots.
  bson_t b = BSON_INITIALIZER;
  BSON_APPEND_UTF8(&b, "region", "eu");
  BSON_APPEND_INT32(&b, "_id", 1);
  const std::string with_shard(reinterpret_cast<const char*>(bson_get_data(&b)), b.len);
  bson_destroy(&b);
  EXPECT_EQ(SlotHash("shop.orders", with_shard, false), SlotHash("shop.orders", KeyInt32(1), false));
  // The type byte counts: int32 1 and string "1" are different documents.
  EXPECT_NE(SlotHash("shop.orders", KeyInt32(1), false), SlotHash("shop.orders", KeyUtf8("1"), false));
  // A namespace boundary cannot be faked by moving bytes across it.
  EXPECT_NE(SlotHash("a.b", KeyInt32(1), false), SlotHash("a.b\x10", KeyInt32(1), false));
}

TEST(SlotRouting, NotBsonHashesTheWholeKey) {
  const std::string junk = "\x01\x02\x03";
  EXPECT_EQ(SlotHash("d.c", junk, false), Fnv1a64(junk, Fnv1a64(std::string("d.c\0", 4))));
}

TEST(SlotRouting, DistributionIsEven) {
  for (int n : {2, 3, 5, 64}) {
    std::map<int, int> count;
    const int docs = 20000;
    for (int i = 0; i < docs; ++i) count[SlotOf("shop.orders", KeyInt32(i), false, n)]++;
    ASSERT_EQ(static_cast<int>(count.size()), n) << n << " slots: one gets nothing";
    for (const auto& [slot, c] : count) {
      EXPECT_GT(c, docs / n * 8 / 10) << "slot " << slot << " of " << n;
      EXPECT_LT(c, docs / n * 12 / 10) << "slot " << slot << " of " << n;
    }
  }
}

TEST(SlotRouting, ParseSlot) {
  auto s = ParseSlot("2/3");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->index, 2);
  EXPECT_EQ(s->count, 3);
  ASSERT_TRUE(ParseSlot("0/1").ok());
  ASSERT_TRUE(ParseSlot("63/64").ok());
  for (const char* bad : {"", "3", "3/3", "0/0", "0/65", "-1/3", "1/", "/3", "a/b", "01/3", "1/3x", "1//3"}) {
    auto r = ParseSlot(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("--slot"), std::string::npos) << r.status().message();
    }
  }
}

TEST(SlotRouting, SlotNames) {
  EXPECT_EQ(SlotName("apply", 1, 3), "apply.slot-1-of-3");
  auto p = ParseSlotName("apply", "apply.slot-1-of-3");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->index, 1);
  EXPECT_EQ(p->count, 3);
  EXPECT_FALSE(ParseSlotName("apply", "apply").has_value());
  EXPECT_FALSE(ParseSlotName("apply", "other.slot-1-of-3").has_value());
  EXPECT_FALSE(ParseSlotName("apply", "apply.slot-3-of-3").has_value());
  EXPECT_FALSE(ParseSlotName("apply", "apply.slot-1-of-3.x").has_value());
  EXPECT_FALSE(ParseSlotName("app", "apply.slot-1-of-3").has_value());
}

using Ckpts = std::vector<std::optional<uint64_t>>;

TEST(SlotBarrier, OwnerWaitsForEverySlotBehind) {
  // DDL at seq 10, owner slot 1. Slot 0 at 9 (drained), slot 2 has no checkpoint yet.
  BarrierDecision d = DecideBarrier(1, 1, 10, Ckpts{9, 9, std::nullopt});
  EXPECT_EQ(d.step, BarrierStep::kWait);
  EXPECT_EQ(d.waiting_for, std::vector<int>{2});
  d = DecideBarrier(1, 1, 10, Ckpts{8, 9, 9});
  EXPECT_EQ(d.step, BarrierStep::kWait);
  EXPECT_EQ(d.waiting_for, std::vector<int>{0});
  d = DecideBarrier(1, 1, 10, Ckpts{9, 9, 9});
  EXPECT_EQ(d.step, BarrierStep::kRun);
  EXPECT_TRUE(d.waiting_for.empty());
  // Its own checkpoint does not matter (a restart inside the barrier).
  EXPECT_EQ(DecideBarrier(1, 1, 10, Ckpts{9, std::nullopt, 9}).step, BarrierStep::kRun);
}

TEST(SlotBarrier, OthersPassOnlyOnceTheOwnerRecordedIt) {
  BarrierDecision d = DecideBarrier(0, 1, 10, Ckpts{9, 9, 9});
  EXPECT_EQ(d.step, BarrierStep::kWait);
  EXPECT_EQ(d.waiting_for, std::vector<int>{1});
  EXPECT_EQ(DecideBarrier(0, 1, 10, Ckpts{9, std::nullopt, 9}).step, BarrierStep::kWait);
  EXPECT_EQ(DecideBarrier(0, 1, 10, Ckpts{9, 10, 9}).step, BarrierStep::kPass);
  EXPECT_EQ(DecideBarrier(2, 1, 10, Ckpts{9, 25, 9}).step, BarrierStep::kPass);
}

TEST(SlotBarrier, DdlAtTheFirstSequence) {
  // seq 1: the others need a checkpoint at 0, which a drained slot writes.
  EXPECT_EQ(DecideBarrier(0, 0, 1, Ckpts{0, 0}).step, BarrierStep::kRun);
  EXPECT_EQ(DecideBarrier(0, 0, 1, Ckpts{0, std::nullopt}).step, BarrierStep::kWait);
}

TEST(SlotBarrier, OneSlotRunsAlone) {
  EXPECT_EQ(DecideBarrier(0, 0, 5, Ckpts{std::nullopt}).step, BarrierStep::kRun);
}

}  // namespace
}  // namespace docshift::apply
