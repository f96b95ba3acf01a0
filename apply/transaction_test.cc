// TxnGrouper: where apply --transactions=atomic cuts the spool into target transactions.
// Pure code; the target side (ProbeTransactions) is covered by e2e.transactions.
#include "apply/transaction.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace docshift::apply {
namespace {

pb::ChangeEvent Ev(pb::OpType op, const std::string& lsid = "", int64_t txn = 0) {
  pb::ChangeEvent e;
  e.set_op(op);
  e.set_db("d");
  e.set_coll("c");
  e.set_lsid(lsid);
  e.set_txn_number(txn);
  return e;
}

// What the applier does with a stream of events and empty batches ("" = empty batch):
// the groups applied atomically and the events applied alone, in the order applied.
struct Fed {
  std::vector<std::vector<int>> groups;  // indexes of events, per applied group
  std::vector<int> alone;
  std::vector<int> order;  // every event index, in the order it was applied
  std::vector<int> held;   // the open group at the end (not applied)
};

Fed Feed(const std::vector<const pb::ChangeEvent*>& stream) {
  Fed f;
  TxnGrouper g;
  std::vector<int> open;
  auto flush = [&] {
    if (!open.empty()) {
      f.groups.push_back(open);
      f.order.insert(f.order.end(), open.begin(), open.end());
    }
    open.clear();
  };
  for (size_t i = 0; i < stream.size(); ++i) {
    if (stream[i] == nullptr) {  // an empty batch
      if (g.EmptyBatch()) flush();
      continue;
    }
    const TxnGrouper::Step s = g.Next(*stream[i]);
    if (s.flush_before) flush();
    if (s.join) {
      open.push_back(static_cast<int>(i));
    } else {
      f.alone.push_back(static_cast<int>(i));
      f.order.push_back(static_cast<int>(i));
    }
  }
  f.held = open;
  return f;
}

TEST(TxnGrouperTest, OutsideTransactionsEveryEventGoesAlone) {
  const auto a = Ev(pb::OP_INSERT), b = Ev(pb::OP_UPDATE), c = Ev(pb::OP_DELETE);
  const Fed f = Feed({&a, &b, &c});
  EXPECT_TRUE(f.groups.empty());
  EXPECT_EQ(f.alone, (std::vector<int>{0, 1, 2}));
  EXPECT_TRUE(f.held.empty());
}

TEST(TxnGrouperTest, ATransactionEndsAtTheFirstEventNotOfIt) {
  const auto t1 = Ev(pb::OP_INSERT, "s1", 5), t2 = Ev(pb::OP_UPDATE, "s1", 5), t3 = Ev(pb::OP_DELETE, "s1", 5);
  const auto plain = Ev(pb::OP_INSERT);
  const Fed f = Feed({&t1, &t2, &t3, &plain});
  ASSERT_EQ(f.groups.size(), 1u);
  EXPECT_EQ(f.groups[0], (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(f.order, (std::vector<int>{0, 1, 2, 3}));  // the group before the later event
}

TEST(TxnGrouperTest, BackToBackTransactionsOfOneSessionStaySeparate) {
  // Same lsid, the next txnNumber: a new transaction.
  const auto a1 = Ev(pb::OP_INSERT, "s1", 5), a2 = Ev(pb::OP_INSERT, "s1", 5);
  const auto b1 = Ev(pb::OP_INSERT, "s1", 6);
  const auto c1 = Ev(pb::OP_INSERT, "s2", 6);
  const Fed f = Feed({&a1, &a2, &b1, &c1, nullptr});
  ASSERT_EQ(f.groups.size(), 3u);
  EXPECT_EQ(f.groups[0], (std::vector<int>{0, 1}));
  EXPECT_EQ(f.groups[1], (std::vector<int>{2}));
  EXPECT_EQ(f.groups[2], (std::vector<int>{3}));
}

TEST(TxnGrouperTest, TheSpoolEndingInsideATransactionHoldsIt) {
  // The rest of the transaction may still be on its way: nothing of it is applied.
  const auto p = Ev(pb::OP_INSERT), t1 = Ev(pb::OP_INSERT, "s1", 1), t2 = Ev(pb::OP_INSERT, "s1", 1);
  const Fed f = Feed({&p, &t1, &t2});
  EXPECT_TRUE(f.groups.empty());
  EXPECT_EQ(f.held, (std::vector<int>{1, 2}));
  // A batch with no events after it (the source's position moved on): complete.
  const Fed g = Feed({&p, &t1, &t2, nullptr});
  ASSERT_EQ(g.groups.size(), 1u);
  EXPECT_EQ(g.groups[0], (std::vector<int>{1, 2}));
  EXPECT_TRUE(g.held.empty());
}

TEST(TxnGrouperTest, AnEmptyBatchOutsideATransactionDoesNothing) {
  const auto p = Ev(pb::OP_INSERT);
  const Fed f = Feed({nullptr, &p, nullptr});
  EXPECT_TRUE(f.groups.empty());
  EXPECT_EQ(f.alone, (std::vector<int>{1}));
}

TEST(TxnGrouperTest, ADdlOrNoopEventEndsTheGroupAndGoesAlone) {
  // DDL carrying a transaction identity (create inside a transaction, 4.4+) is a barrier
  // run alone; it closes the group before it.
  const auto t1 = Ev(pb::OP_INSERT, "s1", 3), ddl = Ev(pb::OP_CREATE, "s1", 3), t2 = Ev(pb::OP_INSERT, "s1", 3);
  const auto noop = Ev(pb::OP_NOOP);
  const Fed f = Feed({&t1, &ddl, &t2, &noop});
  ASSERT_EQ(f.groups.size(), 2u);
  EXPECT_EQ(f.groups[0], (std::vector<int>{0}));
  EXPECT_EQ(f.groups[1], (std::vector<int>{2}));
  EXPECT_EQ(f.alone, (std::vector<int>{1, 3}));
  EXPECT_EQ(f.order, (std::vector<int>{0, 1, 2, 3}));
}

TEST(TxnGrouperTest, TxnNumberAloneOrLsidAloneIsATransaction) {
  const auto a = Ev(pb::OP_INSERT, "", 7), b = Ev(pb::OP_INSERT, "", 7), c = Ev(pb::OP_INSERT, "s9", 0);
  const Fed f = Feed({&a, &b, &c, nullptr});
  ASSERT_EQ(f.groups.size(), 2u);
  EXPECT_EQ(f.groups[0], (std::vector<int>{0, 1}));
  EXPECT_EQ(f.groups[1], (std::vector<int>{2}));
}

// Random streams of transactions (contiguous runs), plain writes, DDL and empty batches:
// every event is applied exactly once, in spool order; each group is exactly one whole
// run of one transaction; nothing but the last run is held.
TEST(TxnGrouperTest, RandomStreamsModel) {
  for (int seed = 1; seed <= 200; ++seed) {
    std::mt19937 rng(seed);
    std::vector<pb::ChangeEvent> events;
    std::vector<int> run_of;  // per event: the run id (-1 alone)
    std::vector<bool> empty_after;
    int run = 0;
    int64_t txn = 1;
    while (events.size() < 60) {
      const int kind = static_cast<int>(rng() % 4);
      if (kind == 0) {  // a transaction of 1..5 writes
        const int n = 1 + static_cast<int>(rng() % 5);
        const std::string lsid = "s" + std::to_string(rng() % 3);
        ++txn;
        for (int i = 0; i < n; ++i) {
          events.push_back(Ev(i % 2 ? pb::OP_UPDATE : pb::OP_INSERT, lsid, txn));
          run_of.push_back(run);
          empty_after.push_back(false);
        }
        ++run;
      } else {
        events.push_back(Ev(kind == 3 ? pb::OP_DROP : pb::OP_INSERT));
        run_of.push_back(-1);
        empty_after.push_back(false);
      }
      if (rng() % 5 == 0) empty_after.back() = true;
    }
    std::vector<const pb::ChangeEvent*> stream;
    std::vector<int> index_of;  // stream position -> event index
    for (size_t i = 0; i < events.size(); ++i) {
      stream.push_back(&events[i]);
      if (empty_after[i]) stream.push_back(nullptr);
    }
    const Fed f = Feed(stream);
    // Map stream positions back to event indexes.
    std::vector<int> ev_at(stream.size(), -1);
    for (size_t p = 0, e = 0; p < stream.size(); ++p) {
      if (stream[p] != nullptr) ev_at[p] = static_cast<int>(e++);
    }
    std::vector<int> applied;
    for (int p : f.order) applied.push_back(ev_at[p]);
    std::vector<int> held;
    for (int p : f.held) held.push_back(ev_at[p]);
    // Order: 0..k-1 applied in order, the held ones are the tail.
    for (size_t i = 0; i < applied.size(); ++i) ASSERT_EQ(applied[i], static_cast<int>(i)) << "seed " << seed;
    ASSERT_EQ(applied.size() + held.size(), events.size()) << "seed " << seed;
    for (size_t i = 0; i < held.size(); ++i) {
      ASSERT_EQ(held[i], static_cast<int>(applied.size() + i)) << "seed " << seed;
      ASSERT_EQ(run_of[held[i]], run_of[held[0]]) << "seed " << seed;
      ASSERT_NE(run_of[held[i]], -1) << "seed " << seed;
    }
    for (const auto& g : f.groups) {
      const int r = run_of[ev_at[g.front()]];
      ASSERT_NE(r, -1) << "seed " << seed;
      int count = 0;
      for (int x : run_of) count += x == r;
      ASSERT_EQ(static_cast<int>(g.size()), count) << "seed " << seed << ": a transaction was cut";
      for (int p : g) ASSERT_EQ(run_of[ev_at[p]], r) << "seed " << seed;
    }
  }
}

}  // namespace
}  // namespace docshift::apply
