// spool_bench: spool throughput as ratios to baselines measured in the same run, on the
// same pre-generated batches. The machine this runs on is small and noisy, so absolute
// numbers mean little; the ratios are the result.
//
// "Raw bytes" are the serialized ChangeBatch bytes (what the spool compresses). Every
// throughput is raw bytes (or events) per second, so the rows compare directly:
//
//   cpu    pb serialize            ChangeBatch → bytes, in memory
//          zstd compress           those bytes at the spool's level, ZSTD_compress2
//          zstd decompress         the frames back
//          decompress + parse      + ChangeBatch::ParseFromArray (what a reader must do)
//   disk   write+fdatasync@1       the spool's exact record bytes (header + frame), one
//                                  write() per batch, fdatasync after every batch
//          write+fdatasync@G       the same, fdatasync after every G batches
//   emul   1 thread                the spool's write path written out in the bench, no spool
//                                  code: serialize, compress, frame, write, fdatasync in turn
//          2 threads               the same with write+fdatasync of batch N on a second
//                                  thread while batch N+1 is serialized and compressed
//   spool  durable write@1         SpoolWriter Append + Sync per batch (+ MaybeRoll), Close,
//                                  as capture drives it
//          durable write@G         SyncAsync after every G batches: pipelined group commit,
//                                  the fsync of one group overlapping the compression and
//                                  writes of the next
//          read+decode (warm)      OpenSpoolView + SpoolReader::Next over the @1 spool
//                                  just written (its pages still cached)
//          read+decode (cold)      the same over the @G spool after posix_fadvise(DONTNEED)
//                                  on its files (the host may still cache them)
//
// A round runs every measurement once over the whole workload, in two phases (writes and
// CPU baselines; then reads). Within a phase the work is cut into --chunks chunks and
// chunk k of every measurement runs before chunk k+1 of any, so a burst of noise hits all
// of them alike. The table shows the median and range across rounds; every ratio is
// computed within a round and then the median taken.
//
// Exit status: 0 success, 1 a measurement failed, 2 bad arguments.
#include <fcntl.h>
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <zstd.h>

#include <bson/bson.h>
#include <google/protobuf/stubs/common.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/strict_flags.h"
#include "bench/synth.h"
#include "spool/format.h"
#include "spool/record.h"
#include "spool/spool.h"
#include "util/duration.h"

#ifndef DOCSHIFT_BENCH_DEFAULT_DIR
#define DOCSHIFT_BENCH_DEFAULT_DIR "/tmp/docshift-bench"
#endif

DEFINE_string(dir, DOCSHIFT_BENCH_DEFAULT_DIR,
              "Directory on the disk under test; a private subdirectory is created in it "
              "and removed at the end.");
DEFINE_double(mb, 64, "Raw event bytes (serialized ChangeBatch) per measurement, in MB (1e6).");
DEFINE_int32(batch_events, 100, "Events per batch (one spool record, one zstd frame).");
DEFINE_int32(rounds, 5, "Rounds; each runs every measurement once. Medians are reported.");
DEFINE_double(time_budget_s, 50,
              "Start no round (beyond the third) that would end after this many seconds; "
              "0 = no limit.");
DEFINE_int32(chunks, 16,
             "Chunks per round; chunk k of every measurement runs before chunk k+1 of any.");
DEFINE_int32(group_batches, 8, "Batches per Sync / fdatasync in the group-commit variants.");
DEFINE_bool(nested, false, "Nested order-like documents instead of ~1 KB YCSB rows.");
DEFINE_int32(zstd_level, 1, "zstd level for the spool and the raw baseline (spool default 1).");
DEFINE_double(apply_need_eps, 50'000,
              "Events/s apply needs from the reader (the apply target rate, an assumption "
              "until apply is measured); read+decode should reach 5x this.");
DEFINE_uint64(seed, 1, "Seed of the synthetic stream.");
DEFINE_bool(cold_read, true,
            "Also measure read+decode after dropping the spool files from the page cache.");

namespace docshift::bench {
namespace {

constexpr const char* kUsage =
    "spool_bench [--dir DIR] [--mb MB] [--batch_events K] [--rounds R] [--group_batches G]\n"
    "Spool durable-write and read throughput as ratios to raw zstd and raw disk baselines.";

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

Status Errno(const std::string& what) { return Status::FromErrno(what, errno); }

struct ZstdCctxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct ZstdDctxFree {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};

// A file descriptor closed on destruction.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }

 private:
  int fd_;
};

struct Options {
  std::string dir;
  double mb = 0;
  int batch_events = 0;
  int rounds = 0;
  int group = 0;
  int chunks = 0;
  double time_budget_s = 0;
  int zstd_level = 1;
  double apply_need_eps = 0;
  bool cold_read = true;
  SynthConfig synth;
};

// The batches every measurement works on, and their derived forms.
struct Workload {
  std::vector<pb::ChangeBatch> batches;  // first_seq already what a fresh spool assigns
  std::vector<std::string> raw;          // serialized batches
  std::vector<std::string> records;      // spool records: header + zstd frame of raw
  size_t max_raw = 0;
  uint64_t raw_bytes = 0;
  uint64_t frame_bytes = 0;   // zstd frames only
  uint64_t record_bytes = 0;  // frames + record headers: what the disk baseline writes
  uint64_t events = 0;
  double gen_seconds = 0;
};

Status BuildWorkload(const Options& o, Workload* w) {
  const auto t0 = Clock::now();
  const uint64_t target = static_cast<uint64_t>(o.mb * 1e6);
  std::unique_ptr<ZSTD_CCtx, ZstdCctxFree> cctx(ZSTD_createCCtx());
  if (!cctx) return Status::Internal("ZSTD_createCCtx failed");
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, o.zstd_level);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_contentSizeFlag, 1);
  std::string frame;
  uint64_t next_event = 0;
  while (w->raw_bytes < target) {
    pb::ChangeBatch& b = w->batches.emplace_back();
    FillBatch(o.synth, next_event, o.batch_events, &b);
    b.set_first_seq(next_event + 1);
    next_event += static_cast<uint64_t>(o.batch_events);
    std::string& raw = w->raw.emplace_back();
    if (!b.SerializeToString(&raw)) return Status::Internal("serializing a batch failed");
    frame.resize(ZSTD_compressBound(raw.size()));
    const size_t n =
        ZSTD_compress2(cctx.get(), frame.data(), frame.size(), raw.data(), raw.size());
    if (ZSTD_isError(n)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(n));
    frame.resize(n);
    std::string& rec = w->records.emplace_back();
    spool::EncodeRecord(spool::kRecordBatch, frame, &rec);
    w->max_raw = std::max(w->max_raw, raw.size());
    w->raw_bytes += raw.size();
    w->frame_bytes += n;
    w->record_bytes += rec.size();
    w->events += static_cast<uint64_t>(b.events_size());
  }
  w->gen_seconds = Since(t0);
  return Status::OK();
}

// ---- Measurements ----
//
// Each measurement processes the workload in chunks of consecutive batches; the driver
// runs chunk k of every measurement back to back before chunk k+1 of any, so a burst of
// noise (another process, the host) hits all of them alike instead of one.

class Measurement {
 public:
  virtual ~Measurement() = default;
  // Untimed setup (opening a spool is a one-time cost, not throughput).
  virtual Status Start() { return Status::OK(); }
  // Timed: batches [lo, hi).
  virtual Status Chunk(size_t lo, size_t hi) = 0;
  // Timed: whatever completes the work (final sync, close, seal, end-of-data check).
  virtual Status Finish() { return Status::OK(); }
  // Untimed teardown.
  virtual Status Cleanup() { return Status::OK(); }
};

class Serialize final : public Measurement {
 public:
  explicit Serialize(const Workload& w) : w_(w) { buf_.reserve(w.max_raw); }
  Status Chunk(size_t lo, size_t hi) override {
    for (size_t i = lo; i < hi; ++i) {
      if (!w_.batches[i].SerializeToString(&buf_)) return Status::Internal("serialize failed");
      total_ += buf_.size();
    }
    return Status::OK();
  }
  Status Finish() override {
    if (total_ != w_.raw_bytes) return Status::Internal("serialized size changed");
    return Status::OK();
  }

 private:
  const Workload& w_;
  std::string buf_;
  uint64_t total_ = 0;
};

// ZSTD_compress2 with the parameters BatchCodec uses.
class Compress final : public Measurement {
 public:
  Compress(const Workload& w, int level) : w_(w), level_(level) {}
  Status Start() override {
    cctx_.reset(ZSTD_createCCtx());
    if (!cctx_) return Status::Internal("ZSTD_createCCtx failed");
    ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_compressionLevel, level_);
    ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_contentSizeFlag, 1);
    out_.assign(ZSTD_compressBound(w_.max_raw), '\0');
    return Status::OK();
  }
  Status Chunk(size_t lo, size_t hi) override {
    for (size_t i = lo; i < hi; ++i) {
      const std::string& raw = w_.raw[i];
      const size_t n =
          ZSTD_compress2(cctx_.get(), out_.data(), out_.size(), raw.data(), raw.size());
      if (ZSTD_isError(n)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(n));
      total_ += n;
    }
    return Status::OK();
  }
  Status Finish() override {
    if (total_ != w_.frame_bytes) return Status::Internal("compressed size changed");
    return Status::OK();
  }

 private:
  const Workload& w_;
  int level_;
  std::unique_ptr<ZSTD_CCtx, ZstdCctxFree> cctx_;
  std::string out_;
  uint64_t total_ = 0;
};

// Decompresses every frame; with parse, also parses it into a reused ChangeBatch, as
// BatchCodec::Decode does.
class Decompress final : public Measurement {
 public:
  Decompress(const Workload& w, bool parse) : w_(w), parse_(parse) {}
  Status Start() override {
    dctx_.reset(ZSTD_createDCtx());
    if (!dctx_) return Status::Internal("ZSTD_createDCtx failed");
    out_.assign(w_.max_raw, '\0');
    return Status::OK();
  }
  Status Chunk(size_t lo, size_t hi) override {
    for (size_t i = lo; i < hi; ++i) {
      const std::string& rec = w_.records[i];
      const size_t n = ZSTD_decompressDCtx(dctx_.get(), out_.data(), out_.size(),
                                           rec.data() + spool::kRecordHeaderSize,
                                           rec.size() - spool::kRecordHeaderSize);
      if (ZSTD_isError(n)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(n));
      if (parse_) {
        if (!batch_.ParseFromArray(out_.data(), static_cast<int>(n))) {
          return Status::Internal("parse failed");
        }
        events_ += static_cast<uint64_t>(batch_.events_size());
      }
    }
    return Status::OK();
  }
  Status Finish() override {
    if (parse_ && events_ != w_.events) return Status::Internal("parsed event count is wrong");
    return Status::OK();
  }

 private:
  const Workload& w_;
  bool parse_;
  std::unique_ptr<ZSTD_DCtx, ZstdDctxFree> dctx_;
  std::string out_;
  pb::ChangeBatch batch_;
  uint64_t events_ = 0;
};

// The disk baseline: the spool's exact record bytes written to a new file with the spool's
// open flags and write sizes (one write() per batch), fdatasync after every `group`
// batches and at the end. Like a new segment, creating the file and fsyncing its directory
// are timed.
class DiskWrite final : public Measurement {
 public:
  DiskWrite(const Workload& w, std::string dir, std::string name, int group)
      : w_(w), dir_(std::move(dir)), path_(JoinPath(dir_, name)), group_(group) {}
  ~DiskWrite() override {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Chunk(size_t lo, size_t hi) override {
    if (fd_ < 0) {
      fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
      if (fd_ < 0) return Errno("create " + path_);
      Fd d(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (d.get() < 0 || ::fsync(d.get()) != 0) return Errno("fsync directory " + dir_);
    }
    for (size_t i = lo; i < hi; ++i) {
      const char* p = w_.records[i].data();
      size_t left = w_.records[i].size();
      while (left > 0) {
        const ssize_t n = ::write(fd_, p, left);
        if (n < 0) {
          if (errno == EINTR) continue;
          return Errno("write " + path_);
        }
        p += n;
        left -= static_cast<size_t>(n);
      }
      if (++pending_ == group_) {
        if (::fdatasync(fd_) != 0) return Errno("fdatasync " + path_);
        pending_ = 0;
      }
    }
    return Status::OK();
  }
  Status Finish() override {
    if (pending_ > 0 && ::fdatasync(fd_) != 0) return Errno("fdatasync " + path_);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return Errno("close " + path_);
    return Status::OK();
  }
  Status Cleanup() override {
    if (::unlink(path_.c_str()) != 0) return Errno("unlink " + path_);
    return Status::OK();
  }

 private:
  const Workload& w_;
  std::string dir_, path_;
  int group_;
  int fd_ = -1;
  int pending_ = 0;
};

// The spool as capture drives it: Append per batch, Sync after every batch (group 1), or
// SyncAsync after every `group` batches (pipelined: the previous sync must finish before the
// next starts); MaybeRoll after each; Close at the end (sync + seal + manifest).
class SpoolWrite final : public Measurement {
 public:
  SpoolWrite(Workload& w, std::string dir, int group, int zstd_level)
      : w_(w), dir_(std::move(dir)), group_(group), zstd_level_(zstd_level) {}
  Status Start() override {
    spool::SpoolWriterOptions wo;
    wo.dir = dir_;
    wo.source_id = "spool_bench";
    wo.source_kind = "synthetic";
    wo.zstd_level = zstd_level_;
    ASSIGN_OR_RETURN(writer_, spool::SpoolWriter::Open(wo));
    return Status::OK();
  }
  Status Chunk(size_t lo, size_t hi) override {
    for (size_t i = lo; i < hi; ++i) {
      RETURN_IF_ERROR(writer_->Append(&w_.batches[i]));
      if (++pending_ == group_) {
        RETURN_IF_ERROR(group_ == 1 ? writer_->Sync() : writer_->SyncAsync());
        RETURN_IF_ERROR(writer_->MaybeRoll(NowMs()));
        pending_ = 0;
      }
    }
    return Status::OK();
  }
  Status Finish() override {
    RETURN_IF_ERROR(writer_->Close(NowMs()));
    if (writer_->next_seq() != w_.events + 1) return Status::Internal("spool lost events");
    writer_.reset();  // releases the lock
    return Status::OK();
  }

 private:
  Workload& w_;
  std::string dir_;
  int group_;
  int zstd_level_;
  std::unique_ptr<spool::SpoolWriter> writer_;
  int pending_ = 0;
};

// What the spool's write path does, written out in the bench with no spool code: per
// batch serialize → compress → frame → write() → fdatasync. One thread (serial) does it
// all in order; with pipelined, a second thread does write+fdatasync of batch N while the
// caller serializes and compresses batch N+1 (at most 2 records queued). Separates the
// spool's own overhead (spool vs serial emulation) from the cost of doing the steps one
// after another (serial vs pipelined emulation).
class EmulatedWrite final : public Measurement {
 public:
  EmulatedWrite(const Workload& w, std::string dir, std::string name, int level, bool pipelined)
      : w_(w), dir_(std::move(dir)), path_(JoinPath(dir_, name)), level_(level),
        pipelined_(pipelined) {}
  ~EmulatedWrite() override {
    Stop();
    if (fd_ >= 0) ::close(fd_);
  }
  Status Start() override {
    cctx_.reset(ZSTD_createCCtx());
    if (!cctx_) return Status::Internal("ZSTD_createCCtx failed");
    ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_compressionLevel, level_);
    ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_contentSizeFlag, 1);
    if (pipelined_) thread_ = std::thread([this] { WriterLoop(); });
    return Status::OK();
  }
  Status Chunk(size_t lo, size_t hi) override {
    if (fd_ < 0) {
      fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
      if (fd_ < 0) return Errno("create " + path_);
      Fd d(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (d.get() < 0 || ::fsync(d.get()) != 0) return Errno("fsync directory " + dir_);
    }
    for (size_t i = lo; i < hi; ++i) {
      std::string rec;
      if (!w_.batches[i].SerializeToString(&raw_)) return Status::Internal("serialize failed");
      frame_.resize(ZSTD_compressBound(raw_.size()));
      const size_t n =
          ZSTD_compress2(cctx_.get(), frame_.data(), frame_.size(), raw_.data(), raw_.size());
      if (ZSTD_isError(n)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(n));
      frame_.resize(n);
      spool::EncodeRecord(spool::kRecordBatch, frame_, &rec);
      if (!pipelined_) {
        RETURN_IF_ERROR(WriteAndSync(rec));
        continue;
      }
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [this] { return queue_.size() < 2 || !error_.ok(); });
      if (!error_.ok()) return error_;
      queue_.push_back(std::move(rec));
      cv_.notify_all();
    }
    if (pipelined_) {  // the chunk is done when its records are durable
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [this] { return (queue_.empty() && !busy_) || !error_.ok(); });
      return error_;
    }
    return Status::OK();
  }
  Status Finish() override {
    Stop();
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return Errno("close " + path_);
    return Status::OK();
  }
  Status Cleanup() override {
    if (::unlink(path_.c_str()) != 0) return Errno("unlink " + path_);
    return Status::OK();
  }

 private:
  Status WriteAndSync(const std::string& rec) {
    const char* p = rec.data();
    size_t left = rec.size();
    while (left > 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno("write " + path_);
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    if (::fdatasync(fd_) != 0) return Errno("fdatasync " + path_);
    return Status::OK();
  }
  void WriterLoop() {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      cv_.wait(l, [this] { return !queue_.empty() || stop_; });
      if (queue_.empty()) return;  // stop_ and drained
      std::string rec = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      l.unlock();
      Status s = WriteAndSync(rec);
      l.lock();
      busy_ = false;
      if (!s.ok() && error_.ok()) error_ = s;
      cv_.notify_all();
    }
  }
  void Stop() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  const Workload& w_;
  std::string dir_, path_;
  int level_;
  bool pipelined_;
  int fd_ = -1;
  std::unique_ptr<ZSTD_CCtx, ZstdCctxFree> cctx_;
  std::string raw_, frame_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;  // guarded by mu_, as are busy_, stop_, error_
  bool busy_ = false;
  bool stop_ = false;
  Status error_;
};

// Drops a directory's files from the page cache (they are synced, so the pages are clean).
Status DropCache(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    Fd fd(::open(e.path().c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return Errno("open " + e.path().string());
    ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED);
  }
  if (ec) return Status::IOError("list " + dir + ": " + ec.message());
  return Status::OK();
}

// The spool as apply reads it: OpenSpoolView (timed, in the first chunk), SpoolReader,
// every batch decompressed and parsed into a reused ChangeBatch.
class SpoolRead final : public Measurement {
 public:
  SpoolRead(const Workload& w, std::string dir, bool cold)
      : w_(w), dir_(std::move(dir)), cold_(cold) {}
  Status Start() override { return cold_ ? DropCache(dir_) : Status::OK(); }
  Status Chunk(size_t lo, size_t hi) override {
    if (!reader_) {
      RETURN_IF_ERROR(spool::OpenSpoolView(Env::Default(), dir_, &view_));
      reader_ = std::make_unique<spool::SpoolReader>(Env::Default(), &view_,
                                                     spool::SpoolReader::Options{});
    }
    for (size_t i = lo; i < hi; ++i) {
      RETURN_IF_ERROR(reader_->Next(&batch_));
      events_ += static_cast<uint64_t>(batch_.events_size());
    }
    return Status::OK();
  }
  Status Finish() override {
    Status s = reader_->Next(&batch_);
    if (!s.IsEndOfFile()) return s.ok() ? Status::Internal("more batches than written") : s;
    if (events_ != w_.events) {
      return Status::Internal("read " + std::to_string(events_) + " events, wrote " +
                              std::to_string(w_.events));
    }
    return Status::OK();
  }

 private:
  const Workload& w_;
  std::string dir_;
  bool cold_;
  spool::SpoolView view_;
  std::unique_ptr<spool::SpoolReader> reader_;
  pb::ChangeBatch batch_;
  uint64_t events_ = 0;
};

// Runs the measurements interleaved chunk by chunk (rotating which goes first) and
// returns each one's total timed seconds in *secs.
Status RunInterleaved(const std::vector<Measurement*>& ms, size_t batches, int chunks,
                      std::vector<double>* secs) {
  secs->assign(ms.size(), 0.0);
  for (Measurement* m : ms) RETURN_IF_ERROR(m->Start());
  const size_t n = ms.size();
  for (int c = 0; c < chunks; ++c) {
    const size_t lo = batches * static_cast<size_t>(c) / static_cast<size_t>(chunks);
    const size_t hi = batches * static_cast<size_t>(c + 1) / static_cast<size_t>(chunks);
    for (size_t k = 0; k < n; ++k) {
      const size_t j = (static_cast<size_t>(c) + k) % n;
      const auto t0 = Clock::now();
      RETURN_IF_ERROR(ms[j]->Chunk(lo, hi));
      (*secs)[j] += Since(t0);
    }
  }
  for (size_t j = 0; j < n; ++j) {
    const auto t0 = Clock::now();
    RETURN_IF_ERROR(ms[j]->Finish());
    (*secs)[j] += Since(t0);
  }
  for (Measurement* m : ms) RETURN_IF_ERROR(m->Cleanup());
  return Status::OK();
}

// ---- Reporting ----

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Row {
  Row(std::string g, std::string n, uint64_t disk = 0)
      : group(std::move(g)), name(std::move(n)), disk_bytes(disk) {}
  std::string group;
  std::string name;
  std::vector<double> secs;
  uint64_t disk_bytes = 0;  // bytes written or read on disk, 0 for in-memory rows
};

std::string ReadFirstMatch(const std::string& file, const std::string& prefix) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) {
      auto pos = line.find(':');
      if (pos != std::string::npos) {
        size_t start = line.find_first_not_of(' ', pos + 1);
        return start == std::string::npos ? "" : line.substr(start);
      }
    }
  }
  return "?";
}

// "ext4 on /dev/vda (mounted at /)" for the filesystem holding dir.
std::string DescribeFilesystem(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return "?";
  const std::string devno =
      std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, dev, root, mount_point, tok;
    f >> id >> parent >> dev >> root >> mount_point;
    if (dev != devno) continue;
    while (f >> tok && tok != "-") {
    }
    std::string fstype, source;
    f >> fstype >> source;
    return fstype + " on " + source + " (mounted at " + mount_point + ")";
  }
  return "? (device " + devno + ")";
}

int RunBench(const Options& o) {
  // The private work directory: removed at the end, never anything else.
  std::error_code ec;
  std::filesystem::create_directories(o.dir, ec);
  if (ec) {
    std::fprintf(stderr, "spool_bench: create %s: %s\n", o.dir.c_str(), ec.message().c_str());
    return 1;
  }
  const std::string work = JoinPath(o.dir, "spool_bench." + std::to_string(::getpid()));
  std::filesystem::create_directory(work, ec);
  if (ec) {
    std::fprintf(stderr, "spool_bench: create %s: %s\n", work.c_str(), ec.message().c_str());
    return 1;
  }
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      std::error_code e;
      std::filesystem::remove_all(path, e);
    }
  } cleanup{work};

  Workload w;
  if (Status s = BuildWorkload(o, &w); !s.ok()) {
    std::fprintf(stderr, "spool_bench: generating the workload: %s\n", s.ToString().c_str());
    return 1;
  }

  std::printf("spool_bench: %.1f MB raw = %zu batches x %d events (%s, %.0f B/event), "
              "zstd level %d ratio %.2fx; generated in %.1f s\n",
              w.raw_bytes / 1e6, w.batches.size(), o.batch_events,
              o.synth.shape == DocShape::kNested ? "nested" : "ycsb",
              static_cast<double>(w.raw_bytes) / static_cast<double>(w.events), o.zstd_level,
              static_cast<double>(w.raw_bytes) / static_cast<double>(w.frame_bytes),
              w.gen_seconds);
  std::printf("machine: %ld cpus, %s; dir %s: %s\n", ::sysconf(_SC_NPROCESSORS_ONLN),
              ReadFirstMatch("/proc/cpuinfo", "model name").c_str(), o.dir.c_str(),
              DescribeFilesystem(o.dir).c_str());
  std::printf("versions: zstd %s, protobuf %s, libbson %s\n", ZSTD_versionString(),
              google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION).c_str(),
              bson_get_version());
  std::fflush(stdout);

  const std::string g = std::to_string(o.group);
  Row ser{"cpu", "pb serialize"}, comp{"cpu", "zstd compress"}, decomp{"cpu", "zstd decompress"},
      parse{"cpu", "zstd decompress + pb parse"};
  Row disk1{"disk", "write+fdatasync every batch", w.record_bytes},
      diskg{"disk", "write+fdatasync every " + g + " batches", w.record_bytes};
  Row spool1{"spool", "durable write, Sync every batch", w.record_bytes},
      spoolg{"spool", "durable write, Sync every " + g + " batches", w.record_bytes},
      warm{"spool", "read+decode (page cache warm)", w.record_bytes},
      emul{"emul", "serialize+compress+write+fdatasync, 1 thread", w.record_bytes},
      pipe{"emul", "the same pipelined on 2 threads", w.record_bytes},
      cold{"spool", "read+decode (cold: after fadvise DONTNEED)", w.record_bytes};

  // Per-round ratios.
  std::vector<double> r_write1, r_writeg, r_emul, r_pipe_meas, r_vs_emul, r_read_vs_mem, r_read,
      r_read_cold;

  // Rounds stop early (never below kMinRounds) when another would overrun the time budget:
  // on a loaded machine each fdatasync can take 10x longer.
  constexpr int kMinRounds = 3;
  const auto rounds_start = Clock::now();
  int rounds_done = 0;
  for (int round = 0; round < o.rounds; ++round) {
    if (round >= kMinRounds && o.time_budget_s > 0) {
      const double elapsed = Since(rounds_start);
      if (elapsed + elapsed / round > o.time_budget_s) break;
    }
    const std::string spool1_dir = JoinPath(work, "spool_r" + std::to_string(round) + "_1");
    const std::string spoolg_dir = JoinPath(work, "spool_r" + std::to_string(round) + "_g");
    // Phase 1: CPU baselines, disk baselines and spool writes, interleaved.
    Serialize m_ser(w);
    Compress m_comp(w, o.zstd_level);
    Decompress m_decomp(w, false), m_parse(w, true), m_parse2(w, true);
    DiskWrite m_disk1(w, work, "raw_disk_1.dat", 1), m_diskg(w, work, "raw_disk_g.dat", o.group);
    SpoolWrite m_spool1(w, spool1_dir, 1, o.zstd_level), m_spoolg(w, spoolg_dir, o.group,
                                                                  o.zstd_level);
    EmulatedWrite m_emul(w, work, "emul_serial.dat", o.zstd_level, false),
        m_pipe(w, work, "emul_pipelined.dat", o.zstd_level, true);
    SpoolRead m_warm(w, spool1_dir, false), m_cold(w, spoolg_dir, true);
    std::vector<double> t1, t2;
    Status s = RunInterleaved({&m_ser, &m_comp, &m_decomp, &m_parse, &m_disk1, &m_spool1,
                               &m_diskg, &m_spoolg, &m_emul, &m_pipe},
                              w.batches.size(), o.chunks, &t1);
    // Phase 2: reads of the spools just written (warm: @1 spool as written; cold: @G spool
    // after dropping it from the page cache), with an in-memory decompress+parse beside.
    if (s.ok()) {
      std::vector<Measurement*> reads = {&m_warm, &m_parse2};
      if (o.cold_read) reads.push_back(&m_cold);
      s = RunInterleaved(reads, w.batches.size(), o.chunks, &t2);
    }
    std::filesystem::remove_all(spool1_dir, ec);
    std::filesystem::remove_all(spoolg_dir, ec);
    if (!s.ok()) {
      std::fprintf(stderr, "spool_bench: round %d: %s\n", round + 1, s.ToString().c_str());
      return 1;
    }
    Row* phase1[] = {&ser, &comp, &decomp, &parse, &disk1, &spool1, &diskg, &spoolg, &emul,
                     &pipe};
    for (size_t k = 0; k < t1.size(); ++k) phase1[k]->secs.push_back(t1[k]);
    warm.secs.push_back(t2[0]);
    if (o.cold_read) cold.secs.push_back(t2[2]);

    // Ratios of this round (times are for the same bytes, so rate ratios are time ratios).
    const double c = comp.secs.back(), s1 = spool1.secs.back(), sg = spoolg.secs.back();
    const double d1 = disk1.secs.back(), dg = diskg.secs.back();
    r_write1.push_back((1 / s1) / std::min(1 / c, 1 / d1));
    r_writeg.push_back((1 / sg) / std::min(1 / c, 1 / dg));
    r_read.push_back(static_cast<double>(w.events) / warm.secs.back() / o.apply_need_eps);
    r_read_vs_mem.push_back(t2[1] / t2[0]);
    r_vs_emul.push_back(emul.secs.back() / s1);
    r_emul.push_back((1 / emul.secs.back()) / std::min(1 / c, 1 / d1));
    r_pipe_meas.push_back((1 / pipe.secs.back()) / std::min(1 / c, 1 / d1));
    if (o.cold_read) {
      r_read_cold.push_back(static_cast<double>(w.events) / t2[2] / o.apply_need_eps);
    }
    std::fprintf(stderr, "round %d/%d done\n", round + 1, o.rounds);
    rounds_done = round + 1;
  }
  if (rounds_done < o.rounds) {
    std::printf("\nstopped after %d of %d rounds: another would overrun --time_budget_s=%g\n",
                rounds_done, o.rounds, o.time_budget_s);
  }

  // Table.
  std::printf("\n%-5s %-44s %22s %10s %12s\n", "", "measurement (median [min..max])",
              "raw MB/s", "disk MB/s", "events/s");
  std::vector<Row*> rows = {&ser,    &comp,   &decomp, &parse, &disk1, &diskg,
                            &spool1, &spoolg, &emul,   &pipe,  &warm};
  if (o.cold_read) rows.push_back(&cold);
  for (Row* r : rows) {
    const double med = Median(r->secs);
    const auto [lo, hi] = std::minmax_element(r->secs.begin(), r->secs.end());
    char range[64];
    std::snprintf(range, sizeof(range), "%.0f [%.0f..%.0f]", w.raw_bytes / med / 1e6,
                  w.raw_bytes / *hi / 1e6, w.raw_bytes / *lo / 1e6);
    char disk[16] = "-";
    if (r->disk_bytes) std::snprintf(disk, sizeof(disk), "%.0f", r->disk_bytes / med / 1e6);
    std::printf("%-5s %-44s %22s %10s %12.0f\n", r->group.c_str(), r->name.c_str(), range, disk,
                static_cast<double>(w.events) / med);
  }

  auto line = [](const std::string& label, const std::vector<double>& v, const char* unit,
                 double goal) {
    const double med = Median(v);
    char buf[256];
    int n = std::snprintf(buf, sizeof(buf), "  %-58s %6.2f%s [%.2f..%.2f]", label.c_str(), med,
                          unit, *std::min_element(v.begin(), v.end()),
                          *std::max_element(v.begin(), v.end()));
    std::string out(buf, static_cast<size_t>(n));
    if (goal > 0) {
      out.resize(std::max<size_t>(out.size(), 88), ' ');
      if (med >= goal) {
        std::snprintf(buf, sizeof(buf), " goal >= %g%s: MET", goal, unit);
      } else {
        std::snprintf(buf, sizeof(buf), " goal >= %g%s: MISSED by %.0f%%", goal, unit,
                      100.0 * (1 - med / goal));
      }
      out += buf;
    }
    std::printf("%s\n", out.c_str());
  };
  const std::string gs = "@" + std::to_string(o.group);
  std::printf("\nratios (computed per round; median [min..max]):\n");
  line("durable write@1 / min(zstd compress, disk@1)", r_write1, "", 0.8);
  line("durable write" + gs + " / min(zstd compress, disk" + gs + ")", r_writeg, "", 0.8);
  line("emulated 1-thread write@1 / min(zstd compress, disk@1)", r_emul, "", 0.8);
  line("emulated 2-thread write@1 / min(zstd compress, disk@1)", r_pipe_meas, "", 0.8);
  line("durable write@1 / emulated 1-thread write@1", r_vs_emul, "", 0);
  line("read+decode warm / in-memory decompress+parse", r_read_vs_mem, "", 0);
  char need[96];
  std::snprintf(need, sizeof(need), "read+decode warm events/s / apply need (%.0f/s)",
                o.apply_need_eps);
  line(need, r_read, "x", 5);
  if (o.cold_read) {
    std::snprintf(need, sizeof(need), "read+decode cold events/s / apply need (%.0f/s)",
                  o.apply_need_eps);
    line(need, r_read_cold, "x", 5);
  }
  std::printf(
      "emulated: the spool's write path written out without spool code (1 thread: serialize, "
      "compress,\nwrite, fdatasync in turn; 2 threads: write+fdatasync of batch N overlaps "
      "compression of N+1).\nApply need is an assumption (--apply_need_eps, the apply target "
      "rate), not a measurement.\n");
  return 0;
}

std::string BuildOptions(Options* o) {
  if (FLAGS_dir.empty()) return "--dir must not be empty";
  if (!(FLAGS_mb >= 0.1 && FLAGS_mb <= 65536)) return "--mb must be in [0.1, 65536]";
  if (FLAGS_batch_events < 1 || FLAGS_batch_events > 100'000) {
    return "--batch_events must be in [1, 100000]";
  }
  if (FLAGS_rounds < 1 || FLAGS_rounds > 1000) return "--rounds must be in [1, 1000]";
  if (FLAGS_group_batches < 1) return "--group_batches must be >= 1";
  if (FLAGS_chunks < 1 || FLAGS_chunks > 10'000) return "--chunks must be in [1, 10000]";
  if (FLAGS_zstd_level < -7 || FLAGS_zstd_level > 22) return "--zstd_level must be in [-7, 22]";
  if (!(FLAGS_apply_need_eps > 0)) return "--apply_need_eps must be > 0";
  if (!(FLAGS_time_budget_s >= 0)) return "--time_budget_s must be >= 0";
  o->dir = FLAGS_dir;
  o->mb = FLAGS_mb;
  o->batch_events = FLAGS_batch_events;
  o->rounds = FLAGS_rounds;
  o->group = FLAGS_group_batches;
  o->chunks = FLAGS_chunks;
  o->time_budget_s = FLAGS_time_budget_s;
  o->zstd_level = FLAGS_zstd_level;
  o->apply_need_eps = FLAGS_apply_need_eps;
  o->cold_read = FLAGS_cold_read;
  o->synth.seed = FLAGS_seed;
  o->synth.shape = FLAGS_nested ? DocShape::kNested : DocShape::kYcsb;
  return ValidateSynthConfig(o->synth);
}

}  // namespace
}  // namespace docshift::bench

int main(int argc, char** argv) {
  using namespace docshift::bench;
  if (const int rc = ParseFlagsOrExitCode(argc, argv, "spool_bench", kUsage, "spool_bench.cc"); rc >= 0) return rc;
  std::string error;
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  Options opts;
  error = BuildOptions(&opts);
  if (!error.empty()) {
    std::fprintf(stderr, "spool_bench: %s\n", error.c_str());
    return 2;
  }
  return RunBench(opts);
}
