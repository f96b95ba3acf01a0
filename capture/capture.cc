#include "capture/capture.h"

#include <glog/logging.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "capture/convert.h"
#include "mongo/mongo_util.h"
#include "mongo/namespaces.h"
#include "spool/spool.h"
#include "status/reporter.h"
#include "util/duration.h"

namespace docshift::capture {
namespace {

using mongo::BsonPtr;
using Clock = std::chrono::steady_clock;

// What a source reader hands the writer: an event and/or the stream's new position.
struct SourceItem {
  std::string stream_key;
  bool has_event = false;
  pb::ChangeEvent event;
  std::string token;  // stream position after this item (BSON)
  size_t bytes() const { return event.ByteSizeLong() + token.size() + 64; }
};

// Bounded by bytes: readers block when the writer falls behind (bounded memory).
class ItemQueue {
 public:
  explicit ItemQueue(size_t max_bytes) : max_bytes_(max_bytes) {}
  // False if closed.
  bool Push(SourceItem item) {
    const size_t b = item.bytes();
    std::unique_lock<std::mutex> l(mu_);
    space_.wait(l, [&] { return bytes_ + b <= max_bytes_ || bytes_ == 0 || closed_; });
    if (closed_) return false;
    bytes_ += b;
    q_.push_back(std::move(item));
    ready_.notify_one();
    return true;
  }
  // Waits up to timeout for an item.
  bool Pop(SourceItem* out, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> l(mu_);
    if (!ready_.wait_for(l, timeout, [&] { return !q_.empty(); })) return false;
    *out = std::move(q_.front());
    q_.pop_front();
    bytes_ -= out->bytes();
    space_.notify_all();
    return true;
  }
  bool Empty() {
    std::lock_guard<std::mutex> l(mu_);
    return q_.empty();
  }
  void Close() {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    space_.notify_all();
    ready_.notify_all();
  }

 private:
  const size_t max_bytes_;
  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::deque<SourceItem> q_;
  size_t bytes_ = 0;
  bool closed_ = false;
};

struct Shared {
  const CaptureOptions* opts;
  mongoc_client_pool_t* pool;
  ItemQueue* queue;
  std::atomic<bool> stopping{false};
  std::atomic<int> ready{0};  // readers whose stream/cursor is open (logged once for tests/ops)
  // Readers whose last read returned something (or that have not read yet). Capture is
  // caught up (lag 0) when this is 0 and everything read is durable.
  std::atomic<int> readers_behind{0};
  status::StatusReporter* reporter = nullptr;
  std::mutex mu;
  Status fatal;
  // For the status file's last_error (the log has it too).
  void NoteError(const std::string& message) {
    if (reporter != nullptr) reporter->NoteError(message);
  }
  void Fail(const Status& s) {
    std::lock_guard<std::mutex> l(mu);
    if (fatal.ok()) fatal = s;
    stopping = true;
  }
  bool Stopped() const {
    return stopping || (opts->stop != nullptr && opts->stop->load());
  }
};

// One reader's share of Shared::readers_behind: behind until a read comes back empty.
class CaughtUpFlag {
 public:
  explicit CaughtUpFlag(std::atomic<int>* behind) : behind_(behind) { ++*behind_; }
  ~CaughtUpFlag() {
    if (!caught_up_) --*behind_;
  }
  CaughtUpFlag(const CaughtUpFlag&) = delete;
  CaughtUpFlag& operator=(const CaughtUpFlag&) = delete;
  void Set(bool caught_up) {
    if (caught_up == caught_up_) return;
    caught_up_ = caught_up;
    *behind_ += caught_up ? -1 : 1;
  }

 private:
  std::atomic<int>* behind_;
  bool caught_up_ = false;
};

bool NsSelected(const CaptureOptions& o, const std::string& db, const std::string& coll) {
  return o.namespaces.Selected(db, coll);
}

bool HistoryLost(int code) {
  return code == 286 /*ChangeStreamHistoryLost*/ || code == 280 /*ChangeStreamFatalError*/ ||
         code == 136 /*CappedPositionLost*/;
}

Status HistoryLostStatus(const std::string& what, const std::string& detail) {
  return Status::FailedPrecondition(
      what + ": the source no longer holds the position this spool resumes from (" + detail +
      "); the spool is no longer continuous with the source. Take a new snapshot into a new "
      "spool (docshift snapshot); nothing was skipped");
}

// A stream that ended (its collection dropped or renamed) keeps, as its resume position,
// {docshift_ended_at: <cluster time>}: a collection of that name found again later (or
// after a restart) is watched from just after that time, never from before its drop.
std::string EndedToken(uint64_t cluster_time) {
  bson_t b = BSON_INITIALIZER;
  bson_append_timestamp(&b, "docshift_ended_at", -1, static_cast<uint32_t>(cluster_time >> 32),
                        static_cast<uint32_t>(cluster_time & 0xffffffffu));
  std::string out = mongo::Bytes(&b);
  bson_destroy(&b);
  return out;
}

bool ParseEndedToken(const std::string& token, uint64_t* cluster_time) {
  bson_t b;
  bson_iter_t it;
  if (!mongo::ViewBytes(token, &b) || !bson_iter_init_find(&it, &b, "docshift_ended_at") ||
      !BSON_ITER_HOLDS_TIMESTAMP(&it)) {
    return false;
  }
  uint32_t t, i;
  bson_iter_timestamp(&it, &t, &i);
  *cluster_time = (static_cast<uint64_t>(t) << 32) | i;
  return true;
}

// The oplog entry (a copy) that dropped db.coll after cluster time `after`, if the source
// has a readable oplog holding one.
bool FindDropInOplog(mongoc_client_t* client, const std::string& db, const std::string& coll,
                     uint64_t after, std::string* entry, uint64_t* ts) {
  mongo::CollPtr oplog(mongoc_client_get_collection(client, "local", "oplog.rs"));
  bson_t filter = BSON_INITIALIZER, gt;
  BSON_APPEND_UTF8(&filter, "op", "c");
  BSON_APPEND_UTF8(&filter, "ns", (db + ".$cmd").c_str());
  BSON_APPEND_UTF8(&filter, "o.drop", coll.c_str());
  BSON_APPEND_DOCUMENT_BEGIN(&filter, "ts", &gt);
  bson_append_timestamp(&gt, "$gt", 3, static_cast<uint32_t>(after >> 32), static_cast<uint32_t>(after & 0xffffffffu));
  bson_append_document_end(&filter, &gt);
  BsonPtr opts(BCON_NEW("limit", BCON_INT64(1)));
  mongo::CursorPtr cur(mongoc_collection_find_with_opts(oplog.get(), &filter, opts.get(), nullptr));
  bson_destroy(&filter);
  const bson_t* e;
  if (!mongoc_cursor_next(cur.get(), &e)) return false;
  bson_iter_t it;
  if (!bson_iter_init_find(&it, e, "ts") || !BSON_ITER_HOLDS_TIMESTAMP(&it)) return false;
  uint32_t t, i;
  bson_iter_timestamp(&it, &t, &i);
  *ts = (static_cast<uint64_t>(t) << 32) | i;
  *entry = mongo::Bytes(e);
  return true;
}

// The source's oplog entry at cluster_time (a copy), if it has a readable oplog holding one.
BsonPtr OplogEntryAt(mongoc_client_t* client, uint64_t cluster_time) {
  if (cluster_time == 0) return nullptr;
  mongo::CollPtr oplog(mongoc_client_get_collection(client, "local", "oplog.rs"));
  bson_t filter = BSON_INITIALIZER;
  bson_append_timestamp(&filter, "ts", 2, static_cast<uint32_t>(cluster_time >> 32),
                        static_cast<uint32_t>(cluster_time & 0xffffffffu));
  BsonPtr opts(BCON_NEW("limit", BCON_INT64(1)));
  mongo::CursorPtr cur(mongoc_collection_find_with_opts(oplog.get(), &filter, opts.get(), nullptr));
  bson_destroy(&filter);
  const bson_t* e;
  if (!mongoc_cursor_next(cur.get(), &e)) return nullptr;
  return BsonPtr(bson_copy(e));
}

// The collection an oplog entry at cluster_time dropped in db ({op: "c", ns: "<db>.$cmd",
// o: {drop: <coll>}}). Empty when the source has no readable oplog or no such entry.
std::string DroppedCollFromOplog(mongoc_client_t* client, const std::string& db, uint64_t cluster_time) {
  BsonPtr e = OplogEntryAt(client, cluster_time);
  bson_iter_t it, d;
  if (e && bson_iter_init_find(&it, e.get(), "ns") && BSON_ITER_HOLDS_UTF8(&it) &&
      bson_iter_utf8(&it, nullptr) == db + ".$cmd" && bson_iter_init(&it, e.get()) &&
      bson_iter_find_descendant(&it, "o.drop", &d) && BSON_ITER_HOLDS_UTF8(&d)) {
    return bson_iter_utf8(&d, nullptr);
  }
  return "";
}

// One change stream (deployment, database or collection), in its own thread.
class ChangeStreamReader {
 public:
  ChangeStreamReader(Shared* shared, std::string key, std::string db, std::string coll,
                     std::string resume_token, uint64_t start_at)
      : shared_(shared), key_(std::move(key)), db_(std::move(db)), coll_(std::move(coll)),
        token_(std::move(resume_token)), start_at_(start_at),
        caught_up_(&shared->readers_behind) {
    ctx_.stream_db = db_;
    ctx_.stream_coll = coll_;
    ctx_.cosmos_projection = shared_->opts->source_kind == "cosmos";
  }
  ~ChangeStreamReader() { Join(); }
  // The stream ended with its collection's drop or rename, or an invalidate: nothing more
  // can come from it (its position is an EndedToken).
  bool ended() const { return ended_.load(); }
  void Start() { thread_ = std::thread([this] { Run(); }); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  // For the deployment-scope probe: opens the stream and reads once.
  Status Probe() {
    mongo::PooledClient client(shared_->pool);
    mongo::StreamPtr s = Open(client.get());
    const bson_t* doc;
    bson_error_t err;
    const bson_t* reply;
    mongoc_change_stream_next(s.get(), &doc);
    if (mongoc_change_stream_error_document(s.get(), &err, &reply)) {
      return Status::Unavailable(std::string(err.message) + " (code " + std::to_string(err.code) + ")");
    }
    return Status::OK();
  }

 private:
  mongo::StreamPtr Open(mongoc_client_t* client) {
    BsonPtr pipeline(bson_new());
    bson_t stages;
    BSON_APPEND_ARRAY_BEGIN(pipeline.get(), "pipeline", &stages);
    if (shared_->opts->source_kind == "cosmos") {
      // Azure Cosmos DB for MongoDB requires this shape: $match on the operation types it
      // reports (no deletes), a $project, and updateLookup.
      BsonPtr match = mongo::FromJson(
          R"({"$match": {"operationType": {"$in": ["insert", "update", "replace"]}}})");
      BsonPtr project = mongo::FromJson(
          R"({"$project": {"_id": 1, "fullDocument": 1, "ns": 1, "documentKey": 1}})");
      BSON_APPEND_DOCUMENT(&stages, "0", match.get());
      BSON_APPEND_DOCUMENT(&stages, "1", project.get());
    }
    bson_append_array_end(pipeline.get(), &stages);
    BsonPtr opts(bson_new());
    BSON_APPEND_UTF8(opts.get(), "fullDocument", "updateLookup");
    BSON_APPEND_INT32(opts.get(), "batchSize", 1000);
    BSON_APPEND_INT64(opts.get(), "maxAwaitTimeMS", 500);
    if (!token_.empty()) {
      bson_t tok;
      if (mongo::ViewBytes(token_, &tok)) BSON_APPEND_DOCUMENT(opts.get(), "resumeAfter", &tok);
    } else if (start_at_ != 0) {
      bson_append_timestamp(opts.get(), "startAtOperationTime", -1,
                            static_cast<uint32_t>(start_at_ >> 32),
                            static_cast<uint32_t>(start_at_ & 0xffffffffu));
    }
    mongoc_change_stream_t* s;
    if (db_.empty()) {
      s = mongoc_client_watch(client, pipeline.get(), opts.get());
    } else if (coll_.empty()) {
      mongoc_database_t* d = mongoc_client_get_database(client, db_.c_str());
      s = mongoc_database_watch(d, pipeline.get(), opts.get());
      mongoc_database_destroy(d);
    } else {
      mongo::CollPtr c(mongoc_client_get_collection(client, db_.c_str(), coll_.c_str()));
      s = mongoc_collection_watch(c.get(), pipeline.get(), opts.get());
    }
    return mongo::StreamPtr(s);
  }

  void Run() {
    int failures = 0;
    while (!shared_->Stopped()) {
      mongo::PooledClient client(shared_->pool);
      mongo::StreamPtr stream = Open(client.get());
      const bson_t* doc;
      bson_error_t err;
      const bson_t* reply;
      if (!mongoc_change_stream_error_document(stream.get(), &err, &reply) && !counted_ready_) {
        // The stream's starting position, made durable before capture reports ready, so a
        // capture killed before the first event restarts from here, not from "now".
        const bson_t* pbrt = mongoc_change_stream_get_resume_token(stream.get());
        if (pbrt != nullptr && token_.empty()) {
          token_ = mongo::Bytes(pbrt);
          SourceItem item;
          item.stream_key = key_;
          item.token = token_;
          if (!shared_->queue->Push(std::move(item))) return;
        } else if (pbrt == nullptr && token_.empty()) {
          VLOG(1) << "stream " << key_ << ": no resume token before the first event; a "
                  << "restart before one arrives resumes from the spool's start time";
        }
        counted_ready_ = true;
        shared_->ready++;
      }
      while (!shared_->Stopped()) {
        if (mongoc_change_stream_next(stream.get(), &doc)) {
          caught_up_.Set(false);
          SourceItem item;
          item.stream_key = key_;
          Status s = ConvertChangeEvent(doc, &ctx_, &item.event);
          if (!s.ok()) {
            shared_->Fail(s.WithContext("stream " + key_ + ": " + mongo::ToJson(doc)));
            return;
          }
          if (ctx_.rebuilt_document_keys == 1 && !warned_key_) {
            warned_key_ = true;
            LOG(WARNING) << "stream " << key_ << ": the source sent a documentKey without _id "
                         << "(a known mongo-java-server bug); using fullDocument._id instead";
          }
          if ((item.event.op() == pb::OP_UPDATE || item.event.op() == pb::OP_REPLACE ||
               item.event.op() == pb::OP_DELETE) &&
              !HasId(item.event.document_key())) {
            RepairKey(client.get(), &item.event);
          }
          item.token = item.event.resume_token();
          token_ = item.token;
          if (item.event.op() == pb::OP_DROP && ctx_.ns_from_stream && !coll_.empty() &&
              !DropIsThisStreams(client.get(), item.event)) {
            // Another collection's drop: its own stream records it; this one only moves on.
            if (!shared_->queue->Push(std::move(item))) return;
            continue;
          }
          item.has_event = true;
          if (item.event.cluster_time() != 0) last_cluster_time_ = item.event.cluster_time();
          if (EndsStream(item.event)) {
            End(std::move(item), "the collection's drop, rename or an invalidate");
            return;
          }
          if (!shared_->queue->Push(std::move(item))) return;
          if (failures > 0) {
            LOG(INFO) << "stream " << key_ << ": recovered";
            failures = 0;
          }
          continue;
        }
        if (mongoc_change_stream_error_document(stream.get(), &err, &reply)) break;
        caught_up_.Set(true);  // an empty getMore: the source has nothing newer
        // Idle: advance to the post-batch resume token, so an idle stream's position
        // stays fresh (complaint #1: resume points that expire while idle).
        const bson_t* pbrt = mongoc_change_stream_get_resume_token(stream.get());
        if (pbrt != nullptr) {
          std::string t = mongo::Bytes(pbrt);
          if (t != token_) {
            token_ = t;
            SourceItem item;
            item.stream_key = key_;
            item.token = t;
            if (!shared_->queue->Push(std::move(item))) return;
          }
        }
      }
      if (shared_->Stopped()) return;
      if (HistoryLost(static_cast<int>(err.code))) {
        shared_->Fail(HistoryLostStatus("stream " + key_, err.message));
        return;
      }
      if (EndedByDropInOplog(client.get(), err)) return;
      if (!mongo::IsTransient(err) && failures > 20) {
        shared_->Fail(Status::Unavailable("stream " + key_ + ": " + err.message + " (code " +
                                          std::to_string(err.code) + "), after " +
                                          std::to_string(failures) + " attempts"));
        return;
      }
      caught_up_.Set(false);
      shared_->NoteError("stream " + key_ + ": " + err.message + " (code " + std::to_string(err.code) +
                         "); retrying");
      if (failures == 0) {
        LOG(WARNING) << "stream " << key_ << ": " << err.message << " (code " << err.code
                     << "); retrying with backoff from the last position";
      }
      ++failures;
      const int64_t backoff = std::min<int64_t>(5000, 100LL << std::min(failures, 6));
      for (int64_t waited = 0; waited < backoff && !shared_->Stopped(); waited += 50) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }

  // Queues the event that ended this stream with the ended marker as its position.
  void End(SourceItem item, const char* why) {
    const uint64_t ct = item.event.cluster_time();
    item.token = EndedToken(ct);
    token_ = item.token;
    caught_up_.Set(true);
    if (!shared_->queue->Push(std::move(item))) return;
    LOG(INFO) << "stream " << key_ << ": ended by " << why << "; a collection of that name "
              << "created later is picked up by namespace discovery";
    ended_ = true;
  }

  // Workaround, named: once a collection is dropped, mongo-java-server fails the
  // updateLookup of its earlier update events ("Collection [...] not found"), so the
  // stream can never deliver the drop itself (tests/README.md). When this stream's
  // collection is gone and the source's oplog holds its drop, that entry is recorded as
  // the drop; the events skipped before it are superseded by it.
  bool EndedByDropInOplog(mongoc_client_t* client, const bson_error_t& err) {
    if (coll_.empty()) return false;
    mongoc_database_t* d = mongoc_client_get_database(client, db_.c_str());
    bson_error_t e2;
    const bool exists = mongoc_database_has_collection(d, coll_.c_str(), &e2);
    mongoc_database_destroy(d);
    if (exists || e2.code != 0) return false;
    std::string entry;
    uint64_t ts = 0;
    const uint64_t after = last_cluster_time_ != 0 ? last_cluster_time_ : start_at_;
    if (after == 0 || !FindDropInOplog(client, db_, coll_, after, &entry, &ts)) return false;
    LOG(WARNING) << "stream " << key_ << ": " << err.message << " (code " << err.code
                 << "); the collection is gone and the source's oplog holds its drop: recording "
                 << "that drop (a known mongo-java-server bug)";
    SourceItem item;
    item.stream_key = key_;
    item.has_event = true;
    pb::ChangeEvent& ev = item.event;
    ev.set_op(pb::OP_DROP);
    ev.set_db(db_);
    ev.set_coll(coll_);
    ev.set_cluster_time(ts);
    ev.set_capture_wall_ms(NowMs());
    ev.set_ddl(entry);
    bson_t b;
    bson_iter_t it;
    if (mongo::ViewBytes(entry, &b) && bson_iter_init_find(&it, &b, "wall") && BSON_ITER_HOLDS_DATE_TIME(&it)) {
      ev.set_wall_time_ms(bson_iter_date_time(&it));
    }
    ev.set_resume_token(EndedToken(ts));
    End(std::move(item), "its drop, read from the oplog");
    return true;
  }

  // An event with no usable _id (mongo-java-server: a document deleted before the
  // updateLookup) rebuilt from the source's oplog; left as it is (apply dead-letters it,
  // naming it) when that is not possible.
  void RepairKey(mongoc_client_t* client, pb::ChangeEvent* ev) {
    BsonPtr entry = OplogEntryAt(client, ev->cluster_time());
    Status s = entry ? RepairKeyFromOplogEntry(entry.get(), ev)
                     : Status::NotFound("the source has no oplog entry at the event's cluster time");
    if (!s.ok()) {
      LOG(WARNING) << "stream " << key_ << ": an event without a usable _id could not be rebuilt "
                   << "from the source's oplog (" << s.ToString() << "); apply will dead-letter it";
    } else if (!warned_repair_) {
      warned_repair_ = true;
      LOG(WARNING) << "stream " << key_ << ": the source sent an event with no _id in its "
                   << "documentKey or fullDocument (a known mongo-java-server bug); rebuilt it "
                   << "from the source's oplog entry at the same cluster time";
    }
  }

  bool EndsStream(const pb::ChangeEvent& ev) const {
    if (ev.op() == pb::OP_INVALIDATE) return true;
    return !coll_.empty() && (ev.op() == pb::OP_DROP || ev.op() == pb::OP_RENAME) && ev.db() == db_ &&
           ev.coll() == coll_;
  }

  // Workaround, named: mongo-java-server delivers a collection's drop, without "ns", to
  // the stream of every collection of its database (tests/README.md). Whose drop it is
  // comes from the source's oplog entry at the event's cluster time; a source without
  // one answers by whether this stream's collection still exists (on an error the drop is
  // kept: events are never dropped silently).
  bool DropIsThisStreams(mongoc_client_t* client, const pb::ChangeEvent& ev) {
    const std::string dropped = DroppedCollFromOplog(client, db_, ev.cluster_time());
    bool ours;
    if (!dropped.empty()) {
      ours = dropped == coll_;
    } else {
      mongoc_database_t* d = mongoc_client_get_database(client, db_.c_str());
      bson_error_t err;
      ours = !mongoc_database_has_collection(d, coll_.c_str(), &err);
      mongoc_database_destroy(d);
    }
    if (!ours && !warned_foreign_drop_) {
      warned_foreign_drop_ = true;
      LOG(WARNING) << "stream " << key_ << ": the source sent a drop without a namespace that is "
                   << "not this collection's (" << (dropped.empty() ? "it still exists" : db_ + "." + dropped)
                   << "; a known mongo-java-server bug); left to that collection's stream";
    }
    return ours;
  }

  Shared* shared_;
  const std::string key_, db_, coll_;
  std::string token_;
  const uint64_t start_at_;
  std::atomic<bool> ended_{false};
  uint64_t last_cluster_time_ = 0;
  bool warned_foreign_drop_ = false;
  bool warned_repair_ = false;
  ConvertContext ctx_;
  bool warned_key_ = false;
  bool counted_ready_ = false;
  CaughtUpFlag caught_up_;
  std::thread thread_;
};

// Tails local.oplog.rs with a tailable awaitData cursor.
class OplogReader {
 public:
  // poll: read the oplog with repeated plain finds instead of a tailable cursor (FerretDB:
  // see PollOnce).
  // last_ts: 0 = start now; resuming: last_ts is an entry this spool captured (it must
  // still be in the oplog); otherwise a --start_at time the oplog must reach back to.
  OplogReader(Shared* shared, uint64_t last_ts, bool resuming, OplogOptions conv, bool poll)
      : shared_(shared), last_(last_ts), resuming_(resuming), conv_(conv), poll_(poll),
        caught_up_(&shared->readers_behind) {}

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
    anchor_ = oldest;
    return Status::OK();
  }
  ~OplogReader() {
    if (thread_.joinable()) thread_.join();
  }
  void Start() { thread_ = std::thread([this] { Run(); }); }

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
      const int64_t backoff = s.ok() ? 100 : std::min<int64_t>(5000, 100LL << std::min(failures, 6));
      for (int64_t waited = 0; waited < backoff && !shared_->Stopped(); waited += 50) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }

  // Queues the starting position (no event), so it becomes durable before capture
  // reports ready: a capture killed before the first event resumes from here.
  bool PushPosition() {
    bson_t tok = BSON_INITIALIZER;
    bson_append_timestamp(&tok, "ts", 2, static_cast<uint32_t>(last_ >> 32),
                          static_cast<uint32_t>(last_ & 0xffffffffu));
    SourceItem item;
    item.token = mongo::Bytes(&tok);
    bson_destroy(&tok);
    return shared_->queue->Push(std::move(item));
  }

  // Converts one entry and queues its events. *stop set when the queue closed.
  Status HandleEntry(const bson_t* doc, uint64_t ts_now, int* failures, bool* stop) {
    uint32_t t, i;
    events_.clear();
    RETURN_IF_ERROR(ConvertOplogEntry(doc, conv_, &events_, &t, &i));
    bson_t tok = BSON_INITIALIZER;
    bson_append_timestamp(&tok, "ts", 2, t, i);
    const std::string token = mongo::Bytes(&tok);
    bson_destroy(&tok);
    bool any = false;
    for (auto& e : events_) {
      if (!NsSelected(*shared_->opts, e.db(), e.coll())) continue;
      SourceItem item;
      item.has_event = true;
      item.event = std::move(e);
      item.token = token;
      if (!shared_->queue->Push(std::move(item))) {
        *stop = true;
        return Status::OK();
      }
      any = true;
    }
    if (!any) {
      SourceItem item;  // filtered or no-op: still advances the position
      item.token = token;
      if (!shared_->queue->Push(std::move(item))) {
        *stop = true;
        return Status::OK();
      }
    }
    last_ = ts_now;
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

  Status PollOnce(int* failures) {
    mongo::PooledClient client(shared_->pool);
    mongo::CollPtr oplog(mongoc_client_get_collection(client.get(), "local", "oplog.rs"));
    if (last_ == 0) {
      uint64_t latest;
      RETURN_IF_ERROR(LatestTs(oplog.get(), &latest));
      if (latest == 0) return Status::Unavailable("local.oplog.rs is empty; waiting for a first write");
      last_ = latest;
      resuming_ = true;
      if (!PushPosition()) return Status::OK();
    }
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
      // oldest entry CheckCoverage saw (at or before it) is the one that must still be
      // there (a trim removes the oldest first), so the range after it is whole.
      const uint64_t from = resuming_ || anchor_ == 0 ? last_ : anchor_;
      bson_append_timestamp(&ts, "$gte", 4, static_cast<uint32_t>(from >> 32),
                            static_cast<uint32_t>(from & 0xffffffffu));
      bson_append_document_end(filter.get(), &ts);
      BsonPtr opts = mongo::FromJson(R"({"sort": {"ts": 1}, "limit": 100000, "batchSize": 1000})");
      mongo::CursorPtr cur(mongoc_collection_find_with_opts(oplog.get(), filter.get(), opts.get(), nullptr));
      const bson_t* doc;
      int n = 0, fresh = 0;
      bool stop = false;
      const bool must_find_position = resuming_ || anchor_ != 0;
      while (mongoc_cursor_next(cur.get(), &doc)) {
        const uint64_t ts_now = TsOf(doc);
        if (n++ == 0 && must_find_position && ts_now != from) {
          return HistoryLostStatus("oplog", "the entry at the saved timestamp is gone; the oplog was truncated past it");
        }
        if (ts_now <= last_) continue;
        ++fresh;
        RETURN_IF_ERROR(HandleEntry(doc, ts_now, failures, &stop));
        if (stop) return Status::OK();
      }
      if (mongoc_cursor_error(cur.get(), &err)) return mongo::FromBsonError(err, "polling local.oplog.rs");
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
    mongo::PooledClient client(shared_->pool);
    mongo::CollPtr oplog(mongoc_client_get_collection(client.get(), "local", "oplog.rs"));
    if (last_ == 0) {
      // New spool, starting now: from the newest entry (there must be one to tail from).
      uint64_t latest;
      RETURN_IF_ERROR(LatestTs(oplog.get(), &latest));
      if (latest == 0) return Status::Unavailable("local.oplog.rs is empty; waiting for a first write");
      last_ = latest;
      resuming_ = true;  // the entry at last_ exists: tail from it
      if (!PushPosition()) return Status::OK();
    }
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
      if (HistoryLost(static_cast<int>(err.code))) return HistoryLostStatus("oplog", err.message);
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
        if (ts_now <= last_) continue;  // the entry at last_, or a FerretDB redelivery
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
        if (HistoryLost(static_cast<int>(err.code))) return HistoryLostStatus("oplog", err.message);
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

  Shared* shared_;
  uint64_t last_;
  bool resuming_;
  bool coverage_checked_ = false;
  uint64_t anchor_ = 0;  // PollOnce: the oldest entry CheckCoverage saw, until resuming_
  bool counted_ready_ = false;
  OplogOptions conv_;
  const bool poll_;
  std::vector<pb::ChangeEvent> events_;
  CaughtUpFlag caught_up_;
  std::thread thread_;
};

// ---- resume token encoding ----

std::string EncodeStreamsToken(const std::map<std::string, std::string>& tokens, uint64_t start) {
  bson_t b = BSON_INITIALIZER, arr;
  BSON_APPEND_INT32(&b, "v", 1);
  BSON_APPEND_UTF8(&b, "kind", "streams");
  // Where capture of this spool began: a stream that has no token of its own yet resumes
  // from here (startAtOperationTime), so nothing between the start and its first event
  // is lost if capture dies in between (sources without post-batch resume tokens).
  if (start != 0) {
    bson_append_timestamp(&b, "start", 5, static_cast<uint32_t>(start >> 32),
                          static_cast<uint32_t>(start & 0xffffffffu));
  }
  BSON_APPEND_ARRAY_BEGIN(&b, "streams", &arr);
  int n = 0;
  for (const auto& [k, t] : tokens) {
    bson_t entry, tok;
    const std::string idx = std::to_string(n++);
    BSON_APPEND_DOCUMENT_BEGIN(&arr, idx.c_str(), &entry);
    BSON_APPEND_UTF8(&entry, "k", k.c_str());
    if (mongo::ViewBytes(t, &tok)) BSON_APPEND_DOCUMENT(&entry, "t", &tok);
    bson_append_document_end(&arr, &entry);
  }
  bson_append_array_end(&b, &arr);
  std::string out = mongo::Bytes(&b);
  bson_destroy(&b);
  return out;
}

std::string EncodeOplogToken(uint64_t ts) {
  bson_t b = BSON_INITIALIZER;
  BSON_APPEND_INT32(&b, "v", 1);
  BSON_APPEND_UTF8(&b, "kind", "oplog");
  bson_append_timestamp(&b, "ts", 2, static_cast<uint32_t>(ts >> 32), static_cast<uint32_t>(ts & 0xffffffffu));
  std::string out = mongo::Bytes(&b);
  bson_destroy(&b);
  return out;
}

Status DecodeToken(const std::string& bytes, std::string* kind, std::map<std::string, std::string>* streams,
                   uint64_t* oplog_ts, uint64_t* streams_start) {
  bson_t b;
  if (!mongo::ViewBytes(bytes, &b)) return Status::Corruption("spool resume token is not BSON");
  bson_iter_t it;
  if (!bson_iter_init_find(&it, &b, "kind") || !BSON_ITER_HOLDS_UTF8(&it)) {
    return Status::Corruption("spool resume token has no kind: " + mongo::ToJson(&b));
  }
  *kind = bson_iter_utf8(&it, nullptr);
  if (*kind == "oplog") {
    uint32_t t = 0, i = 0;
    if (bson_iter_init_find(&it, &b, "ts") && BSON_ITER_HOLDS_TIMESTAMP(&it)) bson_iter_timestamp(&it, &t, &i);
    *oplog_ts = (static_cast<uint64_t>(t) << 32) | i;
    return Status::OK();
  }
  if (bson_iter_init_find(&it, &b, "start") && BSON_ITER_HOLDS_TIMESTAMP(&it)) {
    uint32_t t = 0, i = 0;
    bson_iter_timestamp(&it, &t, &i);
    *streams_start = (static_cast<uint64_t>(t) << 32) | i;
  }
  if (bson_iter_init_find(&it, &b, "streams") && BSON_ITER_HOLDS_ARRAY(&it)) {
    bson_iter_t arr;
    bson_iter_recurse(&it, &arr);
    while (bson_iter_next(&arr)) {
      bson_iter_t e;
      std::string k, t;
      if (!bson_iter_recurse(&arr, &e)) continue;
      while (bson_iter_next(&e)) {
        if (std::string(bson_iter_key(&e)) == "k" && BSON_ITER_HOLDS_UTF8(&e)) k = bson_iter_utf8(&e, nullptr);
        if (std::string(bson_iter_key(&e)) == "t") t = mongo::SubdocBytes(&e);
      }
      (*streams)[k] = t;
    }
  }
  return Status::OK();
}


}  // namespace

Status RunCapture(const CaptureOptions& opts) {
  if (opts.source_uri.empty()) return Status::InvalidArgument("--source is required: the source's connection string");
  if (opts.spool_dir.empty()) return Status::InvalidArgument("--spool is required: the spool directory");
  const std::string& kind = opts.source_kind;
  if (kind != "mongo" && kind != "cosmos" && kind != "oplog") {
    return Status::InvalidArgument("--source_kind '" + kind + "' is not one of mongo, cosmos, oplog");
  }
  if (opts.scope != "deployment" && opts.scope != "database" && opts.scope != "collection") {
    return Status::InvalidArgument("--scope '" + opts.scope + "' is not one of deployment, database, collection");
  }
  ASSIGN_OR_RETURN(auto uri, mongo::ParseUri(opts.source_uri, "--source"));
  const std::string source_id = mongo::EndpointIdentity(uri.get(), kind);
  const std::string redacted = mongo::RedactUri(opts.source_uri);

  ASSIGN_OR_RETURN(auto pool, mongo::NewPool(uri.get(), 64));
  {
    mongo::PooledClient c(pool.get());
    RETURN_IF_ERROR(mongo::Ping(c.get(), "source " + redacted));
  }
  spool::SpoolWriterOptions so;
  so.dir = opts.spool_dir;
  so.source_id = source_id;
  so.source_kind = kind;
  so.segment_max_bytes = opts.segment_max_bytes;
  so.segment_max_age_ms = opts.segment_max_age_ms;
  so.zstd_level = opts.zstd_level;
  spool::RecoveryReport report;
  ASSIGN_OR_RETURN(auto writer, spool::SpoolWriter::Open(so, &report));
  LOG(INFO) << "capture: spool " << opts.spool_dir << " opened (" << report.ToString()
            << "), next sequence " << writer->next_seq();

  if (kind == "cosmos") {
    LOG(WARNING) << "capture: Azure Cosmos DB for MongoDB change streams report no deletes; "
                 << "deleted documents stay on the target until a reconciliation pass";
  }

  // Where to resume.
  std::string token_kind;
  std::map<std::string, std::string> stream_tokens;
  uint64_t oplog_ts = 0;
  uint64_t streams_start = 0;
  const bool resuming = !writer->resume_state().resume_token.empty();
  if (resuming) {
    RETURN_IF_ERROR(DecodeToken(writer->resume_state().resume_token, &token_kind, &stream_tokens, &oplog_ts,
                                &streams_start));
    if ((kind == "oplog") != (token_kind == "oplog")) {
      return Status::FailedPrecondition("spool " + opts.spool_dir + " was captured with a " + token_kind +
                                        " position; --source_kind " + kind + " cannot resume it");
    }
    LOG(INFO) << "capture: resuming from the spool's last durable position";
  } else if (opts.start_at != 0) {
    LOG(INFO) << "capture: new spool, starting at cluster time " << (opts.start_at >> 32) << "."
              << (opts.start_at & 0xffffffffu);
  } else {
    LOG(INFO) << "capture: new spool, starting from now";
  }

  if (kind != "oplog" && streams_start == 0) {
    // New spool (or one written before "start" existed): begin at --start_at, else a
    // couple of seconds before now (replaying a few events twice is harmless; apply is
    // idempotent). Cosmos gets no implicit start: its API may not take one.
    streams_start = opts.start_at != 0 ? opts.start_at
                    : kind == "mongo" ? (static_cast<uint64_t>(NowMs() / 1000 - 2) << 32)
                                      : 0;
  }
  uint64_t discovery_floor = streams_start;
  int64_t prev_discovery_s = NowMs() / 1000;
  ItemQueue queue(64u << 20);
  Shared shared;
  shared.opts = &opts;
  shared.pool = pool.get();
  shared.queue = &queue;

  // What the status file and the metrics report: written by this thread, read by the
  // reporter's thread about once a second.
  struct {
    std::atomic<uint64_t> events_total{0}, durable_seq{0}, cluster_time{0}, segments{0}, spool_bytes{0};
    std::atomic<int64_t> source_ms{0}, capture_ms{0};
    std::atomic<bool> ready{false};          // every reader's starting position is durable
    std::atomic<bool> batch_pending{false};  // events read but not yet durable
    std::atomic<int> caught_up_at_exit{-1};  // frozen before the readers stop
  } progress;
  progress.durable_seq = writer->resume_state().next_seq - 1;
  auto caught_up_now = [&] {
    return progress.ready && shared.readers_behind.load() == 0 && queue.Empty() && !progress.batch_pending;
  };
  status::ReporterOptions ro;
  ro.spool_dir = opts.spool_dir;
  ro.process = "capture";
  ro.metrics_port = opts.metrics_port;
  ro.interval_ms = opts.status_interval_ms;
  status::StatusReporter reporter(ro, [&](int64_t now, pb::ProcessStatus* st) {
    st->set_events_total(progress.events_total);
    st->set_seq(progress.durable_seq);
    st->set_last_cluster_time(progress.cluster_time);
    st->set_last_source_wall_ms(progress.source_ms);
    st->set_last_capture_wall_ms(progress.capture_ms);
    st->set_segments(progress.segments);
    st->set_spool_bytes(progress.spool_bytes);
    const int frozen = progress.caught_up_at_exit;
    const bool caught_up = frozen >= 0 ? frozen == 1 : caught_up_now();
    const int64_t source_ms = progress.source_ms;
    st->set_caught_up(caught_up);
    st->set_lag_seconds(caught_up || source_ms == 0 ? 0.0 : std::max<int64_t>(0, now - source_ms) / 1000.0);
  });
  auto publish_spool_figures = [&] {
    uint64_t bytes = writer->open_segment_bytes();
    for (const auto& m : writer->manifest().segments) bytes += m.file_bytes();
    progress.segments = writer->manifest().segments.size() + (writer->open_segment_bytes() > 0 ? 1 : 0);
    progress.spool_bytes = bytes;
  };
  publish_spool_figures();
  RETURN_IF_ERROR(reporter.Start());
  shared.reporter = &reporter;

  std::map<std::string, std::unique_ptr<ChangeStreamReader>> streams;
  std::unique_ptr<OplogReader> oplog_reader;
  bool per_collection = false;
  auto add_stream = [&](const std::string& key, const std::string& db, const std::string& coll,
                        bool existed_at_start) {
    if (streams.count(key)) return;
    std::string tok;
    if (auto it = stream_tokens.find(key); it != stream_tokens.end()) tok = it->second;
    // No token of its own: a stream that existed when this spool's capture began starts
    // there; one discovered later starts at the previous discovery (minus a margin).
    // On the first run of a new spool, streams simply start now (or at --start_at).
    uint64_t start = 0;
    if (tok.empty()) {
      if (!resuming) {
        start = existed_at_start ? opts.start_at : discovery_floor;
      } else {
        start = existed_at_start ? streams_start : discovery_floor;
      }
    }
    if (uint64_t ended_at = 0; ParseEndedToken(tok, &ended_at)) {
      tok.clear();
      start = ended_at + 1;
      LOG(INFO) << "capture: " << key << " exists again after its stream ended; the new stream "
                << "starts just after that";
    } else if (tok.empty() && !existed_at_start) {
      LOG(INFO) << "capture: new namespace " << key << " discovered; its stream starts at the "
                << "previous discovery";
    }
    auto r = std::make_unique<ChangeStreamReader>(&shared, key, db, coll, tok, start);
    r->Start();
    streams[key] = std::move(r);
    LOG(INFO) << "capture: watching " << (key.empty() ? "the whole deployment" : key);
  };
  auto discover = [&](bool at_start) -> Status {
    mongo::PooledClient c(pool.get());
    bson_error_t err;
    char** dbs = mongoc_client_get_database_names_with_opts(c.get(), nullptr, &err);
    if (!dbs) return mongo::FromBsonError(err, "listing databases on the source");
    for (char** d = dbs; *d; ++d) {
      const std::string db = *d;
      if (!NsSelected(opts, db, "")) continue;
      if (opts.scope == "database") {
        add_stream(db, db, "", at_start);
        continue;
      }
      mongoc_database_t* dbh = mongoc_client_get_database(c.get(), db.c_str());
      char** colls = mongoc_database_get_collection_names_with_opts(dbh, nullptr, &err);
      mongoc_database_destroy(dbh);
      if (!colls) continue;
      for (char** cl = colls; *cl; ++cl) {
        const std::string coll = *cl;
        if (!NsSelected(opts, db, coll)) continue;
        add_stream(db + "." + coll, db, coll, at_start);
      }
      bson_strfreev(colls);
    }
    bson_strfreev(dbs);
    return Status::OK();
  };

  if (kind == "oplog") {
    OplogOptions conv;
    {
      mongo::PooledClient c(pool.get());
      if (mongo::IsFerretDB(c.get())) {
        conv.updates_are_post_images = true;
        LOG(WARNING) << "capture: the source is FerretDB, whose oplog logs every update as its "
                     << "whole post-image under $set; treating update entries as replacements, "
                     << "and polling the oplog instead of tailing it (its tailable cursors "
                     << "skip and repeat entries)";
      }
    }
    uint64_t start = resuming ? oplog_ts : opts.start_at;
    oplog_reader = std::make_unique<OplogReader>(&shared, start, resuming, conv,
                                                 /*poll=*/conv.updates_are_post_images);
    oplog_reader->Start();
  } else if (opts.scope == "deployment" && (stream_tokens.empty() || stream_tokens.count(""))) {
    auto saved = stream_tokens.find("");
    ChangeStreamReader probe(&shared, "", "", "",
                             saved == stream_tokens.end() ? std::string() : saved->second, opts.start_at);
    Status p = probe.Probe();
    if (p.ok()) {
      add_stream("", "", "", true);
    } else {
      LOG(WARNING) << "capture: the source refused a deployment-wide change stream (" << p.message()
                   << "); falling back to one stream per collection";
      per_collection = true;
      if (resuming && stream_tokens.count("")) {
        return Status::FailedPrecondition("spool was captured with a deployment-wide stream the source now refuses");
      }
    }
  } else {
    per_collection = true;
  }
  if (per_collection) {
    for (const auto& [k, t] : stream_tokens) {
      auto dot = k.find('.');
      if (opts.scope == "database" || dot == std::string::npos) {
        add_stream(k, k, "", true);
      } else {
        add_stream(k, k.substr(0, dot), k.substr(dot + 1), true);
      }
    }
    RETURN_IF_ERROR(discover(true));
  }

  // Writer loop.
  uint64_t last_oplog_ts = oplog_ts;
  pb::ChangeBatch batch;
  uint64_t batch_bytes = 0;
  auto batch_started = Clock::now();
  // A new spool writes its starting position at once (before "ready").
  bool token_dirty = !resuming && kind != "oplog";  // the oplog reader queues its own
  auto last_token_write = Clock::now();
  auto last_discovery = Clock::now();
  auto last_progress = Clock::now();
  auto last_prune = Clock::now();
  auto last_spool_figures = Clock::now();
  uint64_t events_total = 0, events_at_progress = 0;
  uint64_t last_cluster_time = 0;
  int64_t last_event_capture_ms = 0;
  int64_t last_event_source_ms = 0;
  Status status;
  const int expected_ready = kind == "oplog" ? 1 : static_cast<int>(streams.size());
  bool logged_ready = false;

  auto flush = [&](bool token_only_ok) -> Status {
    if (batch.events_size() == 0 && !(token_only_ok && token_dirty)) return Status::OK();
    batch.set_resume_token(kind == "oplog" ? EncodeOplogToken(last_oplog_ts) : EncodeStreamsToken(stream_tokens, streams_start));
    batch.set_resume_cluster_time(kind == "oplog" ? last_oplog_ts : last_cluster_time);
    batch.set_written_wall_ms(NowMs());
    // A full disk stops writing until space returns; the writer has cut any partial record.
    for (int attempt = 0;; ++attempt) {
      Status s = writer->Append(&batch);
      if (s.ok()) break;
      if (!s.IsIOError() || s.message().find("No space left") == std::string::npos) return s;
      if (attempt == 0) LOG(ERROR) << "capture: spool disk is full (" << s.message() << "); waiting for space";
      reporter.NoteError("spool disk is full (" + s.message() + "); waiting for space");
      if (shared.Stopped()) return s;
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    RETURN_IF_ERROR(writer->Sync());  // group commit: the batch and its token are now durable
    events_total += static_cast<uint64_t>(batch.events_size());
    progress.events_total = events_total;
    progress.durable_seq = writer->resume_state().next_seq - 1;
    progress.cluster_time = last_cluster_time;
    progress.source_ms = last_event_source_ms;
    progress.capture_ms = last_event_capture_ms;
    progress.batch_pending = false;
    batch.Clear();
    batch_bytes = 0;
    token_dirty = false;
    last_token_write = Clock::now();
    return writer->MaybeRoll(NowMs());
  };

  while (true) {
    if (opts.stop && opts.stop->load()) break;
    if (shared.stopping) break;
    SourceItem item;
    const bool got = queue.Pop(&item, std::chrono::milliseconds(20));
    if (got) {
      if (kind == "oplog") {
        bson_t tok;
        bson_iter_t it;
        if (mongo::ViewBytes(item.token, &tok) && bson_iter_init_find(&it, &tok, "ts")) {
          uint32_t t, i;
          bson_iter_timestamp(&it, &t, &i);
          last_oplog_ts = (static_cast<uint64_t>(t) << 32) | i;
        }
      } else {
        stream_tokens[item.stream_key] = item.token;
      }
      token_dirty = true;
      if (item.has_event) {
        if (batch.events_size() == 0) batch_started = Clock::now();
        if (item.event.cluster_time() != 0) last_cluster_time = item.event.cluster_time();
        last_event_capture_ms = item.event.capture_wall_ms();
        last_event_source_ms = item.event.wall_time_ms() != 0
                                   ? item.event.wall_time_ms()
                                   : static_cast<int64_t>(item.event.cluster_time() >> 32) * 1000;
        progress.batch_pending = true;
        batch_bytes += item.event.ByteSizeLong();
        *batch.add_events() = std::move(item.event);
      }
    }
    // Readers queue their starting position before counting themselves ready, so once
    // all are counted and the queue is drained, every starting position is in hand.
    if (!logged_ready && shared.ready.load() >= expected_ready && queue.Empty()) {
      // The starting positions the readers queued must be durable first.
      if (token_dirty && batch.events_size() == 0) {
        status = flush(true);
        if (!status.ok()) break;
      }
      if (!token_dirty) {
        logged_ready = true;
        progress.ready = true;
        LOG(INFO) << "capture: ready: " << expected_ready << " source stream(s) open, capturing";
      }
    }
    const auto now = Clock::now();
    const bool full = batch.events_size() >= opts.batch_max_events || batch_bytes >= opts.batch_max_bytes;
    // Or sooner, when the readers have gone quiet (nothing queued for the 20 ms Pop
    // waited): under load the queue stays busy and batches fill up to the window; at low
    // rates an event need not wait out the window (issue #6: end-to-end lag).
    const bool old = batch.events_size() > 0 &&
                     (!got || now - batch_started >= std::chrono::milliseconds(opts.batch_max_ms));
    // An idle stream's advancing position is written at most every few seconds.
    const bool token_due = token_dirty && now - last_token_write >= std::chrono::seconds(5);
    if (full || old || token_due) {
      status = flush(true);
      if (!status.ok()) break;
    } else if (!got) {
      status = writer->MaybeRoll(NowMs());
      if (!status.ok()) break;
    }
    if (per_collection && now - last_discovery >= std::chrono::milliseconds(opts.discovery_interval_ms)) {
      // Collections found now were created after the previous discovery.
      discovery_floor = static_cast<uint64_t>(prev_discovery_s - 2) << 32;
      prev_discovery_s = NowMs() / 1000;
      // An ended stream goes once its end marker has come through the queue, so that a
      // collection of that name found again is watched from after the end.
      for (auto it = streams.begin(); it != streams.end();) {
        uint64_t unused;
        const auto tok = stream_tokens.find(it->first);
        if (it->second->ended() && tok != stream_tokens.end() && ParseEndedToken(tok->second, &unused)) {
          it = streams.erase(it);  // joins the finished thread
        } else {
          ++it;
        }
      }
      Status d = discover(false);
      if (!d.ok()) {
        LOG(WARNING) << "capture: namespace discovery failed: " << d.ToString();
        reporter.NoteError("namespace discovery failed: " + d.ToString());
      }
      last_discovery = now;
    }
    if (opts.retention_ms >= 0 && now - last_prune >= std::chrono::seconds(60)) {
      auto r = writer->Prune(opts.retention_ms, NowMs());
      if (!r.ok()) {
        LOG(WARNING) << "capture: retention: " << r.status().ToString();
        reporter.NoteError("retention: " + r.status().ToString());
      } else if (r->segments_deleted > 0) {
        LOG(INFO) << "capture: retention deleted " << r->segments_deleted << " applied segments";
      }
      last_prune = now;
    }
    if (now - last_spool_figures >= std::chrono::seconds(1)) {
      publish_spool_figures();
      last_spool_figures = now;
    }
    if (now - last_progress >= std::chrono::milliseconds(opts.progress_interval_ms)) {
      const double secs = std::chrono::duration<double>(now - last_progress).count();
      const bool idle = batch.events_size() == 0 && !got;
      const double lag = idle || last_event_capture_ms == 0 || last_cluster_time == 0
                             ? 0.0
                             : std::max<double>(0, NowMs() / 1000.0 - static_cast<double>(last_cluster_time >> 32));
      LOG(INFO) << "capture: " << static_cast<uint64_t>((events_total - events_at_progress) / secs)
                << " events/s, " << events_total << " events this run, next seq " << writer->next_seq()
                << ", source time " << (last_cluster_time >> 32) << ", lag " << lag << " s, "
                << streams.size() + (oplog_reader ? 1 : 0) << " stream(s)";
      events_at_progress = events_total;
      last_progress = now;
    }
  }
  // Stop the readers, write what was read, seal.
  progress.caught_up_at_exit = caught_up_now() ? 1 : 0;
  shared.stopping = true;
  queue.Close();
  streams.clear();
  oplog_reader.reset();
  if (status.ok() || !status.IsIOError()) {
    Status fs = flush(true);
    if (status.ok()) status = fs;
    Status cs = writer->Close(NowMs());
    if (status.ok()) status = cs;
  }
  {
    std::lock_guard<std::mutex> l(shared.mu);
    if (status.ok()) status = shared.fatal;
  }
  progress.durable_seq = writer->resume_state().next_seq - 1;
  publish_spool_figures();
  if (!status.ok()) reporter.NoteError(status.ToString());
  shared.reporter = nullptr;
  reporter.Stop();
  LOG(INFO) << "capture: stopped; " << events_total << " events this run, next seq " << writer->next_seq();
  return status;
}

}  // namespace docshift::capture
