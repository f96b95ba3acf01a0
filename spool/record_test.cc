// RecordScanner: round trips, and the table of corruption cases that pins down the
// torn-tail-versus-corruption rule every spool reader builds on.
#include "spool/record.h"
#include "util/test_util.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "util/coding.h"
#include "util/crc32c.h"

namespace docshift::spool {
namespace {

using docshift::test_util::ExpectCorruptionAt;
using docshift::test_util::ReadBytes;
using docshift::test_util::TempDir;
using docshift::test_util::WriteBytes;

std::string Rec(uint8_t type, const std::string& payload) {
  std::string s;
  EncodeRecord(static_cast<RecordType>(type), payload, &s);
  return s;
}

struct ScanResult {
  Status preamble;
  std::vector<Record> records;
  Status end;
  RecordScanner::Stop stop = RecordScanner::Stop::kNone;
  uint64_t stop_offset = 0;
  uint64_t valid_end = 0;
};

ScanResult Scan(const std::string& path, std::string_view magic) {
  ScanResult r;
  auto f = Env::Default()->NewRandomAccessFile(path);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  auto size = (*f)->Size();
  RecordScanner scanner(f->get(), *size);
  r.preamble = scanner.ReadPreamble(magic);
  if (r.preamble.ok()) {
    Record rec;
    while ((r.end = scanner.Next(&rec)).ok()) r.records.push_back(rec);
    // A scan that stopped stays stopped.
    EXPECT_TRUE(scanner.Next(&rec).IsEndOfFile());
  }
  r.stop = scanner.stop();
  r.stop_offset = scanner.stop_offset();
  r.valid_end = scanner.valid_end();
  return r;
}

TEST(RecordTest, EncodingIsPinned) {
  // On disk: length (LE) | masked crc32c over type byte + payload (LE) | type | payload.
  std::string s = Rec(kRecordManifest, "abc");
  ASSERT_EQ(s.size(), kRecordHeaderSize + 3);
  EXPECT_EQ(DecodeFixed32(s.data()), 3u);
  const std::string covered = std::string("\x04") + "abc";
  EXPECT_EQ(crc32c::Unmask(DecodeFixed32(s.data() + 4)),
            crc32c::Value(covered.data(), covered.size()));
  EXPECT_EQ(s[8], '\x04');
  EXPECT_EQ(s.substr(9), "abc");
  // Golden bytes: a change here is a format change.
  EXPECT_EQ(s, std::string("\x03\x00\x00\x00", 4) + s.substr(4, 4) + "\x04" "abc");
  EXPECT_EQ(EncodePreamble(kManifestMagic), std::string("DSHMAN01\x01\x00\x00\x00", 12));
  EXPECT_EQ(EncodePreamble(kSegmentMagic).size(), kPreambleSize);
}

TEST(RecordTest, CorruptionMessageNamesFileAndOffset) {
  Status s = CorruptionAt("/x/y/MANIFEST", 81920, "checksum mismatch");
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_EQ(s.message(), "MANIFEST: checksum mismatch at offset 81920 (file /x/y/MANIFEST)");
}

TEST(RecordTest, RoundTrip) {
  TempDir dir;
  const std::string path = JoinPath(dir.path(), "rt");
  std::vector<std::pair<RecordType, std::string>> want = {
      {kRecordManifest, ""},
      {kRecordBatch, "x"},
      {kRecordCheckpoint, std::string(100000, '\0')},
      {kRecordSegmentFooter, std::string("with\0nul", 8)},
      {kRecordDeadLetter, std::string(kRecordHeaderSize, '\x02')},
  };
  std::string file = EncodePreamble(kManifestMagic);
  std::vector<uint64_t> offsets;
  for (const auto& [type, payload] : want) {
    offsets.push_back(file.size());
    EncodeRecord(type, payload, &file);
  }
  WriteBytes(path, file);
  ScanResult r = Scan(path, kManifestMagic);
  ASSERT_TRUE(r.preamble.ok()) << r.preamble.ToString();
  EXPECT_TRUE(r.end.IsEndOfFile()) << r.end.ToString();
  EXPECT_EQ(r.stop, RecordScanner::Stop::kCleanEnd);
  EXPECT_EQ(r.valid_end, file.size());
  EXPECT_EQ(r.stop_offset, file.size());
  ASSERT_EQ(r.records.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(r.records[i].type, want[i].first);
    EXPECT_EQ(r.records[i].payload, want[i].second);
    EXPECT_EQ(r.records[i].offset, offsets[i]);
  }
}

// ---- The corruption table ----

// Base file: preamble | A (manifest, 5 bytes) | B (checkpoint, 300 bytes) | C (manifest, 7).
constexpr uint64_t kA = kPreambleSize;
constexpr uint64_t kB = kA + kRecordHeaderSize + 5;
constexpr uint64_t kC = kB + kRecordHeaderSize + 300;
constexpr uint64_t kEnd = kC + kRecordHeaderSize + 7;

std::string BaseFile() {
  std::string f = EncodePreamble(kManifestMagic);
  f += Rec(kRecordManifest, "alpha");
  f += Rec(kRecordCheckpoint, std::string(300, 'b'));
  f += Rec(kRecordManifest, "charlie");
  return f;
}

enum class Outcome {
  kClean,            // every record read, clean end
  kPreambleTorn,     // ReadPreamble: EndOfFile, torn tail at 0 (empty / short file)
  kPreambleCorrupt,  // ReadPreamble: Corruption at offset
  kTorn,             // Next: EndOfFile, torn tail at offset, valid_end == offset
  kCorrupt,          // Next: Corruption at offset
};

struct Case {
  const char* name;
  std::function<void(std::string*)> mutate;
  Outcome outcome;
  uint64_t offset;
  size_t records;  // read before the scan stopped
};

void SetLength(std::string* f, uint64_t at, uint32_t len) { EncodeFixed32(f->data() + at, len); }
void Flip(std::string* f, uint64_t at) { (*f)[at] ^= 0x40; }
void ReplaceRecord(std::string* f, uint64_t at, const std::string& rec) {
  const uint32_t len = DecodeFixed32(f->data() + at);
  f->replace(at, kRecordHeaderSize + len, rec);
}

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {"intact", [](std::string*) {}, Outcome::kClean, kEnd, 3},
      {"empty file", [](std::string* f) { f->clear(); }, Outcome::kPreambleTorn, 0, 0},
      {"shorter than preamble", [](std::string* f) { f->resize(7); }, Outcome::kPreambleTorn, 0,
       0},
      {"wrong magic", [](std::string* f) { (*f)[0] = 'X'; }, Outcome::kPreambleCorrupt, 0, 0},
      {"magic of another file type",
       [](std::string* f) { f->replace(0, 8, kSegmentMagic); }, Outcome::kPreambleCorrupt, 0, 0},
      {"format version 0", [](std::string* f) { (*f)[8] = 0; }, Outcome::kPreambleCorrupt, 8,
       0},
      {"preamble only", [](std::string* f) { f->resize(kPreambleSize); }, Outcome::kClean,
       kPreambleSize, 0},
      // Torn tails: the bad record is the last thing in the file.
      {"truncated in last header", [](std::string* f) { f->resize(kC + 4); }, Outcome::kTorn, kC,
       2},
      {"truncated in last payload", [](std::string* f) { f->resize(kC + kRecordHeaderSize + 3); },
       Outcome::kTorn, kC, 2},
      {"truncated in middle record", [](std::string* f) { f->resize(kB + 100); }, Outcome::kTorn,
       kB, 1},
      {"crc mismatch in last payload", [](std::string* f) { Flip(f, kC + kRecordHeaderSize); },
       Outcome::kTorn, kC, 2},
      {"crc mismatch in last stored crc", [](std::string* f) { Flip(f, kC + 4); }, Outcome::kTorn,
       kC, 2},
      {"bad length (over limit) at tail", [](std::string* f) { SetLength(f, kC, 0xffffffffu); },
       Outcome::kTorn, kC, 2},
      {"zero-filled tail", [](std::string* f) { f->append(4096, '\0'); }, Outcome::kTorn, kEnd, 3},
      {"zero-filled partial header", [](std::string* f) { f->append(5, '\0'); }, Outcome::kTorn,
       kEnd, 3},
      {"garbage tail", [](std::string* f) { f->append("not a record at all, just bytes"); },
       Outcome::kTorn, kEnd, 3},
      {"bad last record then zeros",
       [](std::string* f) {
         Flip(f, kC + kRecordHeaderSize + 1);
         f->append(1000, '\0');
       },
       Outcome::kTorn, kC, 2},
      // Corruption: a bad record with a valid record after it.
      {"crc mismatch followed by valid record",
       [](std::string* f) { Flip(f, kB + kRecordHeaderSize + 10); }, Outcome::kCorrupt, kB, 1},
      {"crc mismatch in first record", [](std::string* f) { Flip(f, kA + kRecordHeaderSize); },
       Outcome::kCorrupt, kA, 0},
      {"crc mismatch in stored crc, valid after", [](std::string* f) { Flip(f, kA + 5); },
       Outcome::kCorrupt, kA, 0},
      {"bad length (over limit) followed by valid",
       [](std::string* f) { SetLength(f, kB, kMaxRecordPayload + 1); }, Outcome::kCorrupt, kB, 1},
      {"length past end of file, valid record after",
       [](std::string* f) { SetLength(f, kB, 5000); }, Outcome::kCorrupt, kB, 1},
      {"length too short, valid record after", [](std::string* f) { SetLength(f, kB, 100); },
       Outcome::kCorrupt, kB, 1},
      {"zeroed header followed by valid record",
       [](std::string* f) { f->replace(kB, kRecordHeaderSize, kRecordHeaderSize, '\0'); },
       Outcome::kCorrupt, kB, 1},
      {"garbage then a valid record",
       [](std::string* f) { f->append("garbage-garbage-garb" + Rec(kRecordManifest, "delta")); },
       Outcome::kCorrupt, kEnd, 3},
      // Unknown types carry a valid checksum: written deliberately, never a torn write.
      {"unknown type at tail", [](std::string* f) { ReplaceRecord(f, kC, Rec(77, "charlie")); },
       Outcome::kCorrupt, kC, 2},
      {"unknown type in middle",
       [](std::string* f) { ReplaceRecord(f, kB, Rec(200, std::string(300, 'b'))); },
       Outcome::kCorrupt, kB, 1},
      {"type zero with valid crc", [](std::string* f) { ReplaceRecord(f, kC, Rec(0, "charlie")); },
       Outcome::kCorrupt, kC, 2},
  };
  return cases;
}

TEST(RecordTest, CorruptionTable) {
  TempDir dir;
  int n = 0;
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    const std::string path = JoinPath(dir.path(), "case" + std::to_string(n++));
    std::string f = BaseFile();
    c.mutate(&f);
    WriteBytes(path, f);
    ScanResult r = Scan(path, kManifestMagic);
    switch (c.outcome) {
      case Outcome::kClean:
        ASSERT_TRUE(r.preamble.ok()) << r.preamble.ToString();
        EXPECT_TRUE(r.end.IsEndOfFile()) << r.end.ToString();
        EXPECT_EQ(r.stop, RecordScanner::Stop::kCleanEnd);
        EXPECT_EQ(r.valid_end, c.offset);
        EXPECT_EQ(r.valid_end, f.size());
        break;
      case Outcome::kPreambleTorn:
        EXPECT_TRUE(r.preamble.IsEndOfFile()) << r.preamble.ToString();
        EXPECT_EQ(r.stop, RecordScanner::Stop::kTornTail);
        EXPECT_EQ(r.stop_offset, 0u);
        EXPECT_EQ(r.valid_end, 0u);
        break;
      case Outcome::kPreambleCorrupt:
        ExpectCorruptionAt(r.preamble, path, c.offset);
        break;
      case Outcome::kTorn:
        ASSERT_TRUE(r.preamble.ok()) << r.preamble.ToString();
        EXPECT_TRUE(r.end.IsEndOfFile()) << r.end.ToString();
        EXPECT_EQ(r.stop, RecordScanner::Stop::kTornTail);
        EXPECT_EQ(r.stop_offset, c.offset);
        EXPECT_EQ(r.valid_end, c.offset);
        EXPECT_LT(r.valid_end, f.size());
        break;
      case Outcome::kCorrupt:
        ASSERT_TRUE(r.preamble.ok()) << r.preamble.ToString();
        ExpectCorruptionAt(r.end, path, c.offset);
        EXPECT_EQ(r.stop, RecordScanner::Stop::kCorruption);
        EXPECT_EQ(r.stop_offset, c.offset);
        EXPECT_EQ(r.valid_end, c.offset);
        break;
    }
    EXPECT_EQ(r.records.size(), c.records);
    for (size_t i = 0; i < r.records.size(); ++i) {
      EXPECT_EQ(r.records[i].offset, (std::vector<uint64_t>{kA, kB, kC})[i]);
    }
  }
}

// A preamble with a format version above this build's: intact, just newer.
TEST(RecordTest, NewerFormatVersionIsNotSupported) {
  TempDir dir;
  const std::string path = JoinPath(dir.path(), "newer");
  for (uint32_t version : {2u, 9u, 0xffffffffu}) {
    std::string f = BaseFile();
    EncodeFixed32(f.data() + 8, version);
    WriteBytes(path, f);
    ScanResult r = Scan(path, kManifestMagic);
    test_util::ExpectNewerFormat(r.preamble, path, version);
  }
}

// Every single-byte truncation of a valid file is a torn tail (never corruption), and the
// scan keeps exactly the records that were complete.
TEST(RecordTest, EveryTruncationIsATornTail) {
  TempDir dir;
  const std::string base = BaseFile();
  const std::string path = JoinPath(dir.path(), "t");
  for (uint64_t len = 0; len < base.size(); ++len) {
    SCOPED_TRACE("length " + std::to_string(len));
    WriteBytes(path, base.substr(0, len));
    ScanResult r = Scan(path, kManifestMagic);
    if (len < kPreambleSize) {
      EXPECT_TRUE(r.preamble.IsEndOfFile());
      continue;
    }
    ASSERT_TRUE(r.preamble.ok());
    EXPECT_TRUE(r.end.IsEndOfFile()) << r.end.ToString();
    const uint64_t want_end = len >= kC ? kC : len >= kB ? kB : len >= kA ? kA : 0;
    EXPECT_EQ(r.valid_end, want_end);
    EXPECT_EQ(r.stop, len == want_end ? RecordScanner::Stop::kCleanEnd
                                      : RecordScanner::Stop::kTornTail);
  }
}

// Every single-bit flip in a record followed by another valid record is corruption
// (never silently cut off), naming the damaged record.
TEST(RecordTest, EveryBitFlipBeforeTheLastRecordIsCorruption) {
  TempDir dir;
  const std::string base = BaseFile();
  const std::string path = JoinPath(dir.path(), "f");
  for (uint64_t at = kA; at < kC; ++at) {
    for (int bit : {0, 3, 7}) {
      std::string f = base;
      f[at] ^= static_cast<char>(1 << bit);
      WriteBytes(path, f);
      ScanResult r = Scan(path, kManifestMagic);
      ASSERT_TRUE(r.preamble.ok());
      ASSERT_TRUE(r.end.IsCorruption()) << "byte " << at << " bit " << bit << ": "
                                        << r.end.ToString();
      const uint64_t rec = at >= kB ? kB : kA;
      EXPECT_EQ(r.stop_offset, rec) << "byte " << at << " bit " << bit;
      EXPECT_NE(r.end.message().find("offset " + std::to_string(rec) + " "), std::string::npos)
          << r.end.ToString();
    }
  }
}

}  // namespace
}  // namespace docshift::spool
