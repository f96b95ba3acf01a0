// What every capture source shares with the one writer loop (capture/writer.h).
//
// A ChangeSource reads one kind of source (change streams, with the Cosmos DB pipeline as
// a mode; the oplog; later DynamoDB Streams) on threads of its own and pushes SourceItems
// into a SourceContext: an event with the source position that covers it, or a position
// alone (an idle stream's advancing token, a filtered entry). The writer pops them, keeps
// or drops each event by the namespace filter (the one place it is applied, for every
// kind), folds each position into the source's combined position (Advance, on the writer
// thread), and makes batches durable with EncodePosition() as their resume token. A
// position pushed must cover exactly the events pushed before it from that stream: never
// part of what one source record expanded into (an oplog applyOps entry carries the index
// inside the entry), so a restart from any durable batch neither loses nor repeats one.
//
// Thread safety: SourceContext is shared by the readers and the writer; ChangeSource's
// methods are called from the writer thread only (its readers are its own business).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "capture/capture.h"
#include "mongo/event_selected.h"
#include "proto/spool.pb.h"
#include "util/status.h"

namespace docshift::status {
class StatusReporter;
}

namespace docshift::capture {

// An event and/or a stream's new position.
struct SourceItem {
  std::string stream_key;  // which of the source's streams ("" for single-stream sources)
  bool has_event = false;
  pb::ChangeEvent event;
  std::string token;  // the stream's position after this item (BSON)
  size_t bytes() const { return event.ByteSizeLong() + token.size() + 64; }
};

// Bounded by bytes: readers block when the writer falls behind (bounded memory).
class ItemQueue {
 public:
  explicit ItemQueue(size_t max_bytes) : max_bytes_(max_bytes) {}
  // False if closed.
  bool Push(SourceItem item);
  // Waits up to timeout for an item.
  bool Pop(SourceItem* out, std::chrono::milliseconds timeout);
  bool Empty();
  void Close();

 private:
  const size_t max_bytes_;
  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::deque<SourceItem> q_;
  size_t bytes_ = 0;
  bool closed_ = false;
};

class CaughtUpFlag;

// What readers share with the writer. Thread-safe.
struct SourceContext {
  const CaptureOptions* opts = nullptr;
  ItemQueue* queue = nullptr;
  std::atomic<bool> stopping{false};
  std::atomic<int> ready{0};  // readers whose stream/cursor is open (logged once for tests/ops)
  status::StatusReporter* reporter = nullptr;
  // Set when a stop left readers blocked in the network (ChangeSource::Stop).
  std::atomic<bool> readers_left_running{false};
  std::mutex mu;
  Status fatal;

  // For the status file's last_error (the log has it too).
  void NoteError(const std::string& message);
  // Stops capture with s (the first failure wins).
  void Fail(const Status& s);
  bool Stopped() const { return stopping || (opts->stop != nullptr && opts->stop->load()); }
  // s (an error reading the spool's resume position) with the spool and the source kind
  // in front: "spool DIR (--source_kind K): ...". Sources add it where they decode.
  Status ResumePositionError(const Status& s) const;
  // Waits up to ms, returning early (true) once capture is stopping.
  bool SleepUnlessStopped(int64_t ms) const;
  // Whether every reader's last read came back empty (the source had nothing newer), and
  // did so within fresh_ms of now_ms (steady clock): a reader stuck in a read that never
  // returns (a stalled connection) stops counting as caught up after fresh_ms, so lag is
  // then computed from the newest event's source time instead of shown as 0.
  bool AllCaughtUp(int64_t now_ms, int64_t fresh_ms);

 private:
  friend class CaughtUpFlag;
  std::mutex flags_mu_;
  std::set<const CaughtUpFlag*> flags_;
};

// Steady-clock milliseconds (for CaughtUpFlag and AllCaughtUp).
int64_t SteadyMs();

// One reader's part in SourceContext::AllCaughtUp: behind until a read comes back empty.
class CaughtUpFlag {
 public:
  explicit CaughtUpFlag(SourceContext* ctx);
  ~CaughtUpFlag();
  CaughtUpFlag(const CaughtUpFlag&) = delete;
  CaughtUpFlag& operator=(const CaughtUpFlag&) = delete;
  // true: a read just came back empty (stamped now); false: behind.
  void Set(bool caught_up) { at_ms_ = caught_up ? SteadyMs() : -1; }
  // The reader ended for good (its stream is over): caught up from now on.
  void SetEnded() { at_ms_ = std::numeric_limits<int64_t>::max(); }
  // When the last empty read ended; -1 while behind.
  int64_t caught_up_at_ms() const { return at_ms_.load(); }

 private:
  SourceContext* ctx_;
  std::atomic<int64_t> at_ms_{-1};
};

// A reader's thread, which a stop need not wait for: a reader can be blocked in a network
// call the driver cannot cancel (a stalled connection: up to socketTimeoutMS; server
// selection: up to serverSelectionTimeoutMS). JoinBy joins it if it finishes by the
// deadline and otherwise detaches it; the caller must then keep everything the reader
// uses alive (capture leaks it: the process is about to exit).
class ReaderThread {
 public:
  ReaderThread() = default;
  ReaderThread(const ReaderThread&) = delete;
  ReaderThread& operator=(const ReaderThread&) = delete;
  ~ReaderThread() {
    if (thread_.joinable()) thread_.join();
  }
  template <typename F>
  void Start(F run) {
    auto done = done_;
    thread_ = std::thread([run = std::move(run), done]() mutable {
      run();
      done->store(true);
    });
  }
  // True when the thread finished (and was joined) by the deadline.
  bool JoinBy(std::chrono::steady_clock::time_point deadline);
  bool finished() const { return done_->load(); }

 private:
  std::shared_ptr<std::atomic<bool>> done_ = std::make_shared<std::atomic<bool>>(false);
  std::thread thread_;
};

class ChangeSource {
 public:
  virtual ~ChangeSource() = default;
  // Starts the readers from the spool's last durable position (resume_token; empty for a
  // new spool). FailedPrecondition when the token belongs to another kind of source.
  virtual Status Start(const std::string& resume_token) = 0;
  // Readers that must report ready (ctx->ready) before capture is ready.
  virtual int ExpectedReady() const = 0;
  // Whether a new spool's starting position must be written before ready (the source
  // queues none of its own).
  virtual bool InitialPositionPending() const = 0;
  // Folds the position of an item popped from the queue into the combined position.
  virtual void Advance(const SourceItem& item) = 0;
  // The combined position covering every item advanced so far (a batch's resume token),
  // and the source cluster time it corresponds to (0 if unknown).
  virtual std::string EncodePosition() const = 0;
  virtual uint64_t PositionClusterTime() const = 0;
  // Periodic work on the writer thread (namespace discovery).
  virtual void Tick() {}
  virtual size_t StreamCount() const = 0;
  // Stops the readers (ctx->stopping is already set and the queue closed), waiting for
  // each until a second or two from now at most (ReaderThread::JoinBy). Returns false if
  // any reader was left running (blocked in the network): the caller must then keep the
  // SourceContext, the queue, the pool and the source alive until the process exits.
  virtual bool Stop() = 0;
};

// FailedPrecondition: the spool is no longer continuous with the source.
Status HistoryLostStatus(const std::string& what, const std::string& detail);

// Sources, one file each.
// The client pool capture starts with; a source whose readers hold clients for their
// life grows it (mongoc_client_pool_max_size).
constexpr uint32_t kInitialPoolSize = 64;
// How long a stop waits for readers blocked in the network before leaving them.
constexpr std::chrono::milliseconds kReaderStopGrace{1500};
std::unique_ptr<ChangeSource> NewChangeStreamSource(SourceContext* ctx, mongoc_client_pool_t* pool);
std::unique_ptr<ChangeSource> NewOplogSource(SourceContext* ctx, mongoc_client_pool_t* pool);

// Whether the namespace filter keeps an event (mongo/event_selected.h).
using mongo::EventSelected;

}  // namespace docshift::capture
