// Segment writer/reader: round trips, the reader's corruption table, writer failures.
#include "spool/segment.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <zstd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "util/coding.h"
#include "util/crc32c.h"
#include "util/fault_injection_env.h"
#include "util/test_util.h"

namespace docshift::spool {
namespace {

using docshift::test_util::ExpectCorruptionAt;
using docshift::test_util::ReadBytes;
using docshift::test_util::TempDir;
using docshift::test_util::WriteBytes;

using google::protobuf::util::MessageDifferencer;

pb::ChangeBatch MakeBatch(uint64_t first_seq, int events, const std::string& token) {
  pb::ChangeBatch b;
  b.set_first_seq(first_seq);
  for (int i = 0; i < events; ++i) {
    auto* e = b.add_events();
    e->set_db("db");
    e->set_coll("coll.with.dots");
    e->set_op(pb::OP_INSERT);
    e->set_document_key(std::string("\x0e\x00\x00\x00\x10_id\x00", 9) +
                        std::to_string(first_seq + i));
    e->set_full_document(std::string("doc\0", 4) + std::to_string(first_seq + i) +
                         std::string(50, 'z'));
    e->set_cluster_time((uint64_t{1700000000} << 32) | (first_seq + i));
    e->set_capture_wall_ms(1700000000000 + static_cast<int64_t>(first_seq + i));
  }
  b.set_resume_token(token);
  b.set_resume_cluster_time(token.empty() ? 0 : first_seq);
  return b;
}

pb::SegmentHeader MakeHeader(uint64_t first_seq) {
  pb::SegmentHeader h;
  h.set_format_version(kFormatVersion);
  h.set_first_seq(first_seq);
  h.set_source_id("src");
  h.set_writer_version("test");
  return h;
}

std::string Rec(uint8_t type, const std::string& payload) {
  std::string s;
  EncodeRecord(static_cast<RecordType>(type), payload, &s);
  return s;
}

std::string BatchRec(const pb::ChangeBatch& b) {
  BatchCodec codec;
  std::string z;
  uint64_t raw = 0;
  EXPECT_TRUE(codec.Encode(b, &z, &raw).ok());
  return Rec(kRecordBatch, z);
}

void ReplaceRecord(std::string* f, uint64_t at, const std::string& rec) {
  const uint32_t len = DecodeFixed32(f->data() + at);
  f->replace(at, kRecordHeaderSize + len, rec);
}

TEST(SegmentFileNameTest, RoundTripAndRejects) {
  EXPECT_EQ(SegmentFileName(1), "00000000000000000001.seg");
  EXPECT_EQ(SegmentFileName(4096), "00000000000000004096.seg");
  uint64_t seq = 0;
  EXPECT_TRUE(ParseSegmentFileName("00000000000000004096.seg", &seq));
  EXPECT_EQ(seq, 4096u);
  EXPECT_TRUE(ParseSegmentFileName(SegmentFileName(UINT64_MAX), &seq));
  EXPECT_EQ(seq, UINT64_MAX);
  for (const char* bad : {"", "1.seg", "0000000000000000001.seg", "000000000000000000001.seg",
                          "00000000000000000001.sex", "00000000000000000001.seg.tmp",
                          "0000000000000000000a.seg", "-0000000000000000001.seg",
                          "18446744073709551616.seg", "99999999999999999999.seg"}) {
    EXPECT_FALSE(ParseSegmentFileName(bad, &seq)) << bad;
  }
}

TEST(BatchCodecTest, RoundTripAndBounds) {
  BatchCodec codec(3);
  pb::ChangeBatch in = MakeBatch(10, 5, "tok");
  std::string z;
  uint64_t raw = 0;
  ASSERT_TRUE(codec.Encode(in, &z, &raw).ok());
  EXPECT_EQ(raw, in.ByteSizeLong());
  pb::ChangeBatch out;
  uint64_t raw2 = 0;
  ASSERT_TRUE(codec.Decode(z, "/d/f.seg", 99, &out, &raw2).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(in, out));
  EXPECT_EQ(raw2, raw);
  // Empty batch.
  ASSERT_TRUE(codec.Encode(pb::ChangeBatch(), &z, &raw).ok());
  ASSERT_TRUE(codec.Decode(z, "/d/f.seg", 99, &out).ok());
  EXPECT_EQ(out.events_size(), 0);
  ExpectCorruptionAt(codec.Decode("not zstd", "/d/f.seg", 99, &out), "/d/f.seg", 99);
  ExpectCorruptionAt(codec.Decode("", "/d/f.seg", 7, &out), "/d/f.seg", 7);
}

struct Written {
  std::string path;
  std::vector<pb::ChangeBatch> batches;
  pb::SegmentSealed sealed;
};

// Three batches (2, 3 and 1 events, seq 1..6), optionally a zero-event batch, sealed.
Written WriteSegment(Env* env, const std::string& dir, bool seal, bool zero_event_batch = false) {
  Written w;
  auto sw = SegmentWriter::Create(env, dir, MakeHeader(1), 1);
  EXPECT_TRUE(sw.ok()) << sw.status().ToString();
  w.path = (*sw)->path();
  uint64_t seq = 1;
  std::vector<int> counts = {2, 3, 1};
  if (zero_event_batch) counts.insert(counts.begin() + 1, 0);
  for (int n : counts) {
    pb::ChangeBatch b = MakeBatch(seq, n, "token-" + std::to_string(seq + n));
    EXPECT_TRUE((*sw)->Append(b).ok());
    w.batches.push_back(b);
    seq += n;
  }
  EXPECT_TRUE((*sw)->Sync().ok());
  if (seal) {
    auto sealed = (*sw)->Seal(1234);
    EXPECT_TRUE(sealed.ok()) << sealed.status().ToString();
    w.sealed = *sealed;
  }
  return w;
}

struct ReadResult {
  Status open;
  bool has_header = false;
  std::vector<pb::ChangeBatch> batches;
  std::vector<uint64_t> offsets;
  Status end;
  bool sealed = false;
  RecordScanner::Stop stop = RecordScanner::Stop::kNone;
  uint64_t stop_offset = 0;
  uint64_t valid_end = 0;
  uint32_t file_crc = 0;
  SegmentStats stats;
};

ReadResult ReadSegment(const std::string& path) {
  ReadResult r;
  auto reader = SegmentReader::Open(Env::Default(), path, /*compute_file_crc=*/true);
  r.open = reader.status();
  if (!reader.ok()) return r;
  auto& rd = *reader;
  r.has_header = rd->has_header();
  pb::ChangeBatch b;
  uint64_t off = 0;
  while ((r.end = rd->Next(&b, &off)).ok()) {
    r.batches.push_back(b);
    r.offsets.push_back(off);
  }
  EXPECT_FALSE(rd->Next(&b).ok());
  r.sealed = rd->sealed();
  r.stop = rd->stop();
  r.stop_offset = rd->stop_offset();
  r.valid_end = rd->valid_end();
  r.file_crc = rd->file_crc();
  r.stats = rd->stats();
  return r;
}

TEST(SegmentTest, SealedRoundTrip) {
  TempDir dir;
  Written w = WriteSegment(Env::Default(), dir.path(), /*seal=*/true, /*zero_event_batch=*/true);
  EXPECT_EQ(BaseName(w.path), "00000000000000000001.seg");
  const std::string bytes = ReadBytes(w.path);
  EXPECT_EQ(bytes.substr(0, 8), kSegmentMagic);
  EXPECT_EQ(bytes.substr(bytes.size() - 8), kSegmentEndMagic);

  ReadResult r = ReadSegment(w.path);
  ASSERT_TRUE(r.open.ok()) << r.open.ToString();
  EXPECT_TRUE(r.has_header);
  EXPECT_TRUE(r.end.IsEndOfFile()) << r.end.ToString();
  EXPECT_TRUE(r.sealed);
  ASSERT_EQ(r.batches.size(), w.batches.size());
  for (size_t i = 0; i < w.batches.size(); ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(r.batches[i], w.batches[i])) << i;
  }
  EXPECT_EQ(r.stats.first_seq, 1u);
  EXPECT_EQ(r.stats.next_seq, 7u);
  EXPECT_EQ(r.stats.event_count, 6u);
  EXPECT_EQ(r.stats.batch_count, 4u);
  EXPECT_EQ(r.stats.last_resume_token, "token-7");
  // The manifest entry the writer returns agrees with the file.
  EXPECT_EQ(w.sealed.file_name(), BaseName(w.path));
  EXPECT_EQ(w.sealed.first_seq(), 1u);
  EXPECT_EQ(w.sealed.last_seq(), 6u);
  EXPECT_EQ(w.sealed.event_count(), 6u);
  EXPECT_EQ(w.sealed.file_bytes(), bytes.size());
  EXPECT_EQ(w.sealed.file_crc32c(), crc32c::Value(bytes.data(), bytes.size()));
  EXPECT_EQ(r.file_crc, w.sealed.file_crc32c());
  EXPECT_EQ(w.sealed.last_resume_token(), "token-7");
  EXPECT_EQ(w.sealed.sealed_wall_ms(), 1234);
  EXPECT_EQ(w.sealed.first_cluster_time(), (uint64_t{1700000000} << 32) | 1);
  EXPECT_EQ(w.sealed.last_cluster_time(), (uint64_t{1700000000} << 32) | 6);
}

TEST(SegmentTest, OpenSegmentReadsToCleanEnd) {
  TempDir dir;
  Written w = WriteSegment(Env::Default(), dir.path(), /*seal=*/false);
  ReadResult r = ReadSegment(w.path);
  ASSERT_TRUE(r.open.ok());
  EXPECT_TRUE(r.end.IsEndOfFile());
  EXPECT_FALSE(r.sealed);
  EXPECT_EQ(r.stop, RecordScanner::Stop::kCleanEnd);
  EXPECT_EQ(r.batches.size(), 3u);
  const std::string bytes = ReadBytes(w.path);
  EXPECT_EQ(r.valid_end, bytes.size());
  EXPECT_EQ(r.file_crc, crc32c::Value(bytes.data(), bytes.size()));
}

TEST(SegmentTest, CreateNeverOverwrites) {
  TempDir dir;
  WriteSegment(Env::Default(), dir.path(), true);
  const std::string before = ReadBytes(JoinPath(dir.path(), SegmentFileName(1)));
  auto again = SegmentWriter::Create(Env::Default(), dir.path(), MakeHeader(1), 1);
  EXPECT_FALSE(again.ok());
  EXPECT_EQ(ReadBytes(JoinPath(dir.path(), SegmentFileName(1))), before);
}

TEST(SegmentTest, AppendRequiresContiguousSequence) {
  TempDir dir;
  auto sw = SegmentWriter::Create(Env::Default(), dir.path(), MakeHeader(5), 1);
  ASSERT_TRUE(sw.ok());
  EXPECT_FALSE((*sw)->Append(MakeBatch(6, 1, "")).ok());
  EXPECT_TRUE((*sw)->Append(MakeBatch(5, 1, "")).ok());
  EXPECT_EQ((*sw)->stats().next_seq, 6u);
}

TEST(SegmentTest, ReopenContinuesAndSealsWithMatchingCrc) {
  TempDir dir;
  Written w = WriteSegment(Env::Default(), dir.path(), /*seal=*/false);
  ReadResult r = ReadSegment(w.path);
  ASSERT_TRUE(r.end.IsEndOfFile());
  auto sw = SegmentWriter::Reopen(Env::Default(), w.path, r.stats, r.file_crc, 1);
  ASSERT_TRUE(sw.ok());
  ASSERT_TRUE((*sw)->Append(MakeBatch(7, 4, "token-11")).ok());
  auto sealed = (*sw)->Seal(99);
  ASSERT_TRUE(sealed.ok());
  const std::string bytes = ReadBytes(w.path);
  EXPECT_EQ(sealed->file_crc32c(), crc32c::Value(bytes.data(), bytes.size()));
  EXPECT_EQ(sealed->last_seq(), 10u);
  ReadResult r2 = ReadSegment(w.path);
  EXPECT_TRUE(r2.sealed) << r2.end.ToString();
  EXPECT_EQ(r2.batches.size(), 4u);
  EXPECT_EQ(r2.stats.event_count, 10u);
}

// ENOSPC part-way through a record: the half record is cut off again, the writer keeps
// working once space is back, and the file reads cleanly.
TEST(SegmentTest, FailedWriteLeavesNoHalfRecord) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  auto sw = SegmentWriter::Create(&env, dir.path(), MakeHeader(1), 1);
  ASSERT_TRUE(sw.ok());
  ASSERT_TRUE((*sw)->Append(MakeBatch(1, 2, "a")).ok());
  const uint64_t size = (*sw)->file_size();
  for (int64_t budget : {0, 1, 8, 9, 30}) {
    env.SetWriteBudget(budget);
    Status s = (*sw)->Append(MakeBatch(3, 2, "b"));
    EXPECT_TRUE(s.IsIOError()) << s.ToString();
    EXPECT_EQ((*sw)->file_size(), size);
    EXPECT_EQ(std::filesystem::file_size((*sw)->path()), size);
    EXPECT_EQ((*sw)->stats().next_seq, 3u);
  }
  env.SetWriteBudget(-1);
  ASSERT_TRUE((*sw)->Append(MakeBatch(3, 2, "b")).ok());
  env.SetWriteBudget(20);  // fails inside the footer
  EXPECT_TRUE((*sw)->Seal(1).status().IsIOError());
  env.SetWriteBudget(-1);
  ASSERT_TRUE((*sw)->Append(MakeBatch(5, 1, "c")).ok());
  auto sealed = (*sw)->Seal(2);
  ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
  const std::string path = (*sw)->path();
  ReadResult r = ReadSegment(path);
  EXPECT_TRUE(r.sealed) << r.end.ToString();
  EXPECT_EQ(r.batches.size(), 3u);
  EXPECT_EQ(r.stats.next_seq, 6u);
  const std::string bytes = ReadBytes(path);
  EXPECT_EQ(sealed->file_crc32c(), crc32c::Value(bytes.data(), bytes.size()));
}

// ENOSPC while creating a segment must not leave a file that blocks the next attempt.
TEST(SegmentTest, FailedCreateCanBeRetried) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  for (int64_t budget : {0, 5, 12, 20}) {
    env.SetWriteBudget(budget);
    auto sw = SegmentWriter::Create(&env, dir.path(), MakeHeader(1), 1);
    EXPECT_TRUE(sw.status().IsIOError()) << sw.status().ToString();
  }
  env.SetWriteBudget(-1);
  auto sw = SegmentWriter::Create(&env, dir.path(), MakeHeader(1), 1);
  ASSERT_TRUE(sw.ok()) << sw.status().ToString();
  ASSERT_TRUE((*sw)->Append(MakeBatch(1, 1, "t")).ok());
  ASSERT_TRUE((*sw)->Seal(1).ok());
  EXPECT_TRUE(ReadSegment((*sw)->path()).sealed);
}

// ---- The reader's corruption table ----

// Byte layout of the base segment, found by reading it.
struct Layout {
  uint64_t header = kPreambleSize;
  std::vector<uint64_t> batch;  // offsets of the three batch records
  uint64_t footer = 0;
  uint64_t end_magic = 0;
  uint64_t size = 0;
};

enum class Outcome {
  kOpenCorrupt,     // SegmentReader::Open fails with Corruption at offset
  kNoHeader,        // Open OK, has_header() false, no batches
  kSealed,          // all batches, sealed
  kCleanOpen,       // all batches, clean end, not sealed (footer missing)
  kTorn,            // EndOfFile, torn tail at offset, valid_end == offset, not sealed
  kFooterNoMagic,   // EndOfFile, not sealed, valid_end == offset (before the footer)
  kCorrupt,         // Next: Corruption at offset
};

struct Case {
  const char* name;
  std::function<void(std::string*, const Layout&)> mutate;
  Outcome outcome;
  std::function<uint64_t(const Layout&)> offset;
  size_t batches;  // read before the stop
};

uint64_t At0(const Layout&) { return 0; }
uint64_t AtHeader(const Layout& l) { return l.header; }
uint64_t AtB0(const Layout& l) { return l.batch[0]; }
uint64_t AtB1(const Layout& l) { return l.batch[1]; }
uint64_t AtB2(const Layout& l) { return l.batch[2]; }
uint64_t AtFooter(const Layout& l) { return l.footer; }
uint64_t AtEndMagic(const Layout& l) { return l.end_magic; }
uint64_t AtSize(const Layout& l) { return l.size; }

void Flip(std::string* f, uint64_t at) { (*f)[at] ^= 0x20; }

std::string FooterRec(uint64_t first, uint64_t last, uint64_t events, uint64_t batches) {
  pb::SegmentFooter ft;
  ft.set_first_seq(first);
  ft.set_last_seq(last);
  ft.set_event_count(events);
  ft.set_batch_count(batches);
  return Rec(kRecordSegmentFooter, ft.SerializeAsString());
}

std::string ZstdOf(const std::string& raw) {
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), 1);
  out.resize(n);
  return out;
}

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {"intact", [](std::string*, const Layout&) {}, Outcome::kSealed, AtSize, 3},
      // Preamble and header.
      {"empty file", [](std::string* f, const Layout&) { f->clear(); }, Outcome::kNoHeader, At0,
       0},
      {"shorter than preamble", [](std::string* f, const Layout&) { f->resize(10); },
       Outcome::kNoHeader, At0, 0},
      {"preamble only", [](std::string* f, const Layout&) { f->resize(kPreambleSize); },
       Outcome::kNoHeader, At0, 0},
      {"header record torn", [](std::string* f, const Layout& l) { f->resize(l.header + 6); },
       Outcome::kNoHeader, At0, 0},
      {"wrong magic", [](std::string* f, const Layout&) { f->replace(0, 8, kManifestMagic); },
       Outcome::kOpenCorrupt, At0, 0},
      {"format version 0", [](std::string* f, const Layout&) { (*f)[8] = 0; },
       Outcome::kOpenCorrupt, [](const Layout&) -> uint64_t { return 8; }, 0},
      {"header crc mismatch, valid records after",
       [](std::string* f, const Layout& l) { Flip(f, l.header + kRecordHeaderSize + 1); },
       Outcome::kOpenCorrupt, AtHeader, 0},
      {"batch where the header should be",
       [](std::string* f, const Layout& l) {
         ReplaceRecord(f, l.header, BatchRec(MakeBatch(1, 1, "")));
       },
       Outcome::kOpenCorrupt, AtHeader, 0},
      {"header does not parse",
       [](std::string* f, const Layout& l) {
         ReplaceRecord(f, l.header, Rec(kRecordSegmentHeader, "\xff\xff\xff"));
       },
       Outcome::kOpenCorrupt, AtHeader, 0},
      {"header first_seq disagrees with the file name",
       [](std::string* f, const Layout& l) {
         ReplaceRecord(f, l.header, Rec(kRecordSegmentHeader, MakeHeader(7).SerializeAsString()));
       },
       Outcome::kOpenCorrupt, AtHeader, 0},
      // Batches.
      {"crc mismatch in a middle batch",
       [](std::string* f, const Layout& l) { Flip(f, l.batch[1] + kRecordHeaderSize + 3); },
       Outcome::kCorrupt, AtB1, 1},
      {"crc mismatch in the last batch of a sealed segment",
       [](std::string* f, const Layout& l) { Flip(f, l.batch[2] + kRecordHeaderSize + 3); },
       Outcome::kCorrupt, AtB2, 2},
      {"crc mismatch in the last batch of an open segment",
       [](std::string* f, const Layout& l) {
         f->resize(l.footer);
         Flip(f, l.batch[2] + kRecordHeaderSize + 3);
       },
       Outcome::kTorn, AtB2, 2},
      {"bad length in a middle batch",
       [](std::string* f, const Layout& l) { EncodeFixed32(f->data() + l.batch[1], 0x7fffffff); },
       Outcome::kCorrupt, AtB1, 1},
      {"truncated in the last batch (open segment)",
       [](std::string* f, const Layout& l) { f->resize(l.batch[2] + 20); }, Outcome::kTorn, AtB2,
       2},
      {"truncated in a batch header (open segment)",
       [](std::string* f, const Layout& l) { f->resize(l.batch[1] + 3); }, Outcome::kTorn, AtB1,
       1},
      {"zero-filled tail of an open segment",
       [](std::string* f, const Layout& l) {
         f->resize(l.footer);
         f->append(4096, '\0');
       },
       Outcome::kTorn, AtFooter, 3},
      {"unknown record type",
       [](std::string* f, const Layout& l) { ReplaceRecord(f, l.batch[1], Rec(42, "xyz")); },
       Outcome::kCorrupt, AtB1, 1},
      {"manifest record in a segment",
       [](std::string* f, const Layout& l) {
         ReplaceRecord(f, l.batch[1], Rec(kRecordManifest, "xyz"));
       },
       Outcome::kCorrupt, AtB1, 1},
      {"second header record",
       [](std::string* f, const Layout& l) {
         ReplaceRecord(f, l.batch[1],
                       Rec(kRecordSegmentHeader, MakeHeader(1).SerializeAsString()));
       },
       Outcome::kCorrupt, AtB1, 1},
      {"batch is not zstd",
       [](std::string* f, const Layout& l) {
         ReplaceRecord(f, l.batch[0], Rec(kRecordBatch, "plain bytes"));
       },
       Outcome::kCorrupt, AtB0, 0},
      {"batch is zstd but not a ChangeBatch",
       [](std::string* f, const Layout& l) {
         ReplaceRecord(f, l.batch[0], Rec(kRecordBatch, ZstdOf("\x07\x07\x07\xff")));
       },
       Outcome::kCorrupt, AtB0, 0},
      {"batch claims 2 GiB uncompressed",
       [](std::string* f, const Layout& l) {
         // zstd frame header: magic, single-segment with a 4-byte content size.
         ReplaceRecord(f, l.batch[0],
                       Rec(kRecordBatch, std::string("\x28\xb5\x2f\xfd\xa0\x00\x00\x00\x80"
                                                     "\x01\x00\x00",
                                                     12)));
       },
       Outcome::kCorrupt, AtB0, 0},
      {"sequence gap",
       [](std::string* f, const Layout& l) {
         ReplaceRecord(f, l.batch[1], BatchRec(MakeBatch(4, 3, "")));
       },
       Outcome::kCorrupt, AtB1, 1},
      {"sequence overlap",
       [](std::string* f, const Layout& l) {
         ReplaceRecord(f, l.batch[1], BatchRec(MakeBatch(2, 3, "")));
       },
       Outcome::kCorrupt, AtB1, 1},
      // Footer and end magic.
      {"missing footer", [](std::string* f, const Layout& l) { f->resize(l.footer); },
       Outcome::kCleanOpen, AtFooter, 3},
      {"footer torn", [](std::string* f, const Layout& l) { f->resize(l.footer + 12); },
       Outcome::kTorn, AtFooter, 3},
      {"footer without end magic", [](std::string* f, const Layout& l) { f->resize(l.end_magic); },
       Outcome::kFooterNoMagic, AtFooter, 3},
      {"footer with partial end magic",
       [](std::string* f, const Layout& l) { f->resize(l.end_magic + 5); },
       Outcome::kFooterNoMagic, AtFooter, 3},
      {"wrong end magic", [](std::string* f, const Layout& l) { (*f)[l.end_magic + 2] = 'X'; },
       Outcome::kCorrupt, AtEndMagic, 3},
      {"bytes after end magic", [](std::string* f, const Layout&) { f->append("x"); },
       Outcome::kCorrupt, AtSize, 3},
      {"a record after end magic",
       [](std::string* f, const Layout&) { *f += BatchRec(MakeBatch(7, 1, "")); },
       Outcome::kCorrupt, AtSize, 3},
      // Only the end magic follows a bad footer, no valid record: the seal was cut short
      // (the owner refuses this in a sealed segment; see spool_test).
      {"footer crc mismatch",
       [](std::string* f, const Layout& l) { Flip(f, l.footer + kRecordHeaderSize + 1); },
       Outcome::kTorn, AtFooter, 3},
      {"footer does not parse",
       [](std::string* f, const Layout& l) {
         ReplaceRecord(f, l.footer, Rec(kRecordSegmentFooter, "\xff\xff"));
       },
       Outcome::kCorrupt, AtFooter, 3},
      {"footer disagrees: event count",
       [](std::string* f, const Layout& l) { ReplaceRecord(f, l.footer, FooterRec(1, 6, 7, 3)); },
       Outcome::kCorrupt, AtFooter, 3},
      {"footer disagrees: last seq",
       [](std::string* f, const Layout& l) { ReplaceRecord(f, l.footer, FooterRec(1, 5, 6, 3)); },
       Outcome::kCorrupt, AtFooter, 3},
      {"footer disagrees: batch count",
       [](std::string* f, const Layout& l) { ReplaceRecord(f, l.footer, FooterRec(1, 6, 6, 4)); },
       Outcome::kCorrupt, AtFooter, 3},
      {"footer disagrees: first seq",
       [](std::string* f, const Layout& l) { ReplaceRecord(f, l.footer, FooterRec(2, 6, 6, 3)); },
       Outcome::kCorrupt, AtFooter, 3},
      {"footer right after the header",
       [](std::string* f, const Layout& l) {
         f->erase(l.batch[0], l.footer - l.batch[0]);
       },
       Outcome::kCorrupt, AtB0, 0},
  };
  return cases;
}

TEST(SegmentTest, ReaderCorruptionTable) {
  TempDir dir;
  Written w = WriteSegment(Env::Default(), dir.path(), /*seal=*/true);
  const std::string base = ReadBytes(w.path);
  Layout l;
  {
    ReadResult r = ReadSegment(w.path);
    ASSERT_TRUE(r.sealed);
    ASSERT_EQ(r.offsets.size(), 3u);
    l.batch = r.offsets;
    l.size = base.size();
    l.end_magic = l.size - kSegmentEndMagic.size();
    l.footer = l.batch[2] + kRecordHeaderSize + DecodeFixed32(base.data() + l.batch[2]);
  }
  const std::string case_path = JoinPath(dir.path(), SegmentFileName(1));
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    std::string f = base;
    c.mutate(&f, l);
    WriteBytes(case_path, f);
    const uint64_t offset = c.offset(l);
    ReadResult r = ReadSegment(case_path);
    if (c.outcome == Outcome::kOpenCorrupt) {
      ExpectCorruptionAt(r.open, case_path, offset);
      continue;
    }
    ASSERT_TRUE(r.open.ok()) << r.open.ToString();
    ASSERT_EQ(r.batches.size(), c.batches);
    for (size_t i = 0; i < r.batches.size(); ++i) {
      EXPECT_TRUE(MessageDifferencer::Equals(r.batches[i], w.batches[i]));
      EXPECT_EQ(r.offsets[i], l.batch[i]);
    }
    switch (c.outcome) {
      case Outcome::kNoHeader:
        EXPECT_FALSE(r.has_header);
        EXPECT_TRUE(r.end.IsEndOfFile()) << r.end.ToString();
        EXPECT_FALSE(r.sealed);
        break;
      case Outcome::kSealed:
        EXPECT_TRUE(r.end.IsEndOfFile()) << r.end.ToString();
        EXPECT_TRUE(r.sealed);
        EXPECT_EQ(r.file_crc, crc32c::Value(f.data(), f.size()));
        break;
      case Outcome::kCleanOpen:
        EXPECT_TRUE(r.end.IsEndOfFile()) << r.end.ToString();
        EXPECT_FALSE(r.sealed);
        EXPECT_EQ(r.stop, RecordScanner::Stop::kCleanEnd);
        EXPECT_EQ(r.valid_end, offset);
        break;
      case Outcome::kTorn:
        EXPECT_TRUE(r.end.IsEndOfFile()) << r.end.ToString();
        EXPECT_FALSE(r.sealed);
        EXPECT_EQ(r.stop, RecordScanner::Stop::kTornTail);
        EXPECT_EQ(r.stop_offset, offset);
        EXPECT_EQ(r.valid_end, offset);
        EXPECT_EQ(r.file_crc, crc32c::Value(f.data(), offset));
        break;
      case Outcome::kFooterNoMagic:
        EXPECT_TRUE(r.end.IsEndOfFile()) << r.end.ToString();
        EXPECT_FALSE(r.sealed);
        EXPECT_EQ(r.valid_end, offset);
        EXPECT_EQ(r.file_crc, crc32c::Value(f.data(), offset));
        break;
      case Outcome::kCorrupt:
        ExpectCorruptionAt(r.end, case_path, offset);
        EXPECT_FALSE(r.sealed);
        break;
      case Outcome::kOpenCorrupt:
        break;
    }
  }
}

// A segment from a newer format version, in its preamble or its header record, is
// NotSupported (exit 5: upgrade docshift), not corruption.
TEST(SegmentTest, NewerFormatVersionIsNotSupported) {
  TempDir dir;
  const std::string path = JoinPath(dir.path(), SegmentFileName(1));
  std::string preamble = EncodePreamble(kSegmentMagic);
  std::string f = preamble + Rec(kRecordSegmentHeader, MakeHeader(1).SerializeAsString()) +
                  BatchRec(MakeBatch(1, 3, "t"));
  f[8] = 9;
  WriteBytes(path, f);
  auto r = SegmentReader::Open(Env::Default(), path, false);
  ASSERT_FALSE(r.ok());
  test_util::ExpectNewerFormat(r.status(), path, 9);

  pb::SegmentHeader h = MakeHeader(1);
  h.set_format_version(2);
  WriteBytes(path, preamble + Rec(kRecordSegmentHeader, h.SerializeAsString()) +
                       BatchRec(MakeBatch(1, 3, "t")));
  r = SegmentReader::Open(Env::Default(), path, false);
  ASSERT_FALSE(r.ok());
  test_util::ExpectNewerFormat(r.status(), path, 2);
}

}  // namespace
}  // namespace docshift::spool
