// libFuzzer targets over the spool readers: bytes from disk must never crash a reader,
// hang it, or come back as anything but a clean read, EndOfFile (clean end or torn tail)
// or a Corruption naming the file and the offset (STYLE.md: "bad bytes from disk ... are
// a Corruption status, never a crash").
//
// One source, built four ways (tests/fuzz/CMakeLists.txt):
//   DOCSHIFT_FUZZ_SEGMENT / _MANIFEST / _CHECKPOINT   the fuzz target for that reader
//   DOCSHIFT_FUZZ_SEED_MAIN                           `spool_fuzz_seeds DIR`: writes a
//       seed corpus of valid files made by the real writers into DIR/{segment,manifest,
//       checkpoint}/, so that nothing binary is committed.
//
// Each input is served from memory (MemEnv) instead of a temporary file: no disk IO per
// execution.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proto/spool.pb.h"
#include "spool/checkpoint.h"
#include "spool/manifest.h"
#include "spool/segment.h"
#include "util/env.h"
#include "util/memory_file.h"
#include "util/status.h"

#if defined(DOCSHIFT_FUZZ_SEED_MAIN)
#include <filesystem>
#include "spool/spool.h"
#endif

namespace docshift::fuzz {
namespace {

// An Env holding one read-only file. Everything else fails: readers must not write.
class MemEnv final : public Env {
 public:
  MemEnv(std::string path, std::string_view data) : path_(std::move(path)), data_(data) {}

  StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p) override {
    return Refuse(p);
  }
  StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& p) override {
    return Refuse(p);
  }
  StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& p) override {
    if (p != path_) return Status::NotFound(p);
    return std::unique_ptr<RandomAccessFile>(new MemoryFile(p, data_));
  }
  bool FileExists(const std::string& p) override { return p == path_; }
  StatusOr<uint64_t> GetFileSize(const std::string& p) override {
    if (p != path_) return Status::NotFound(p);
    return static_cast<uint64_t>(data_.size());
  }
  StatusOr<std::vector<std::string>> GetChildren(const std::string& d) override {
    return Refuse(d);
  }
  Status CreateDirIfMissing(const std::string& d) override { return Refuse(d); }
  Status DeleteFile(const std::string& p) override { return Refuse(p); }
  Status RenameFile(const std::string& f, const std::string&) override { return Refuse(f); }
  Status Truncate(const std::string& p, uint64_t) override { return Refuse(p); }
  Status SyncDir(const std::string& d) override { return Refuse(d); }
  Status SyncPath(const std::string& p, uint64_t) override { return Refuse(p); }
  StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& p) override {
    return Refuse(p);
  }
  Status CheckWritableDir(const std::string& d) override { return Refuse(d); }

 private:
  static Status Refuse(const std::string& what) {
    return Status::Internal("a reader tried to modify " + what);
  }
  std::string path_;
  std::string_view data_;
};

[[noreturn]] void Fail(const char* what, const Status& s) {
  std::fprintf(stderr, "spool_fuzz: %s: %s\n", what, s.ToString().c_str());
  std::abort();
}

// Errors from a reader may only be Corruption naming the file and an offset, NotSupported
// naming the file (a newer format version), or EndOfFile.
[[maybe_unused]] void CheckError(const Status& s, const std::string& path) {
  if (s.ok() || s.IsEndOfFile()) return;
  if (s.IsNotSupported()) {
    if (s.message().find(BaseName(path)) == std::string::npos) Fail("NotSupported does not name the file", s);
    return;
  }
  if (!s.IsCorruption()) Fail("reader returned neither Corruption nor EndOfFile", s);
  if (s.message().find(BaseName(path)) == std::string::npos ||
      s.message().find(" at offset ") == std::string::npos) {
    Fail("Corruption does not name file and offset", s);
  }
}

[[maybe_unused]] void Require(bool cond, const char* what) {
  if (!cond) Fail(what, Status::Internal("invariant"));
}

#if defined(DOCSHIFT_FUZZ_SEGMENT)
void FuzzOne(std::string_view data) {
  // Not a sequence-number name, so the seeds (segments 5, 9, 13) pass the name check.
  const std::string path = "/fuzz/segments/fuzz.seg";
  MemEnv env(path, data);
  auto r = spool::SegmentReader::Open(&env, path, /*compute_file_crc=*/true);
  if (!r.ok()) {
    CheckError(r.status(), path);
    return;
  }
  spool::SegmentReader& reader = **r;
  pb::ChangeBatch batch;
  uint64_t offset = 0, last_offset = 0;
  Status s;
  size_t batches = 0;
  while ((s = reader.Next(&batch, &offset)).ok()) {
    // Every record takes at least a header: progress is guaranteed.
    Require(batches == 0 || offset > last_offset, "batch offsets do not advance");
    Require(offset < data.size(), "batch offset past the end");
    last_offset = offset;
    ++batches;
  }
  CheckError(s, path);
  Require(reader.valid_end() <= data.size(), "valid_end past the end");
  Require(!reader.sealed() || reader.footer().event_count() == reader.stats().event_count,
          "sealed with a footer that disagrees");
  Require(reader.stats().batch_count == batches, "batch count");
  if (s.IsEndOfFile() && reader.has_header()) {
    // What recovery would truncate to is a record boundary inside the file.
    Require(reader.valid_end() >= spool::kPreambleSize, "valid_end inside the preamble");
  }
}
#elif defined(DOCSHIFT_FUZZ_MANIFEST)
void FuzzOne(std::string_view data) {
  const std::string path = "/fuzz/MANIFEST";
  MemEnv env(path, data);
  spool::ManifestState state;
  Status s = spool::ReadManifest(&env, path, &state, /*keep_entries=*/true);
  if (!s.ok()) {
    Require(!s.IsEndOfFile(), "ReadManifest returned EndOfFile");
    CheckError(s, path);
    return;
  }
  Require(state.valid_end <= data.size(), "valid_end past the end");
  Require(state.torn_tail == (state.valid_end < data.size()), "torn_tail vs valid_end");
  Require(!state.entries.empty() && state.entries[0].record.has_created(),
          "read without a SpoolCreated record");
  for (const auto& seg : state.segments) {
    Require(seg.last_seq() >= seg.first_seq(), "live segment without events");
  }
}
#elif defined(DOCSHIFT_FUZZ_CHECKPOINT)
void FuzzOne(std::string_view data) {
  const std::string path = "/fuzz/checkpoints/apply.ckpt";
  MemEnv env(path, data);
  pb::ApplyCheckpoint ckpt;
  Status s = spool::ReadCheckpoint(&env, path, &ckpt);
  if (!s.ok()) Require(!s.IsEndOfFile(), "ReadCheckpoint returned EndOfFile");
  CheckError(s, path);
}
#endif

#if defined(DOCSHIFT_FUZZ_SEED_MAIN)
namespace fs = std::filesystem;

pb::ChangeBatch SeedBatch(int events, const std::string& token) {
  pb::ChangeBatch b;
  for (int i = 0; i < events; ++i) {
    auto* e = b.add_events();
    e->set_db("db");
    e->set_coll("coll");
    e->set_op(i % 2 ? pb::OP_UPDATE : pb::OP_INSERT);
    e->set_document_key(std::string("\x0e\x00\x00\x00\x10_id\x00\x01\x00\x00\x00\x00", 14));
    e->set_full_document("{x: " + std::to_string(i) + "}");
    e->set_cluster_time(100 + i);
    e->set_capture_wall_ms(1000 + i);
  }
  b.set_resume_token(token);
  return b;
}

int SeedMain(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[1];
  const fs::path work = out / "_spool";
  std::error_code ec;
  fs::remove_all(work, ec);
  spool::SpoolWriterOptions o;
  o.dir = work.string();
  o.source_id = "fuzz";
  auto check = [](const Status& s) {
    if (!s.ok()) Fail("writing the seed spool", s);
  };
  {
    auto w = spool::SpoolWriter::Open(o);
    check(w.status());
    int token = 0;
    for (int seg = 0; seg < 4; ++seg) {
      for (int events : {1, 0, 3}) {
        pb::ChangeBatch b = SeedBatch(events, "t" + std::to_string(++token));
        check((*w)->Append(&b));
      }
      check((*w)->Sync());
      if (seg < 3) check((*w)->SealOpenSegment(seg));  // the last stays open
    }
    pb::ApplyCheckpoint c;
    c.set_applied_seq(5);
    c.set_target_id("target");
    check(spool::WriteCheckpoint(Env::Default(), o.dir, "apply", c));
    check((*w)->Prune(0, 1000).status());  // puts a SegmentDeleted record in the manifest
  }
  const std::pair<const char*, const char*> kinds[] = {
      {"segments", "segment"}, {"checkpoints", "checkpoint"}, {"", "manifest"}};
  for (const auto& [from, to] : kinds) {
    fs::create_directories(out / to);
    if (std::string(to) == "manifest") {
      fs::copy_file(work / "MANIFEST", out / to / "MANIFEST", fs::copy_options::overwrite_existing);
      continue;
    }
    for (const auto& e : fs::directory_iterator(work / from)) {
      fs::copy_file(e.path(), out / to / e.path().filename(),
                    fs::copy_options::overwrite_existing);
    }
  }
  fs::remove_all(work);
  std::printf("seed corpus written to %s\n", out.c_str());
  return 0;
}
#endif

}  // namespace
}  // namespace docshift::fuzz

#if defined(DOCSHIFT_FUZZ_SEED_MAIN)
int main(int argc, char** argv) { return docshift::fuzz::SeedMain(argc, argv); }
#else
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  docshift::fuzz::FuzzOne(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
#endif
