// Readers that act on events see only what capture has made durable (issue #11, D4):
// SpoolTail and ReadSpoolEnd stop at the durable mark the writer publishes after each
// fsync, never at the end of what is merely written. Under a machine crash (the fault-
// injecting Env) every event a tail returned before the crash is still in the spool,
// under the same sequence number, afterwards.
#include "spool/durable_mark.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

#include "spool/spool.h"
#include "spool/spool_test_util.h"
#include "spool/tail.h"
#include "util/fault_injection_env.h"
#include "util/test_util.h"

namespace docshift::spool {
namespace {

using docshift::test_util::TempDir;

using spool_testing::NewBatch;
using spool_testing::Opts;

// Drains the tail: every event available now, by sequence number.
Status Drain(SpoolTail* tail, std::map<uint64_t, std::string>* out) {
  for (;;) {
    pb::ChangeBatch b;
    Status s = tail->Next(&b);
    if (s.IsEndOfFile()) return Status::OK();
    if (!s.ok()) return s;
    for (int i = 0; i < b.events_size(); ++i) {
      (*out)[b.first_seq() + static_cast<uint64_t>(i)] = b.events(i).document_key();
    }
  }
}

TEST(DurableMarkTest, ReadableBytesRule) {
  const DurableMark none;
  EXPECT_EQ(ReadableBytes(none, 1, /*sealed=*/true), kNoReadLimit);
  EXPECT_EQ(ReadableBytes(none, 1, false), 0u);
  const DurableMark m{100, 4096};
  EXPECT_EQ(ReadableBytes(m, 1, false), kNoReadLimit);  // the writer moved past it
  EXPECT_EQ(ReadableBytes(m, 100, false), 4096u);
  EXPECT_EQ(ReadableBytes(m, 100, true), kNoReadLimit);
  EXPECT_EQ(ReadableBytes(m, 200, false), 0u);  // newer than the mark: nothing yet
}

TEST(DurableMarkTest, MissingOrGarbageFileIsNothingPublished) {
  TempDir dir;
  DurableMark m = ReadDurableMark(Env::Default(), dir.path());
  EXPECT_EQ(m.segment_first_seq, 0u);
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(dir.path() + "/SYNCED", "garbage").ok());
  m = ReadDurableMark(Env::Default(), dir.path());
  EXPECT_EQ(m.segment_first_seq, 0u);
  EXPECT_EQ(m.durable_bytes, 0u);
}

TEST(DurableMarkTest, PublisherNeverGoesBack) {
  TempDir dir;
  DurableMarkPublisher p(Env::Default(), dir.path());
  ASSERT_TRUE(p.Publish(1, 500).ok());
  ASSERT_TRUE(p.Publish(1, 300).ok());
  DurableMark m = ReadDurableMark(Env::Default(), dir.path());
  EXPECT_EQ(m.segment_first_seq, 1u);
  EXPECT_EQ(m.durable_bytes, 500u);
  ASSERT_TRUE(p.Publish(40, 12).ok());
  ASSERT_TRUE(p.Publish(1, 9000).ok());
  m = ReadDurableMark(Env::Default(), dir.path());
  EXPECT_EQ(m.segment_first_seq, 40u);
  EXPECT_EQ(m.durable_bytes, 12u);
}

// The defect: SpoolTail returned records capture had written but not yet synced.
TEST(DurableMarkTest, TailNeverReturnsWhatIsNotSynced) {
  TempDir dir;
  Env* env = Env::Default();
  auto w = SpoolWriter::Open(Opts(dir.path(), env));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  pb::ChangeBatch a = NewBatch(3, "a");
  ASSERT_TRUE((*w)->Append(&a).ok());
  ASSERT_TRUE((*w)->Sync().ok());
  pb::ChangeBatch b = NewBatch(2, "b");
  ASSERT_TRUE((*w)->Append(&b).ok());  // written, not synced

  SpoolTail tail(env, dir.path(), 1);
  std::map<uint64_t, std::string> got;
  ASSERT_TRUE(Drain(&tail, &got).ok());
  EXPECT_EQ(got.size(), 3u) << "the tail returned events that were not durable";
  EXPECT_EQ(tail.position(), 4u);
  auto end = ReadSpoolEnd(env, dir.path());
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end->next_seq, 4u) << "the spool's end counted events that were not durable";

  ASSERT_TRUE((*w)->Sync().ok());
  ASSERT_TRUE(Drain(&tail, &got).ok());
  EXPECT_EQ(got.size(), 5u);
  end = ReadSpoolEnd(env, dir.path());
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end->next_seq, 6u);

  // The pipelined commit publishes when its sync completes.
  pb::ChangeBatch c = NewBatch(4, "c");
  ASSERT_TRUE((*w)->Append(&c).ok());
  ASSERT_TRUE(Drain(&tail, &got).ok());
  EXPECT_EQ(got.size(), 5u);
  ASSERT_TRUE((*w)->SyncAsync().ok());
  ASSERT_TRUE((*w)->WaitSync().ok());
  ASSERT_TRUE(Drain(&tail, &got).ok());
  EXPECT_EQ(got.size(), 9u);

  // Across a seal and a new segment.
  ASSERT_TRUE((*w)->SealOpenSegment(1).ok());
  pb::ChangeBatch d = NewBatch(1, "d");
  ASSERT_TRUE((*w)->Append(&d).ok());
  ASSERT_TRUE(Drain(&tail, &got).ok());
  EXPECT_EQ(got.size(), 9u);
  ASSERT_TRUE((*w)->Sync().ok());
  ASSERT_TRUE(Drain(&tail, &got).ok());
  EXPECT_EQ(got.size(), 10u);
}

// A capture killed after appending (bytes in the file, never synced): apply must not see
// them until a new capture has recovered the spool, which makes them durable first.
TEST(DurableMarkTest, KilledWritersUnsyncedTailWaitsForRecovery) {
  TempDir dir;
  Env* env = Env::Default();
  {
    auto w = SpoolWriter::Open(Opts(dir.path(), env));
    ASSERT_TRUE(w.ok());
    pb::ChangeBatch a = NewBatch(2, "a");
    ASSERT_TRUE((*w)->Append(&a).ok());
    ASSERT_TRUE((*w)->Sync().ok());
    pb::ChangeBatch b = NewBatch(2, "b");
    ASSERT_TRUE((*w)->Append(&b).ok());
  }  // "killed": no sync, no seal
  SpoolTail tail(env, dir.path(), 1);
  std::map<uint64_t, std::string> got;
  ASSERT_TRUE(Drain(&tail, &got).ok());
  EXPECT_EQ(got.size(), 2u);
  auto w = SpoolWriter::Open(Opts(dir.path(), env));  // recovery syncs and publishes
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)->resume_state().resume_token, "b");
  ASSERT_TRUE(Drain(&tail, &got).ok());
  EXPECT_EQ(got.size(), 4u);
}

// A spool with sealed segments and no mark at all (an older docshift, or the mark lost
// in a crash): sealed data is read in full, the open segment waits.
TEST(DurableMarkTest, SealedSegmentsNeedNoMark) {
  TempDir dir;
  Env* env = Env::Default();
  {
    auto w = SpoolWriter::Open(Opts(dir.path(), env));
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < 3; ++i) {
      pb::ChangeBatch a = NewBatch(2, "s" + std::to_string(i));
      ASSERT_TRUE((*w)->Append(&a).ok());
      ASSERT_TRUE((*w)->SealOpenSegment(1).ok());
    }
    pb::ChangeBatch o = NewBatch(5, "open");
    ASSERT_TRUE((*w)->Append(&o).ok());
    ASSERT_TRUE((*w)->Sync().ok());
  }
  ASSERT_TRUE(env->DeleteFile(dir.path() + "/SYNCED").ok());
  SpoolTail tail(env, dir.path(), 1);
  std::map<uint64_t, std::string> got;
  ASSERT_TRUE(Drain(&tail, &got).ok());
  EXPECT_EQ(got.size(), 6u);
}

// Random appends, syncs, seals and tail reads, then a machine crash: everything a tail
// returned before the crash is in the spool afterwards, with the same content.
TEST(DurableMarkTest, RandomizedCrashesNeverTakeBackWhatATailReturned) {
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    TempDir dir;
    FaultInjectionEnv env(Env::Default());
    std::mt19937 rng(seed);
    std::map<uint64_t, std::string> seen;
    {
      auto w = SpoolWriter::Open(Opts(dir.path(), &env));
      ASSERT_TRUE(w.ok()) << w.status().ToString();
      SpoolTail tail(&env, dir.path(), 1);
      const int steps = 20 + static_cast<int>(rng() % 40);
      for (int step = 0; step < steps; ++step) {
        switch (rng() % 6) {
          case 0:
          case 1: {
            pb::ChangeBatch b = NewBatch(1 + static_cast<int>(rng() % 4),
                                         "s" + std::to_string(seed) + "-" + std::to_string(step));
            ASSERT_TRUE((*w)->Append(&b).ok());
            break;
          }
          case 2: ASSERT_TRUE((*w)->Sync().ok()); break;
          case 3: ASSERT_TRUE((*w)->SyncAsync().ok()); break;
          case 4: ASSERT_TRUE((*w)->MaybeRoll(step % 3 == 0 ? int64_t{1} << 61 : 0).ok()); break;
          default: {
            std::map<uint64_t, std::string> got;
            ASSERT_TRUE(Drain(&tail, &got).ok());
            for (const auto& [seq, key] : got) {
              ASSERT_LT(seq, (*w)->next_seq());
              seen[seq] = key;
            }
          }
        }
      }
      ASSERT_TRUE((*w)->WaitSync().ok());
      std::map<uint64_t, std::string> got;
      ASSERT_TRUE(Drain(&tail, &got).ok());
      seen.insert(got.begin(), got.end());
    }
    ASSERT_TRUE(env.SimulateCrash().ok());
    auto w = SpoolWriter::Open(Opts(dir.path(), &env));
    ASSERT_TRUE(w.ok()) << "seed " << seed << ": " << w.status().ToString();
    SpoolTail after(&env, dir.path(), 1);
    std::map<uint64_t, std::string> survived;
    ASSERT_TRUE(Drain(&after, &survived).ok());
    for (const auto& [seq, key] : seen) {
      auto it = survived.find(seq);
      ASSERT_TRUE(it != survived.end()) << "seed " << seed << ": seq " << seq
                                        << " was returned by a tail and lost in the crash";
      EXPECT_EQ(it->second, key) << "seed " << seed << ": seq " << seq;
    }
  }
}

}  // namespace
}  // namespace docshift::spool
