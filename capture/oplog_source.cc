// The oplog (local.oplog.rs) of a MongoDB replica set or of FerretDB: one reader that
// tails it with a tailable awaitData cursor, or (FerretDB) polls it with fresh finds.
// Entries become events through ConvertOplogEntry; positions are capture/oplog_position.h.
#include <glog/logging.h>

#include <memory>
#include <string_view>
#include <thread>

#include "capture/convert.h"
#include "capture/oplog_position.h"
#include "capture/source.h"
#include "mongo/mongo_util.h"
#include "util/backoff.h"

namespace docshift::capture {

using mongo::BsonPtr;

std::string EncodeOplogPosition(const OplogPosition& p) {
  bson_t b = BSON_INITIALIZER;
  bson_append_timestamp(&b, "ts", 2, static_cast<uint32_t>(p.ts >> 32), static_cast<uint32_t>(p.ts & 0xffffffffu));
  if (p.covered != 0) BSON_APPEND_INT64(&b, "i", p.covered);
  std::string out = mongo::Bytes(&b);
  bson_destroy(&b);
  return out;
}

std::string EncodeOplogToken(const OplogPosition& p) {
  bson_t b = BSON_INITIALIZER;
  BSON_APPEND_INT32(&b, "v", 1);
  BSON_APPEND_UTF8(&b, "kind", "oplog");
  bson_append_timestamp(&b, "ts", 2, static_cast<uint32_t>(p.ts >> 32), static_cast<uint32_t>(p.ts & 0xffffffffu));
  if (p.covered != 0) BSON_APPEND_INT64(&b, "i", p.covered);
  std::string out = mongo::Bytes(&b);
  bson_destroy(&b);
  return out;
}

Status DecodeOplogPosition(const std::string& bytes, OplogPosition* p) {
  bson_t b;
  if (!mongo::ViewBytes(bytes, &b)) return Status::Corruption("oplog position is not BSON");
  bson_iter_t it;
  if (bson_iter_init_find(&it, &b, "kind")) {
    const std::string kind = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, nullptr) : "?";
    if (kind != "oplog") {
      return Status::FailedPrecondition("the spool was captured with a " + kind +
                                        " position; an oplog source cannot resume it");
    }
  }
  if (!bson_iter_init_find(&it, &b, "ts") || !BSON_ITER_HOLDS_TIMESTAMP(&it)) {
    return Status::Corruption("oplog position has no ts: " + mongo::ToJson(&b));
  }
  uint32_t t = 0, i = 0;
  bson_iter_timestamp(&it, &t, &i);
  p->ts = (static_cast<uint64_t>(t) << 32) | i;
  p->covered = 0;
  if (bson_iter_init_find(&it, &b, "i")) {
    const int64_t n = bson_iter_as_int64(&it);
    if (n < 0 || n > UINT32_MAX) return Status::Corruption("oplog position has a bad index: " + mongo::ToJson(&b));
    p->covered = static_cast<uint32_t>(n);
  }
  return Status::OK();
}

Status OplogEntryItems(const bson_t* entry, const OplogOptions& opts, uint32_t skip,
                       std::vector<SourceItem>* out) {
  std::vector<pb::ChangeEvent> events;
  uint32_t t, i;
  RETURN_IF_ERROR(ConvertOplogEntry(entry, opts, &events, &t, &i));
  const uint64_t ts = (static_cast<uint64_t>(t) << 32) | i;
  if (skip > events.size()) {
    return Status::FailedPrecondition(
        "the oplog entry at " + std::to_string(t) + "." + std::to_string(i) + " expands into " +
        std::to_string(events.size()) + " events, but the spool's position says " + std::to_string(skip) +
        " of them were captured; the entry is not the one this spool captured");
  }
  for (size_t k = skip; k < events.size(); ++k) {
    SourceItem item;
    item.has_event = true;
    item.event = std::move(events[k]);
    const bool last = k + 1 == events.size();
    item.token = EncodeOplogPosition(OplogPosition{ts, last ? 0u : static_cast<uint32_t>(k + 1)});
    item.event.set_resume_token(item.token);
    out->push_back(std::move(item));
  }
  if (skip == events.size()) {  // nothing left (a no-op entry): the position still advances
    SourceItem item;
    item.token = EncodeOplogPosition(OplogPosition{ts, 0});
    out->push_back(std::move(item));
  }
  return Status::OK();
}

namespace {

// Tails local.oplog.rs with a tailable awaitData cursor.
class OplogReader {
 public:
  // poll: read the oplog with repeated plain finds instead of a tailable cursor (FerretDB:
  // see PollOnce).
  // last_ts: 0 = start now; resuming: last_ts is an entry this spool captured (it must
  // still be in the oplog); otherwise a --start_at time the oplog must reach back to.
  OplogReader(SourceContext* shared, mongoc_client_pool_t* pool, OplogPosition from, bool resuming,
              OplogOptions conv, bool poll)
      : shared_(shared), pool_(pool), last_(from.ts), skip_(from.covered), resuming_(resuming), conv_(conv),
        poll_(poll),
        caught_up_(shared) {}

  // For --start_at: the oldest entry must be at or before it, or history is missing.
  // The oldest entry is the first in natural (insertion) order, which is ts order in an
  // oplog; asked without a sort, FerretDB reads one row instead of sorting the whole oplog
  // in memory (seconds for a full one: issue #6).
  Status CheckCoverage(mongoc_collection_t* oplog) {
    BsonPtr filter(bson_new());
    BsonPtr opts = mongo::FromJson(R"({"limit": 1})");
    mongo::CursorPtr cur(mongoc_collection_find_with_opts(oplog, filter.get(), opts.get(), nullptr));
    const bson_t* d;
    bson_error_t err;
    uint64_t oldest = 0;
    if (mongoc_cursor_next(cur.get(), &d)) oldest = TsOf(d);
    if (mongoc_cursor_error(cur.get(), &err)) return mongo::FromBsonError(err, "reading local.oplog.rs");
    if (oldest == 0 || oldest > last_) {
      return HistoryLostStatus("oplog", "--start_at " + std::to_string(last_ >> 32) + "." +
                                            std::to_string(last_ & 0xffffffffu) +
                                            " is older than the oldest oplog entry (" +
                                            std::to_string(oldest >> 32) + "." +
                                            std::to_string(oldest & 0xffffffffu) + ")");
    }
    coverage_checked_ = true;
    return Status::OK();
  }
  void Start() { thread_.Start([this] { Run(); }); }
  bool JoinBy(std::chrono::steady_clock::time_point deadline) { return thread_.JoinBy(deadline); }

 private:
  static uint64_t TsOf(const bson_t* d) {
    bson_iter_t it;
    uint32_t t = 0, i = 0;
    if (bson_iter_init_find(&it, d, "ts") && BSON_ITER_HOLDS_TIMESTAMP(&it)) bson_iter_timestamp(&it, &t, &i);
    return (static_cast<uint64_t>(t) << 32) | i;
  }

  // Newest entry's ts, or 0 if the oplog is empty.
  Status LatestTs(mongoc_collection_t* oplog, uint64_t* ts) {
    BsonPtr filter(bson_new());
    BsonPtr opts = mongo::FromJson(R"({"sort": {"$natural": -1}, "limit": 1})");
    mongo::CursorPtr cur(mongoc_collection_find_with_opts(oplog, filter.get(), opts.get(), nullptr));
    const bson_t* d;
    *ts = 0;
    if (mongoc_cursor_next(cur.get(), &d)) *ts = TsOf(d);
    bson_error_t err;
    if (mongoc_cursor_error(cur.get(), &err)) return mongo::FromBsonError(err, "reading local.oplog.rs");
    return Status::OK();
  }

  void Run() {
    int failures = 0;
    while (!shared_->Stopped()) {
      Status s = poll_ ? PollOnce(&failures) : TailOnce(&failures);
      if (shared_->Stopped()) return;
      if (s.IsFailedPrecondition() || s.IsInvalidArgument()) {
        shared_->Fail(s);
        return;
      }
      if (!s.ok()) {
        caught_up_.Set(false);
        shared_->NoteError("oplog: " + s.ToString() + "; retrying");
        if (failures == 0) LOG(WARNING) << "oplog: " << s.ToString() << "; retrying with backoff";
        ++failures;
      }
      shared_->SleepUnlessStopped(s.ok() ? 100 : BackoffDelayMs(failures));
    }
  }

  // Queues the starting position (no event), so it becomes durable before capture
  // reports ready: a capture killed before the first event resumes from here.
  bool PushPosition() {
    SourceItem item;
    item.token = EncodeOplogPosition(OplogPosition{last_, 0});
    return shared_->queue->Push(std::move(item));
  }

  // Whether the entry at ts still has events to queue: one after our position, or the
  // entry at our position when a restart left it partly captured.
  bool Fresh(uint64_t ts) const { return ts > last_ || (ts == last_ && skip_ > 0); }

  // Converts one entry and queues its events (those past skip_, the part of the entry at
  // our position already captured). *stop set when the queue closed.
  Status HandleEntry(const bson_t* doc, uint64_t ts_now, int* failures, bool* stop) {
    items_.clear();
    RETURN_IF_ERROR(OplogEntryItems(doc, conv_, ts_now == last_ ? skip_ : 0, &items_));
    for (auto& item : items_) {
      if (!shared_->queue->Push(std::move(item))) {
        *stop = true;
        return Status::OK();
      }
    }
    last_ = ts_now;
    skip_ = 0;
    resuming_ = true;
    if (*failures > 0) {
      LOG(INFO) << "oplog: recovered";
      *failures = 0;
    }
    return Status::OK();
  }

  // Workaround, named: FerretDB's tailable oplog cursors rescan the oplog on every getMore,
  // rewind, redeliver, and were seen to skip entries while the oplog was being trimmed
  // (tests/README.md). A fresh query per poll cannot skip: find {ts: {$gte: last}} sorted
  // by ts, up to kPollMax entries read through the cursor in batches of 1000, again at
  // once if it was full, else after 100 ms. Used only when the source identifies as
  // FerretDB. Every such query costs the server a scan of the whole oplog (FerretDB pushes
  // neither the filter nor the sort down: ~0.3 ms per entry here), whatever it returns, so
  // one poll takes everything new: a poll of 1000 entries drained a 5,000-entry backlog
  // with five scans (issue #6). The server keeps the sorted result for the getMores.
  static constexpr int kPollMax = 100'000;  // entries per poll (the "limit" above)

  // A new spool starting now starts at the newest entry (there must be one to read
  // from), queued as its starting position. *stop: the queue closed.
  Status StartAtNewest(mongoc_collection_t* oplog, bool* stop) {
    *stop = false;
    if (last_ != 0) return Status::OK();
    uint64_t latest;
    RETURN_IF_ERROR(LatestTs(oplog, &latest));
    if (latest == 0) return Status::Unavailable("local.oplog.rs is empty; waiting for a first write");
    last_ = latest;
    resuming_ = true;  // the entry at last_ exists: read from it
    *stop = !PushPosition();
    return Status::OK();
  }

  Status PollOnce(int* failures) {
    mongo::PooledClient client(pool_);
    mongo::CollPtr oplog(mongoc_client_get_collection(client.get(), "local", "oplog.rs"));
    bool closed = false;
    RETURN_IF_ERROR(StartAtNewest(oplog.get(), &closed));
    if (closed) return Status::OK();
    bson_error_t err;
    if (!resuming_ && !coverage_checked_) RETURN_IF_ERROR(CheckCoverage(oplog.get()));
    if (resuming_) {
      // The entry at our position must still be there, or the oplog moved past us.
      BsonPtr filter(bson_new());
      bson_append_timestamp(filter.get(), "ts", 2, static_cast<uint32_t>(last_ >> 32),
                            static_cast<uint32_t>(last_ & 0xffffffffu));
      BsonPtr one = mongo::FromJson(R"({"limit": 1})");
      mongo::CursorPtr cur(mongoc_collection_find_with_opts(oplog.get(), filter.get(), one.get(), nullptr));
      const bson_t* d;
      const bool found = mongoc_cursor_next(cur.get(), &d);
      if (mongoc_cursor_error(cur.get(), &err)) return mongo::FromBsonError(err, "reading local.oplog.rs");
      if (!found) {
        return HistoryLostStatus("oplog", "the entry at the saved timestamp is gone; the oplog was truncated past it");
      }
    }
    if (!counted_ready_) {
      counted_ready_ = true;
      shared_->ready++;
    }
    while (!shared_->Stopped()) {
      BsonPtr filter(bson_new());
      bson_t ts;
      BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "ts", &ts);
      // $gte: the entry at our position comes first, which proves in the same scan that
      // the oplog was not trimmed past it since the last poll (a poll that merely found
      // the next entries would skip the trimmed ones silently: seen with a 5,000-entry
      // backlog, issue #6).
      // Before the first entry of a --start_at spool, our position is not an entry: the
      // read starts at it all the same, and CheckCoverage once the first entry has
      // arrived, before any is handled, proves the range whole: the oldest entry is still
      // at or before the position, and a trim removes the oldest first, so nothing after
      // the position was gone when the server read (FerretDB sorts the whole result
      // before it returns the first entry). (Reading from that oldest entry instead, as
      // before, read the whole oplog on every poll until the first new entry: 5,700
      // entries for 3,000 in bench/db/lag.sh.)
      const uint64_t from = last_;
      bson_append_timestamp(&ts, "$gte", 4, static_cast<uint32_t>(from >> 32),
                            static_cast<uint32_t>(from & 0xffffffffu));
      bson_append_document_end(filter.get(), &ts);
      BsonPtr opts = mongo::FromJson(R"({"sort": {"ts": 1}, "limit": 100000, "batchSize": 1000})");
      const auto poll_start = std::chrono::steady_clock::now();
      mongo::CursorPtr cur(mongoc_collection_find_with_opts(oplog.get(), filter.get(), opts.get(), nullptr));
      const bson_t* doc;
      int n = 0, fresh = 0;
      bool stop = false;
      const bool must_find_position = resuming_;
      while (mongoc_cursor_next(cur.get(), &doc)) {
        const uint64_t ts_now = TsOf(doc);
        if (n++ == 0) {
          if (must_find_position && ts_now != from) {
            return HistoryLostStatus("oplog", "the entry at the saved timestamp is gone; the oplog was truncated past it");
          }
          if (!must_find_position) RETURN_IF_ERROR(CheckCoverage(oplog.get()));
        }
        if (!Fresh(ts_now)) continue;
        ++fresh;
        RETURN_IF_ERROR(HandleEntry(doc, ts_now, failures, &stop));
        if (stop) return Status::OK();
      }
      if (mongoc_cursor_error(cur.get(), &err)) return mongo::FromBsonError(err, "polling local.oplog.rs");
      VLOG(1) << "oplog poll: " << n << " entries (" << fresh << " new) in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - poll_start).count()
              << " ms";
      if (n == 0 && !must_find_position) RETURN_IF_ERROR(CheckCoverage(oplog.get()));
      if (n == 0 && must_find_position) {
        return HistoryLostStatus("oplog", "no entry at or after the saved timestamp");
      }
      caught_up_.Set(fresh == 0);  // a poll that found no new entry: nothing newer on the source
      if (n < kPollMax) {
        for (int waited = 0; waited < 100 && !shared_->Stopped(); waited += 20) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
    }
    return Status::OK();
  }

  Status TailOnce(int* failures) {
    mongo::PooledClient client(pool_);
    mongo::CollPtr oplog(mongoc_client_get_collection(client.get(), "local", "oplog.rs"));
    bool closed = false;
    RETURN_IF_ERROR(StartAtNewest(oplog.get(), &closed));
    if (closed) return Status::OK();
    if (!resuming_ && !coverage_checked_) RETURN_IF_ERROR(CheckCoverage(oplog.get()));
    // {ts: {$gte: last}}: the first batch holds the entry at last_ (FerretDB closes a
    // tailable cursor whose first batch is short, so it must not be empty; and the entry
    // being there proves the oplog still covers our position). batchSize 1 for the
    // first batch, 1000 for each getMore (QuirkTailableCursorNeedsFullFirstBatch). Raw
    // find/getMore commands, because libmongoc 1.23 keeps the first batch size for the
    // getMores of a tailable cursor (one entry per round trip).
    BsonPtr find(bson_new());
    BSON_APPEND_UTF8(find.get(), "find", "oplog.rs");
    bson_t filter, ts;
    BSON_APPEND_DOCUMENT_BEGIN(find.get(), "filter", &filter);
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "ts", &ts);
    bson_append_timestamp(&ts, "$gte", 4, static_cast<uint32_t>(last_ >> 32),
                          static_cast<uint32_t>(last_ & 0xffffffffu));
    bson_append_document_end(&filter, &ts);
    bson_append_document_end(find.get(), &filter);
    BSON_APPEND_BOOL(find.get(), "tailable", true);
    BSON_APPEND_BOOL(find.get(), "awaitData", true);
    BSON_APPEND_INT32(find.get(), "batchSize", 1);
    bson_error_t err;
    bson_t reply;
    if (!mongoc_client_command_simple(client.get(), "local", find.get(), nullptr, &reply, &err)) {
      bson_destroy(&reply);
      if (mongo::IsHistoryLostCode(static_cast<int>(err.code))) return HistoryLostStatus("oplog", err.message);
      return mongo::FromBsonError(err, "tailing local.oplog.rs");
    }
    BsonPtr owned(bson_copy(&reply));
    bson_destroy(&reply);
    if (!counted_ready_) {
      counted_ready_ = true;
      shared_->ready++;
    }
    bool first = true;
    int64_t cursor_id = 0;
    const char* batch_field = "cursor.firstBatch";
    struct Killer {
      mongoc_client_t* c;
      int64_t* id;
      ~Killer() {
        if (*id == 0) return;
        bson_t k = BSON_INITIALIZER, ids;
        BSON_APPEND_UTF8(&k, "killCursors", "oplog.rs");
        BSON_APPEND_ARRAY_BEGIN(&k, "cursors", &ids);
        BSON_APPEND_INT64(&ids, "0", *id);
        bson_append_array_end(&k, &ids);
        mongoc_client_command_simple(c, "local", &k, nullptr, nullptr, nullptr);
        bson_destroy(&k);
      }
    } killer{client.get(), &cursor_id};
    while (!shared_->Stopped()) {
      bson_iter_t it, batch;
      cursor_id = 0;
      if (bson_iter_init(&it, owned.get()) && bson_iter_find_descendant(&it, "cursor.id", &it)) {
        cursor_id = bson_iter_as_int64(&it);
      }
      if (!bson_iter_init(&it, owned.get()) || !bson_iter_find_descendant(&it, batch_field, &it) ||
          !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &batch)) {
        return Status::Internal("unexpected reply tailing the oplog: " + mongo::ToJson(owned.get()));
      }
      bool any_new = false;
      while (bson_iter_next(&batch)) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&batch)) continue;
        uint32_t len;
        const uint8_t* data;
        bson_iter_document(&batch, &len, &data);
        bson_t doc;
        bson_init_static(&doc, data, len);
        const uint64_t ts_now = TsOf(&doc);
        if (first) {
          first = false;
          if (resuming_ && ts_now != last_) {
            return HistoryLostStatus("oplog", "the entry at the saved timestamp is gone; the oplog was truncated past it");
          }
        }
        if (!Fresh(ts_now)) continue;  // the entry at last_, or a FerretDB redelivery
        any_new = true;
        caught_up_.Set(false);
        bool stop = false;
        RETURN_IF_ERROR(HandleEntry(&doc, ts_now, failures, &stop));
        if (stop) return Status::OK();
      }
      if (first) {
        // Nothing at or after our position: the oplog no longer holds it.
        return HistoryLostStatus("oplog", "no entry at or after the saved timestamp");
      }
      // A getMore that brought no new entry: nothing newer on the source.
      if (!any_new && std::string_view(batch_field) == "cursor.nextBatch") caught_up_.Set(true);
      if (cursor_id == 0) return Status::OK();  // closed by the server: reopen
      BsonPtr more(bson_new());
      BSON_APPEND_INT64(more.get(), "getMore", cursor_id);
      BSON_APPEND_UTF8(more.get(), "collection", "oplog.rs");
      BSON_APPEND_INT32(more.get(), "batchSize", 1000);
      // How long a getMore may wait for new entries. MongoDB answers as soon as one
      // arrives; FerretDB re-runs its oplog query on every getMore (1.4 s over a full
      // 8 MB oplog here, more under load), and a getMore whose maxTimeMS ends first
      // returns nothing, for ever: so this must exceed the server's scan time
      // (tests/README.md). It also bounds how long a stop request waits.
      BSON_APPEND_INT32(more.get(), "maxTimeMS", static_cast<int32_t>(shared_->opts->oplog_max_await_ms));
      if (!mongoc_client_command_simple(client.get(), "local", more.get(), nullptr, &reply, &err)) {
        bson_destroy(&reply);
        if (mongo::IsHistoryLostCode(static_cast<int>(err.code))) return HistoryLostStatus("oplog", err.message);
        // FerretDB fails a getMore that finds nothing new in some cases
        // (QuirkTailableBatchSizeZero); reopening from last_ is always correct.
        cursor_id = 0;
        return mongo::FromBsonError(err, "tailing local.oplog.rs (getMore)");
      }
      owned.reset(bson_copy(&reply));
      bson_destroy(&reply);
      batch_field = "cursor.nextBatch";
    }
    return Status::OK();
  }

  SourceContext* shared_;
  mongoc_client_pool_t* pool_;
  uint64_t last_;
  uint32_t skip_;  // events of the entry at last_ already captured (0: all of them)
  bool resuming_;
  bool coverage_checked_ = false;
  bool counted_ready_ = false;
  OplogOptions conv_;
  const bool poll_;
  std::vector<SourceItem> items_;
  CaughtUpFlag caught_up_;
  ReaderThread thread_;  // last: destroyed (joined) first
};

class OplogSource final : public ChangeSource {
 public:
  OplogSource(SourceContext* ctx, mongoc_client_pool_t* pool) : ctx_(ctx), pool_(pool) {}
  ~OplogSource() override { Stop(); }

  Status Start(const std::string& resume_token) override {
    const bool resuming = !resume_token.empty();
    if (resuming) {
      Status d = DecodeOplogPosition(resume_token, &pos_);
      if (!d.ok()) return ctx_->ResumePositionError(d);
    } else {
      pos_.ts = ctx_->opts->start_at;
    }
    OplogOptions conv;
    {
      mongo::PooledClient c(pool_);
      if (mongo::IsFerretDB(c.get())) {
        conv.updates_are_post_images = true;
        LOG(WARNING) << "capture: the source is FerretDB, whose oplog logs every update as its "
                     << "whole post-image under $set; treating update entries as replacements, "
                     << "and polling the oplog instead of tailing it (its tailable cursors "
                     << "skip and repeat entries)";
      }
    }
    if (pos_.covered != 0) {
      LOG(INFO) << "capture: resuming inside the oplog entry at " << (pos_.ts >> 32) << "."
                << (pos_.ts & 0xffffffffu) << ", after its first " << pos_.covered << " events";
    }
    reader_ = std::make_unique<OplogReader>(ctx_, pool_, pos_, resuming, conv,
                                            /*poll=*/conv.updates_are_post_images);
    reader_->Start();
    return Status::OK();
  }
  int ExpectedReady() const override { return 1; }
  bool InitialPositionPending() const override { return false; }  // the reader queues its own
  void Advance(const SourceItem& item) override {
    OplogPosition p;
    if (DecodeOplogPosition(item.token, &p).ok()) pos_ = p;
  }
  std::string EncodePosition() const override { return EncodeOplogToken(pos_); }
  uint64_t PositionClusterTime() const override { return pos_.ts; }
  size_t StreamCount() const override { return reader_ ? 1 : 0; }
  bool Stop() override {
    if (reader_ && !reader_->JoinBy(std::chrono::steady_clock::now() + kReaderStopGrace)) {
      LOG(WARNING) << "capture: the oplog reader is blocked in a read from the source; not waiting for it";
      reader_.release();  // still running: it must outlive this source (the process exits)
      return false;
    }
    reader_.reset();
    return true;
  }

 private:
  SourceContext* ctx_;
  mongoc_client_pool_t* pool_;
  OplogPosition pos_;  // writer thread: everything advanced so far
  std::unique_ptr<OplogReader> reader_;
};

}  // namespace

std::unique_ptr<ChangeSource> NewOplogSource(SourceContext* ctx, mongoc_client_pool_t* pool) {
  return std::make_unique<OplogSource>(ctx, pool);
}

}  // namespace docshift::capture
