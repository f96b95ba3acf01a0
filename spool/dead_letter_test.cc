// Dead-letter files: one record per sequence number, across reopenings (a replay of the
// same events must not record them again), and the snapshot's seq-0 records kept apart.
#include "spool/dead_letter.h"

#include <gtest/gtest.h>

#include <vector>

#include "util/test_util.h"

namespace docshift::spool {
namespace {

using docshift::test_util::TempDir;

pb::ChangeEvent Event(int i) {
  pb::ChangeEvent e;
  e.set_db("db");
  e.set_coll("c");
  e.set_op(pb::OP_INSERT);
  e.set_wall_time_ms(1000 + i);
  return e;
}

std::vector<uint64_t> Seqs(const std::string& path) {
  std::vector<uint64_t> seqs;
  Status s = ReadDeadLetters(Env::Default(), path,
                             [&](uint64_t, const pb::DeadLetter& d) { seqs.push_back(d.seq()); });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return seqs;
}

TEST(DeadLetterTest, ReplayingTheSameEventsRecordsEachOnce) {
  TempDir dir;
  for (int run = 0; run < 2; ++run) {  // the first apply, then a replay of the same events
    DeadLetterWriter w(Env::Default(), dir.path(), "apply");
    ASSERT_TRUE(w.Open().ok());
    for (uint64_t seq = 1; seq <= 12; ++seq) {
      bool appended = false;
      ASSERT_TRUE(w.Append(seq, Event(static_cast<int>(seq)), 2, "refused", "db.c", &appended).ok());
      EXPECT_EQ(appended, run == 0) << "run " << run << " seq " << seq;
    }
    // Within a run too (a bulk retried after a transient error).
    bool appended = true;
    ASSERT_TRUE(w.Append(5, Event(5), 2, "refused", "db.c", &appended).ok());
    EXPECT_FALSE(appended);
    ASSERT_TRUE(w.Sync().ok());
  }
  const std::vector<uint64_t> seqs = Seqs(DeadLetterPath(dir.path(), "apply"));
  ASSERT_EQ(seqs.size(), 12u);
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i + 1);
}

TEST(DeadLetterTest, OtherNamesAndSequenceZeroAreKeptApart) {
  TempDir dir;
  for (int run = 0; run < 2; ++run) {
    DeadLetterWriter a(Env::Default(), dir.path(), "a"), b(Env::Default(), dir.path(), "b"),
        snap(Env::Default(), dir.path(), "snapshot");
    ASSERT_TRUE(a.Open().ok());
    ASSERT_TRUE(b.Open().ok());
    ASSERT_TRUE(snap.Open().ok());
    ASSERT_TRUE(a.Append(7, Event(7), 1, "x", "db.c").ok());
    ASSERT_TRUE(b.Append(7, Event(7), 1, "x", "db.c").ok());
    ASSERT_TRUE(snap.Append(0, Event(0), 1, "x", "db.c").ok());  // snapshot documents
    ASSERT_TRUE(a.Sync().ok());
    ASSERT_TRUE(b.Sync().ok());
    ASSERT_TRUE(snap.Sync().ok());
  }
  EXPECT_EQ(Seqs(DeadLetterPath(dir.path(), "a")).size(), 1u);
  EXPECT_EQ(Seqs(DeadLetterPath(dir.path(), "b")).size(), 1u);
  EXPECT_EQ(Seqs(DeadLetterPath(dir.path(), "snapshot")).size(), 2u);
}

}  // namespace
}  // namespace docshift::spool
