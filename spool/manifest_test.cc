// Manifest writer/reader: round trips, torn tails, compaction, the corruption table.
#include "spool/manifest.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "spool/segment.h"
#include "util/coding.h"
#include "util/fault_injection_env.h"
#include "util/test_util.h"

namespace docshift::spool {
namespace {

using docshift::test_util::ExpectCorruptionAt;
using docshift::test_util::ReadBytes;
using docshift::test_util::TempDir;
using docshift::test_util::WriteBytes;

pb::SpoolCreated Created() {
  pb::SpoolCreated c;
  c.set_format_version(kFormatVersion);
  c.set_source_id("mongodb:rs0/a:27017");
  c.set_source_kind("mongodb");
  c.set_created_wall_ms(5);
  return c;
}

pb::ManifestRecord Sealed(uint64_t first, uint64_t last) {
  pb::ManifestRecord r;
  auto* s = r.mutable_sealed();
  s->set_file_name(SegmentFileName(first));
  s->set_first_seq(first);
  s->set_last_seq(last);
  s->set_event_count(last - first + 1);
  s->set_last_resume_token("tok" + std::to_string(last));
  return r;
}

pb::ManifestRecord Deleted(uint64_t first, uint64_t last) {
  pb::ManifestRecord r;
  auto* d = r.mutable_deleted();
  d->set_file_name(SegmentFileName(first));
  d->set_first_seq(first);
  d->set_last_seq(last);
  return r;
}

std::string Rec(uint8_t type, const std::string& payload) {
  std::string s;
  EncodeRecord(static_cast<RecordType>(type), payload, &s);
  return s;
}
std::string MRec(const pb::ManifestRecord& r) {
  return Rec(kRecordManifest, r.SerializeAsString());
}
std::string CreatedRec() {
  pb::ManifestRecord r;
  *r.mutable_created() = Created();
  return MRec(r);
}

TEST(ManifestTest, RoundTrip) {
  TempDir dir;
  const std::string path = JoinPath(dir.path(), "MANIFEST");
  auto w = ManifestWriter::Create(Env::Default(), path, Created());
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_FALSE(Env::Default()->FileExists(path + ".tmp"));
  ManifestState st;
  ASSERT_TRUE(ReadManifest(Env::Default(), path, &st).ok());
  EXPECT_EQ(st.created.source_id(), "mongodb:rs0/a:27017");
  EXPECT_TRUE(st.segments.empty());
  EXPECT_EQ(st.next_seq_after_sealed(), 1u);

  ASSERT_TRUE((*w)->Append(Sealed(1, 10)).ok());
  ASSERT_TRUE((*w)->Append(Sealed(11, 15)).ok());
  ASSERT_TRUE((*w)->Append(Deleted(1, 10)).ok());
  ASSERT_TRUE((*w)->Append(Sealed(16, 16)).ok());
  EXPECT_EQ((*w)->records_since_compaction(), 5u);
  ASSERT_TRUE(ReadManifest(Env::Default(), path, &st, /*keep_entries=*/true).ok());
  ASSERT_EQ(st.segments.size(), 2u);
  EXPECT_EQ(st.segments[0].first_seq(), 11u);
  EXPECT_EQ(st.segments[1].last_seq(), 16u);
  ASSERT_EQ(st.deleted.size(), 1u);
  EXPECT_EQ(st.deleted[0].file_name(), SegmentFileName(1));
  EXPECT_EQ(st.next_seq_after_sealed(), 17u);
  EXPECT_FALSE(st.torn_tail);
  EXPECT_EQ(st.valid_end, ReadBytes(path).size());
  ASSERT_EQ(st.entries.size(), 5u);
  EXPECT_EQ(st.entries[0].offset, kPreambleSize);
  EXPECT_TRUE(st.entries[0].record.has_created());
  EXPECT_TRUE(st.entries[3].record.has_deleted());
  for (size_t i = 1; i < st.entries.size(); ++i) {
    EXPECT_GT(st.entries[i].offset, st.entries[i - 1].offset);
  }
}

TEST(ManifestTest, EverySegmentDeletedKeepsNextSeq) {
  TempDir dir;
  const std::string path = JoinPath(dir.path(), "MANIFEST");
  auto w = ManifestWriter::Create(Env::Default(), path, Created());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Append(Sealed(1, 10)).ok());
  ASSERT_TRUE((*w)->Append(Deleted(1, 10)).ok());
  ManifestState st;
  ASSERT_TRUE(ReadManifest(Env::Default(), path, &st).ok());
  EXPECT_TRUE(st.segments.empty());
  EXPECT_EQ(st.next_seq_after_sealed(), 11u);
  // And a compaction of that state is refused: it would forget the next sequence.
  EXPECT_FALSE((*w)->Compact(st).ok());
  ASSERT_TRUE((*w)->Append(Sealed(11, 12)).ok());
  ASSERT_TRUE(ReadManifest(Env::Default(), path, &st).ok());
  EXPECT_EQ(st.next_seq_after_sealed(), 13u);
}

TEST(ManifestTest, OpenTruncatesTornTail) {
  TempDir dir;
  const std::string path = JoinPath(dir.path(), "MANIFEST");
  {
    auto w = ManifestWriter::Create(Env::Default(), path, Created());
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append(Sealed(1, 10)).ok());
  }
  const uint64_t good = ReadBytes(path).size();
  std::string torn = MRec(Sealed(11, 20));
  WriteBytes(path, ReadBytes(path) + torn.substr(0, torn.size() - 3));
  ManifestState st;
  ASSERT_TRUE(ReadManifest(Env::Default(), path, &st).ok());
  EXPECT_TRUE(st.torn_tail);
  EXPECT_FALSE(st.torn_reason.empty());
  EXPECT_EQ(st.valid_end, good);
  EXPECT_EQ(st.segments.size(), 1u);
  auto w = ManifestWriter::Open(Env::Default(), path, st);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(ReadBytes(path).size(), good);
  ASSERT_TRUE((*w)->Append(Sealed(11, 20)).ok());
  ASSERT_TRUE(ReadManifest(Env::Default(), path, &st).ok());
  EXPECT_FALSE(st.torn_tail);
  EXPECT_EQ(st.next_seq_after_sealed(), 21u);
}

TEST(ManifestTest, CompactKeepsLiveSegments) {
  TempDir dir;
  const std::string path = JoinPath(dir.path(), "MANIFEST");
  auto w = ManifestWriter::Create(Env::Default(), path, Created());
  ASSERT_TRUE(w.ok());
  for (uint64_t s = 1; s <= 100; s += 10) ASSERT_TRUE((*w)->Append(Sealed(s, s + 9)).ok());
  for (uint64_t s = 1; s <= 71; s += 10) ASSERT_TRUE((*w)->Append(Deleted(s, s + 9)).ok());
  ManifestState st;
  ASSERT_TRUE(ReadManifest(Env::Default(), path, &st).ok());
  ASSERT_EQ(st.segments.size(), 2u);
  const uint64_t before = ReadBytes(path).size();
  ASSERT_TRUE((*w)->Compact(st).ok());
  EXPECT_EQ((*w)->records_since_compaction(), 3u);
  EXPECT_LT(ReadBytes(path).size(), before);
  EXPECT_FALSE(Env::Default()->FileExists(path + ".tmp"));
  ManifestState after;
  ASSERT_TRUE(ReadManifest(Env::Default(), path, &after).ok());
  EXPECT_TRUE(after.deleted.empty());
  ASSERT_EQ(after.segments.size(), 2u);
  EXPECT_EQ(after.segments[0].first_seq(), 81u);
  EXPECT_EQ(after.next_seq_after_sealed(), 101u);
  EXPECT_EQ(after.created.source_id(), st.created.source_id());
  // Appends continue on the compacted file.
  ASSERT_TRUE((*w)->Append(Sealed(101, 105)).ok());
  ASSERT_TRUE(ReadManifest(Env::Default(), path, &after).ok());
  EXPECT_EQ(after.next_seq_after_sealed(), 106u);
}

// A failed append (disk full) never leaves half a record that a later append follows.
TEST(ManifestTest, FailedAppendLeavesNoHalfRecord) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  const std::string path = JoinPath(dir.path(), "MANIFEST");
  auto w = ManifestWriter::Create(&env, path, Created());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Append(Sealed(1, 10)).ok());
  const uint64_t size = ReadBytes(path).size();
  for (int64_t budget : {0, 3, 9, 20}) {
    env.SetWriteBudget(budget);
    EXPECT_TRUE((*w)->Append(Sealed(11, 20)).IsIOError());
    EXPECT_EQ(ReadBytes(path).size(), size);
  }
  env.SetWriteBudget(-1);
  ASSERT_TRUE((*w)->Append(Sealed(11, 20)).ok());
  ManifestState st;
  ASSERT_TRUE(ReadManifest(&env, path, &st).ok());
  EXPECT_FALSE(st.torn_tail);
  EXPECT_EQ(st.next_seq_after_sealed(), 21u);
}

// A compaction that fails (disk full) leaves the old manifest in place and the writer
// usable.
TEST(ManifestTest, FailedCompactionKeepsWriterUsable) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  const std::string path = JoinPath(dir.path(), "MANIFEST");
  auto w = ManifestWriter::Create(&env, path, Created());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Append(Sealed(1, 10)).ok());
  ASSERT_TRUE((*w)->Append(Sealed(11, 20)).ok());
  ASSERT_TRUE((*w)->Append(Deleted(1, 10)).ok());
  ManifestState st;
  ASSERT_TRUE(ReadManifest(&env, path, &st).ok());
  env.SetWriteBudget(10);
  EXPECT_FALSE((*w)->Compact(st).ok());
  env.SetWriteBudget(-1);
  ASSERT_TRUE((*w)->Append(Sealed(21, 30)).ok());
  ASSERT_TRUE(ReadManifest(&env, path, &st).ok());
  EXPECT_EQ(st.next_seq_after_sealed(), 31u);
  EXPECT_EQ(st.segments.size(), 2u);
}

TEST(ManifestTest, CrashDropsOnlyUnsyncedState) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  const std::string path = JoinPath(dir.path(), "MANIFEST");
  {
    auto w = ManifestWriter::Create(&env, path, Created());
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append(Sealed(1, 10)).ok());  // synced by Append
  }
  ASSERT_TRUE(env.SimulateCrash().ok());
  ManifestState st;
  ASSERT_TRUE(ReadManifest(&env, path, &st).ok());
  EXPECT_EQ(st.segments.size(), 1u);
  EXPECT_FALSE(st.torn_tail);
}

// ---- The reader's corruption table ----

enum class Outcome {
  kOk,        // reads; no torn tail
  kTorn,      // reads; torn_tail, valid_end == offset
  kCorrupt,   // Corruption at offset
};

struct Case {
  const char* name;
  std::function<std::string()> build;
  Outcome outcome;
  uint64_t offset;
  size_t segments;  // live segments when the read succeeds
};

// The base manifest: created | sealed 1..10 | sealed 11..20.
std::string Base() {
  return EncodePreamble(kManifestMagic) + CreatedRec() + MRec(Sealed(1, 10)) +
         MRec(Sealed(11, 20));
}
uint64_t OffCreated() { return kPreambleSize; }
uint64_t OffS1() { return kPreambleSize + CreatedRec().size(); }
uint64_t OffS2() { return OffS1() + MRec(Sealed(1, 10)).size(); }
uint64_t OffEnd() { return OffS2() + MRec(Sealed(11, 20)).size(); }

std::string Flipped(std::string f, uint64_t at) {
  f[at] ^= 0x01;
  return f;
}

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {"intact", [] { return Base(); }, Outcome::kOk, OffEnd(), 2},
      {"empty file", [] { return std::string(); }, Outcome::kCorrupt, 0, 0},
      {"shorter than preamble", [] { return Base().substr(0, 6); }, Outcome::kCorrupt, 0, 0},
      {"wrong magic", [] { return std::string(kSegmentMagic) + Base().substr(8); },
       Outcome::kCorrupt, 0, 0},
      {"format version 0", [] { return Flipped(Base(), 8); }, Outcome::kCorrupt, 8, 0},
      {"preamble only", [] { return EncodePreamble(kManifestMagic); }, Outcome::kCorrupt,
       kPreambleSize, 0},
      {"SpoolCreated torn", [] { return Base().substr(0, OffS1() - 2); }, Outcome::kCorrupt,
       kPreambleSize, 0},
      {"first record is not SpoolCreated",
       [] { return EncodePreamble(kManifestMagic) + MRec(Sealed(1, 10)); }, Outcome::kCorrupt,
       kPreambleSize, 0},
      {"second SpoolCreated", [] { return Base() + CreatedRec(); }, Outcome::kCorrupt, OffEnd(), 0},
      {"sequence gap", [] { return Base() + MRec(Sealed(22, 30)); }, Outcome::kCorrupt, OffEnd(),
       0},
      {"sequence overlap", [] { return Base() + MRec(Sealed(15, 30)); }, Outcome::kCorrupt,
       OffEnd(), 0},
      {"sealed segment with no events", [] { return Base() + MRec(Sealed(21, 20)); },
       Outcome::kCorrupt, OffEnd(), 0},
      {"deletion of an unknown segment", [] { return Base() + MRec(Deleted(21, 30)); },
       Outcome::kCorrupt, OffEnd(), 0},
      {"deletion of a deleted segment",
       [] { return Base() + MRec(Deleted(1, 10)) + MRec(Deleted(1, 10)); }, Outcome::kCorrupt,
       OffEnd() + MRec(Deleted(1, 10)).size(), 0},
      {"empty manifest record", [] { return Base() + MRec(pb::ManifestRecord()); },
       Outcome::kCorrupt, OffEnd(), 0},
      {"record does not parse", [] { return Base() + Rec(kRecordManifest, "\xff\xff\xff"); },
       Outcome::kCorrupt, OffEnd(), 0},
      {"checkpoint record in the manifest",
       [] { return Base() + Rec(kRecordCheckpoint, ""); }, Outcome::kCorrupt, OffEnd(), 0},
      {"unknown record type at tail", [] { return Base() + Rec(99, "x"); }, Outcome::kCorrupt,
       OffEnd(), 0},
      {"crc mismatch followed by valid record",
       [] { return Flipped(Base(), OffS1() + kRecordHeaderSize + 2); }, Outcome::kCorrupt, OffS1(),
       0},
      {"crc mismatch in SpoolCreated, valid after",
       [] { return Flipped(Base(), OffCreated() + kRecordHeaderSize + 2); }, Outcome::kCorrupt,
       OffCreated(), 0},
      {"bad length followed by valid record",
       [] {
         std::string f = Base();
         EncodeFixed32(f.data() + OffS1(), 0xfffffff0u);
         return f;
       },
       Outcome::kCorrupt, OffS1(), 0},
      // Torn tails: an append in progress or cut by a crash. Not an error.
      {"crc mismatch in last record",
       [] { return Flipped(Base(), OffS2() + kRecordHeaderSize + 2); }, Outcome::kTorn, OffS2(),
       1},
      {"truncated last record", [] { return Base().substr(0, OffEnd() - 1); }, Outcome::kTorn,
       OffS2(), 1},
      {"truncated last header", [] { return Base().substr(0, OffS2() + 4); }, Outcome::kTorn,
       OffS2(), 1},
      {"zero-filled tail", [] { return Base() + std::string(512, '\0'); }, Outcome::kTorn,
       OffEnd(), 2},
      {"bad length at tail",
       [] {
         std::string f = Base();
         EncodeFixed32(f.data() + OffS2(), 0xfffffff0u);
         return f;
       },
       Outcome::kTorn, OffS2(), 1},
  };
  return cases;
}

TEST(ManifestTest, ReaderCorruptionTable) {
  TempDir dir;
  const std::string path = JoinPath(dir.path(), "MANIFEST");
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    const std::string f = c.build();
    WriteBytes(path, f);
    ManifestState st;
    Status s = ReadManifest(Env::Default(), path, &st);
    switch (c.outcome) {
      case Outcome::kOk:
        ASSERT_TRUE(s.ok()) << s.ToString();
        EXPECT_FALSE(st.torn_tail);
        EXPECT_EQ(st.valid_end, c.offset);
        EXPECT_EQ(st.valid_end, f.size());
        EXPECT_EQ(st.segments.size(), c.segments);
        break;
      case Outcome::kTorn:
        ASSERT_TRUE(s.ok()) << s.ToString();
        EXPECT_TRUE(st.torn_tail);
        EXPECT_EQ(st.valid_end, c.offset);
        EXPECT_EQ(st.segments.size(), c.segments);
        break;
      case Outcome::kCorrupt:
        ExpectCorruptionAt(s, path, c.offset);
        break;
    }
  }
}

// A manifest from a newer format version, in its preamble or its SpoolCreated record, is
// NotSupported (exit 5: upgrade docshift), not corruption.
TEST(ManifestTest, NewerFormatVersionIsNotSupported) {
  TempDir dir;
  const std::string path = JoinPath(dir.path(), "MANIFEST");
  std::string f = Base();
  f[8] = 7;
  WriteBytes(path, f);
  ManifestState st;
  test_util::ExpectNewerFormat(ReadManifest(Env::Default(), path, &st), path, 7);

  pb::ManifestRecord r;
  *r.mutable_created() = Created();
  r.mutable_created()->set_format_version(2);
  WriteBytes(path, EncodePreamble(kManifestMagic) + MRec(r) + MRec(Sealed(1, 10)));
  test_util::ExpectNewerFormat(ReadManifest(Env::Default(), path, &st), path, 2);
}

}  // namespace
}  // namespace docshift::spool
