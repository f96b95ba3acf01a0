// Apply checkpoints: atomic replacement, listing, and the reader's corruption table
// (a checkpoint is replaced atomically, so any damage at all is corruption).
#include "spool/checkpoint.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "spool/format.h"
#include "spool/record.h"
#include "util/fault_injection_env.h"
#include "util/test_util.h"

namespace docshift::spool {
namespace {

using docshift::test_util::ExpectCorruptionAt;
using docshift::test_util::ReadBytes;
using docshift::test_util::TempDir;
using docshift::test_util::WriteBytes;

using google::protobuf::util::MessageDifferencer;

pb::ApplyCheckpoint Ckpt(uint64_t seq) {
  pb::ApplyCheckpoint c;
  c.set_applied_seq(seq);
  c.set_applied_cluster_time(seq * 1000);
  c.set_updated_wall_ms(77);
  c.set_target_id("mongodb:target");
  c.set_events_applied_total(seq);
  return c;
}

std::string Rec(uint8_t type, const std::string& payload) {
  std::string s;
  EncodeRecord(static_cast<RecordType>(type), payload, &s);
  return s;
}

TEST(CheckpointTest, RoundTripAndReplace) {
  TempDir dir;
  ASSERT_TRUE(WriteCheckpoint(Env::Default(), dir.path(), "main", Ckpt(10)).ok());
  const std::string path = CheckpointPath(dir.path(), "main");
  EXPECT_EQ(path, dir.path() + "/checkpoints/main.ckpt");
  pb::ApplyCheckpoint got;
  ASSERT_TRUE(ReadCheckpoint(Env::Default(), path, &got).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(got, Ckpt(10)));
  ASSERT_TRUE(WriteCheckpoint(Env::Default(), dir.path(), "main", Ckpt(20)).ok());
  ASSERT_TRUE(ReadCheckpoint(Env::Default(), path, &got).ok());
  EXPECT_EQ(got.applied_seq(), 20u);
  EXPECT_FALSE(Env::Default()->FileExists(path + ".tmp"));
  EXPECT_EQ(ReadBytes(path).substr(0, 8), kCheckpointMagic);
}

TEST(CheckpointTest, MissingIsNotFound) {
  TempDir dir;
  pb::ApplyCheckpoint got;
  EXPECT_TRUE(ReadCheckpoint(Env::Default(), CheckpointPath(dir.path(), "x"), &got).IsNotFound());
  auto list = ListCheckpoints(Env::Default(), dir.path());
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

TEST(CheckpointTest, ListSortedIgnoringOtherFiles) {
  TempDir dir;
  ASSERT_TRUE(WriteCheckpoint(Env::Default(), dir.path(), "zeta", Ckpt(3)).ok());
  ASSERT_TRUE(WriteCheckpoint(Env::Default(), dir.path(), "alpha", Ckpt(5)).ok());
  const std::string cdir = JoinPath(dir.path(), kCheckpointsDir);
  WriteBytes(JoinPath(cdir, "alpha.ckpt.tmp"), "half-written");
  WriteBytes(JoinPath(cdir, "README"), "not a checkpoint");
  WriteBytes(JoinPath(cdir, ".ckpt"), "no name");
  auto list = ListCheckpoints(Env::Default(), dir.path());
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "alpha");
  EXPECT_EQ((*list)[0].ckpt.applied_seq(), 5u);
  EXPECT_EQ((*list)[1].name, "zeta");
  // One damaged checkpoint makes the listing fail, naming it.
  WriteBytes(JoinPath(cdir, "beta.ckpt"), "garbage");
  list = ListCheckpoints(Env::Default(), dir.path());
  ASSERT_FALSE(list.ok());
  ExpectCorruptionAt(list.status(), JoinPath(cdir, "beta.ckpt"), 0);
}

// The old or the new checkpoint survives a crash, never a mix and never nothing.
TEST(CheckpointTest, CrashKeepsOldOrNew) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  ASSERT_TRUE(WriteCheckpoint(&env, dir.path(), "main", Ckpt(10)).ok());
  ASSERT_TRUE(env.SimulateCrash().ok());
  const std::string path = CheckpointPath(dir.path(), "main");
  for (int64_t budget = 0; budget < 90; budget += 7) {
    env.SetWriteBudget(budget);
    Status s = WriteCheckpoint(&env, dir.path(), "main", Ckpt(20));
    ASSERT_TRUE(env.SimulateCrash().ok());
    pb::ApplyCheckpoint got;
    ASSERT_TRUE(ReadCheckpoint(&env, path, &got).ok()) << "budget " << budget;
    EXPECT_EQ(got.applied_seq(), s.ok() ? 20u : 10u) << "budget " << budget;
    if (s.ok()) {
      ASSERT_TRUE(WriteCheckpoint(&env, dir.path(), "main", Ckpt(10)).ok());
    }
  }
}

// ---- The reader's corruption table ----

struct Case {
  const char* name;
  std::function<void(std::string*)> mutate;
  uint64_t offset;
};

const std::vector<Case>& Cases() {
  static const uint64_t kEnd = kPreambleSize + kRecordHeaderSize + Ckpt(10).ByteSizeLong();
  static const std::vector<Case> cases = {
      {"empty file", [](std::string* f) { f->clear(); }, 0},
      {"shorter than preamble", [](std::string* f) { f->resize(5); }, 0},
      {"wrong magic", [](std::string* f) { f->replace(0, 8, kManifestMagic); }, 0},
      {"format version 0", [](std::string* f) { (*f)[8] = 0; }, 8},
      {"preamble only", [](std::string* f) { f->resize(kPreambleSize); }, kPreambleSize},
      {"truncated header", [](std::string* f) { f->resize(kPreambleSize + 5); }, kPreambleSize},
      {"truncated payload", [](std::string* f) { f->pop_back(); }, kPreambleSize},
      {"crc mismatch", [](std::string* f) { f->back() ^= 1; }, kPreambleSize},
      {"bad length", [](std::string* f) { (*f)[kPreambleSize + 3] = '\x7f'; }, kPreambleSize},
      {"zero-filled record",
       [](std::string* f) { f->replace(kPreambleSize, std::string::npos, 40, '\0'); },
       kPreambleSize},
      {"manifest record instead",
       [](std::string* f) {
         f->resize(kPreambleSize);
         *f += Rec(kRecordManifest, Ckpt(10).SerializeAsString());
       },
       kPreambleSize},
      {"unknown record type",
       [](std::string* f) {
         f->resize(kPreambleSize);
         *f += Rec(33, Ckpt(10).SerializeAsString());
       },
       kPreambleSize},
      {"payload does not parse",
       [](std::string* f) {
         f->resize(kPreambleSize);
         *f += Rec(kRecordCheckpoint, "\xff\xff\xff");
       },
       kPreambleSize},
      {"bytes after the record", [](std::string* f) { f->append("x"); }, kEnd},
      {"zeros after the record", [](std::string* f) { f->append(64, '\0'); }, kEnd},
      {"two checkpoint records",
       [](std::string* f) { *f += Rec(kRecordCheckpoint, Ckpt(11).SerializeAsString()); }, kEnd},
      {"over the size limit", [](std::string* f) { f->resize(kMaxStateFileBytes + 1); }, 0},
  };
  return cases;
}

TEST(CheckpointTest, ReaderCorruptionTable) {
  TempDir dir;
  ASSERT_TRUE(WriteCheckpoint(Env::Default(), dir.path(), "main", Ckpt(10)).ok());
  const std::string path = CheckpointPath(dir.path(), "main");
  const std::string base = ReadBytes(path);
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    std::string f = base;
    c.mutate(&f);
    WriteBytes(path, f);
    pb::ApplyCheckpoint got;
    ExpectCorruptionAt(ReadCheckpoint(Env::Default(), path, &got), path, c.offset);
  }
  WriteBytes(path, base);
  pb::ApplyCheckpoint got;
  EXPECT_TRUE(ReadCheckpoint(Env::Default(), path, &got).ok());
}

// Apply names reach file names: one path component from [A-Za-z0-9][A-Za-z0-9._-]{0,63}.
TEST(CheckpointTest, ApplyNames) {
  for (const char* good : {"apply", "snapshot", "a", "0", "eu-west.2", "A_b-c.d",
                           "x234567890123456789012345678901234567890123456789012345678901234"}) {
    EXPECT_TRUE(CheckApplyName(good).ok()) << good;
  }
  for (const char* bad : {"", "../../x", "..", ".", ".hidden", "-x", "_x", "a/b", "/abs", "a b",
                          "a\nb", "x2345678901234567890123456789012345678901234567890123456789012345",
                          "caf\xc3\xa9", "a:b", "a*"}) {
    Status s = CheckApplyName(bad, "--name");
    EXPECT_TRUE(s.IsInvalidArgument()) << bad;
    EXPECT_EQ(s.message().rfind("--name '", 0), 0u) << s.ToString();
    EXPECT_NE(s.message().find("[A-Za-z0-9]"), std::string::npos) << s.ToString();
    EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.ToString();
  }
  // The writer refuses too: nothing lands outside checkpoints/.
  TempDir dir;
  EXPECT_TRUE(WriteCheckpoint(Env::Default(), dir.path(), "../../x", Ckpt(1)).IsInvalidArgument());
  EXPECT_FALSE(Env::Default()->FileExists(JoinPath(dir.path(), "../x.ckpt")));
}

// A checkpoint (or any state file) from a newer format version is NotSupported, not
// corruption: the fix is a newer docshift, not a repair.
TEST(CheckpointTest, NewerFormatVersionIsNotSupported) {
  TempDir dir;
  ASSERT_TRUE(WriteCheckpoint(Env::Default(), dir.path(), "main", Ckpt(10)).ok());
  const std::string path = CheckpointPath(dir.path(), "main");
  std::string f = ReadBytes(path);
  f[8] = 2;
  WriteBytes(path, f);
  pb::ApplyCheckpoint got;
  test_util::ExpectNewerFormat(ReadCheckpoint(Env::Default(), path, &got), path, 2);
  auto all = ListCheckpoints(Env::Default(), dir.path());
  ASSERT_FALSE(all.ok());
  test_util::ExpectNewerFormat(all.status(), path, 2);
}

}  // namespace
}  // namespace docshift::spool
