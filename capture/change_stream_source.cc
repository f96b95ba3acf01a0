// Change streams (deployment, database or collection scope), with the pipeline Azure
// Cosmos DB for MongoDB requires as a mode (--source_kind cosmos). One reader thread per
// stream; where the server refuses a deployment-wide stream, one stream per collection,
// discovered at start and every --discovery_interval. Each stream reads through a
// ChangeStreamCursor (capture/change_stream_cursor.h): docshift's own, with
// showExpandedEvents, on MongoDB 6.0+ (ChooseCursor, once at start), libmongoc's watch
// elsewhere.
//
// Position (the spool's resume token, BSON):
//   {v: 1, kind: "streams", start: Timestamp, streams: [{k: "<db>[.<coll>]", t: <token>}, ...]}
// A stream's token is the server's resume token, or {docshift_ended_at: Timestamp} once
// its collection was dropped or renamed; "start" is where capture of the spool began, for
// streams that have no token of their own yet.
#include <glog/logging.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "capture/change_stream_cursor.h"
#include "capture/convert.h"
#include "capture/raw_change_stream.h"
#include "capture/source.h"
#include "capture/split_event.h"
#include "mongo/mongo_util.h"
#include "mongo/namespaces.h"
#include "util/backoff.h"
#include "util/duration.h"

namespace docshift::capture {
namespace {

using mongo::BsonPtr;


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

BsonPtr NsMatchStage(const mongo::NamespaceFilter& filter);

// How long the server may hold an empty getMore (maxAwaitTimeMS), and the least time
// between two polls of an idle stream. MongoDB holds an empty getMore for this long, so
// there the pace costs nothing; a server that answers at once (Azure Cosmos DB for
// MongoDB, where every getMore costs request units; mongo-java-server, which holds one for
// 100 ms on one of its few worker threads) would otherwise be polled in a tight loop by
// every idle stream: with hundreds of per-collection streams that starves the server
// of the threads its other clients need.
constexpr int64_t kIdlePollMs = 500;
// A read that took this long was not a server's await: the connection stalled.
constexpr int64_t kStalledReadMs = 10'000;

int64_t MsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t)
      .count();
}

// How the source's streams open, shared by its readers: chosen once at start
// (ChooseCursor), narrowed when the server refuses an option.
struct StreamMode {
  // docshift's own cursor (capture/raw_change_stream.h), else libmongoc's watch.
  std::atomic<bool> raw{false};
  // showExpandedEvents in the $changeStream stage (raw cursor only).
  std::atomic<bool> expanded{false};
  // --show_expanded_events=on: a server that refuses the option stops capture.
  bool expanded_required = false;
  // --change_stream_cursor=raw: the raw cursor stays when the option is dropped.
  bool raw_forced = false;
  // Set once the server refuses $changeStreamSplitLargeEvent: every stream opens
  // without it from then on.
  std::atomic<bool> split_refused{false};
};

// The cursor the streams open (capture/change_stream_cursor.h ChooseCursor), said once.
void SetUpStreamMode(const CaptureOptions& opts, int max_wire_version, StreamMode* mode) {
  const CursorChoice c =
      ChooseCursor(opts.source_kind, opts.show_expanded_events, opts.change_stream_cursor, max_wire_version);
  mode->raw = c.raw;
  mode->expanded = c.expanded;
  mode->expanded_required = opts.show_expanded_events == "on";
  mode->raw_forced = opts.change_stream_cursor == "raw";
  LOG(INFO) << "capture: change streams open with "
            << (c.raw ? "docshift's own cursor" : "libmongoc's cursor")
            << (c.expanded ? ", showExpandedEvents (expanded DDL events)" : ", no expanded DDL events")
            << " (the server's maxWireVersion is " << max_wire_version << "; MongoDB 6.0+ is 17 or more)";
}

// One change stream (deployment, database or collection), in its own thread.
class ChangeStreamReader {
 public:
  // mode: shared by the source's readers (StreamMode).
  ChangeStreamReader(SourceContext* shared, mongoc_client_pool_t* pool, StreamMode* mode,
                     std::string key, std::string db, std::string coll, std::string resume_token,
                     uint64_t start_at)
      : shared_(shared), pool_(pool), mode_(mode), key_(std::move(key)), db_(std::move(db)),
        coll_(std::move(coll)), token_(std::move(resume_token)), start_at_(start_at), caught_up_(shared) {
    ctx_.stream_db = db_;
    ctx_.stream_coll = coll_;
    ctx_.cosmos_projection = shared_->opts->source_kind == "cosmos";
  }
  ~ChangeStreamReader() = default;
  // The stream ended with its collection's drop or rename, or an invalidate: nothing more
  // can come from it (its position is an EndedToken).
  bool ended() const { return ended_.load(); }
  void Start() { thread_.Start([this] { Run(); }); }
  bool JoinBy(std::chrono::steady_clock::time_point deadline) { return thread_.JoinBy(deadline); }
  // For the deployment-scope probe: opens the stream and reads once.
  Status Probe() {
    mongo::PooledClient client(pool_);
    std::unique_ptr<ChangeStreamCursor> s = Open(client.get());
    const bson_t* doc;
    bson_error_t err;
    const bson_t* reply;
    s->Next(&doc);
    if (s->Error(&err, &reply)) {
      if (NoteSplitStageRefused(err)) return Probe();
      Status stop;
      if (NoteExpandedRefused(err, &stop)) return Probe();
      if (!stop.ok()) return stop;
      return Status::Unavailable(std::string(err.message) + " (code " + std::to_string(err.code) + ")");
    }
    return Status::OK();
  }

 private:
  std::unique_ptr<ChangeStreamCursor> Open(mongoc_client_t* client) {
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
    int n = 0;
    if (shared_->opts->source_kind != "cosmos" && coll_.empty()) {
      if (BsonPtr m = NsMatchStage(shared_->opts->namespaces)) {
        const std::string k = std::to_string(n++);
        BSON_APPEND_DOCUMENT(&stages, k.c_str(), m.get());
      }
    }
    if (shared_->opts->source_kind == "mongo" && !mode_->split_refused.load()) {
      // Events over 16 MB come as fragments instead of stopping the stream (MongoDB 7.0,
      // 6.0.9+); must be the last stage. A server without it refuses the stage (40324)
      // and every stream opens without it from then on (NoteSplitStageRefused).
      BsonPtr split = mongo::FromJson(R"({"$changeStreamSplitLargeEvent": {}})");
      const std::string k = std::to_string(n++);
      BSON_APPEND_DOCUMENT(&stages, k.c_str(), split.get());
    }
    bson_append_array_end(pipeline.get(), &stages);
    ChangeStreamSpec spec;
    spec.db = db_;
    spec.coll = coll_;
    spec.pipeline = pipeline.get();
    spec.full_document = "updateLookup";
    spec.batch_size = 1000;
    spec.max_await_ms = kIdlePollMs;
    spec.resume_after = token_;
    if (token_.empty()) spec.start_at = start_at_;
    spec.show_expanded_events = opened_expanded_ = mode_->expanded.load();
    return mode_->raw.load() ? OpenRawChangeStream(client, spec) : OpenDriverChangeStream(client, spec);
  }

  // The server refused $changeStreamSplitLargeEvent: reopen without it (true).
  bool NoteSplitStageRefused(const bson_error_t& err) {
    if (mode_->split_refused.load() || mongo::Classify(err) != mongo::ErrorClass::kUnsupported ||
        std::strstr(err.message, "changeStreamSplitLargeEvent") == nullptr) {
      return false;
    }
    if (!mode_->split_refused.exchange(true)) {
      LOG(WARNING) << "capture: the source does not support $changeStreamSplitLargeEvent ("
                   << err.message << "); an event over 16 MB will stop capture with an error "
                   << "naming it (MongoDB 7.0 and 6.0.9+ split such events)";
    }
    return true;
  }

  static bool mentions(const bson_error_t& err, const char* what) {
    return std::strstr(err.message, what) != nullptr;
  }

  // The server refused showExpandedEvents, which this stream was opened with: every
  // stream opens without it from then on (and with libmongoc's cursor unless the raw one
  // is forced), said once: reopen (true). With --show_expanded_events=on capture stops
  // instead (*stop).
  bool NoteExpandedRefused(const bson_error_t& err, Status* stop) {
    if (!opened_expanded_ || !mentions(err, "showExpandedEvents")) return false;
    const std::string what = std::string(err.message) + " (code " + std::to_string(err.code) + ")";
    if (mode_->expanded_required) {
      *stop = Status::FailedPrecondition("stream " + key_ + ": the source refuses showExpandedEvents (" + what +
                                        "); it needs MongoDB 6.0 or later. Run capture with "
                                        "--show_expanded_events=auto or off");
      return false;
    }
    if (mode_->expanded.exchange(false)) {
      if (!mode_->raw_forced) mode_->raw = false;
      LOG(WARNING) << "capture: the source refuses showExpandedEvents (" << what << "); change streams "
                   << "open without it: index builds and drops, collection options and modify "
                   << "events will reach apply without definitions and be dead-lettered";
    }
    return true;
  }

  // An event the server cannot send (over 16 MB, no $changeStreamSplitLargeEvent):
  // retrying cannot pass it.
  Status TooLargeStatus(const bson_error_t& err) const {
    return Status::FailedPrecondition(
        "stream " + key_ + ": the source cannot send the next change event: it is over the 16 MB "
        "BSON limit (" + std::string(err.message) + ", code " + std::to_string(err.code) +
        "). On MongoDB 7.0 or 6.0.9+ docshift splits such events with "
        "$changeStreamSplitLargeEvent; this source does not support it. Exclude the collection "
        "(--exclude) and copy it with docshift snapshot, or shrink the document at the source");
  }

  void Run() {
    int failures = 0;
    while (!shared_->Stopped()) {
      mongo::PooledClient client(pool_);
      std::unique_ptr<ChangeStreamCursor> stream = Open(client.get());
      const bson_t* doc;
      bson_error_t err;
      const bson_t* reply;
      if (!stream->Error(&err, &reply) && !counted_ready_) {
        // The stream's starting position, made durable before capture reports ready, so a
        // capture killed before the first event restarts from here, not from "now".
        const bson_t* pbrt = stream->ResumeToken();
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
        const auto poll_start = std::chrono::steady_clock::now();
        const bool got = stream->Next(&doc);
        if (const int64_t took = MsSince(poll_start); took >= kStalledReadMs) {
          // libmongoc resumes a change stream once by itself after a network error, so a
          // stalled connection shows only as a read that took socketTimeoutMS.
          LOG(WARNING) << "stream " << key_ << ": a read from the source took " << took / 1000
                       << " s: the source did not answer within socketTimeoutMS (default 60 s) "
                       << "or the connection broke; the driver dropped the connection and the "
                       << "stream resumed from its last position";
          shared_->NoteError("stream " + key_ + ": connection stalled for " +
                             std::to_string(took / 1000) + " s; resumed");
        }
        if (got) {
          caught_up_.Set(false);
          mongo::BsonPtr whole;
          if (SplitEventAssembler::IsFragment(doc)) {
            Status a = assembler_.Add(doc, &whole);
            if (!a.ok()) {
              shared_->Fail(a.WithContext("stream " + key_));
              return;
            }
            if (!whole) continue;  // more fragments to come
            doc = whole.get();
          }
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
        if (stream->Error(&err, &reply)) break;
        caught_up_.Set(true);  // an empty getMore: the source has nothing newer
        // Idle: advance to the post-batch resume token, so an idle stream's position
        // stays fresh (complaint #1: resume points that expire while idle).
        const bson_t* pbrt = stream->ResumeToken();
        if (pbrt != nullptr && !assembler_.pending()) {  // never a position inside a split event
          std::string t = mongo::Bytes(pbrt);
          if (t != token_) {
            token_ = t;
            SourceItem item;
            item.stream_key = key_;
            item.token = t;
            if (!shared_->queue->Push(std::move(item))) return;
          }
        }
        const int64_t waited = MsSince(poll_start);
        if (waited < kIdlePollMs) shared_->SleepUnlessStopped(kIdlePollMs - waited);
      }
      if (shared_->Stopped()) return;
      assembler_ = SplitEventAssembler();  // the fragments come again from the last position
      if (NoteSplitStageRefused(err)) continue;
      if (Status stop; NoteExpandedRefused(err, &stop)) {
        continue;
      } else if (!stop.ok()) {
        shared_->Fail(stop);
        return;
      }
      if (mongo::Classify(err) == mongo::ErrorClass::kTooLarge) {
        shared_->Fail(TooLargeStatus(err));
        return;
      }
      if (mongo::IsHistoryLostCode(static_cast<int>(err.code))) {
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
      if (failures == 0 && mongo::IsStallTimeout(err)) {
        LOG(WARNING) << "stream " << key_ << ": " << err.message << ": the source did not answer "
                     << "within socketTimeoutMS (default 60 s) or the connection broke; dropped it, "
                     << "reconnecting and resuming from the last position";
      } else if (failures == 0) {
        LOG(WARNING) << "stream " << key_ << ": " << err.message << " (code " << err.code
                     << "); retrying with backoff from the last position";
      }
      ++failures;
      shared_->SleepUnlessStopped(BackoffDelayMs(failures));
    }
  }

  // Queues the event that ended this stream with the ended marker as its position.
  void End(SourceItem item, const char* why) {
    const uint64_t ct = item.event.cluster_time();
    item.token = EndedToken(ct);
    token_ = item.token;
    caught_up_.SetEnded();
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

  SourceContext* shared_;
  mongoc_client_pool_t* pool_;
  StreamMode* mode_;
  bool opened_expanded_ = false;  // the last Open asked for showExpandedEvents
  SplitEventAssembler assembler_;
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
  ReaderThread thread_;  // last: destroyed (joined) first
};


// The part of the namespace filter a deployment or database stream's server can apply:
// {$match: {$or: [{ns: {$exists: false}}, {"ns.db": {$in: DBS}}, {"to.db": {$in: DBS}}]}}
// when every include glob names its database literally; none otherwise. A superset of
// what the writer keeps (it applies the whole filter again), so pushing it down only
// saves the server's and the network's work.
BsonPtr NsMatchStage(const mongo::NamespaceFilter& filter) {
  if (filter.include.empty()) return nullptr;
  std::vector<std::string> dbs;
  for (const auto& g : filter.include) {
    const auto dot = g.find('.');
    if (dot == std::string::npos || dot == 0) return nullptr;
    const std::string db = g.substr(0, dot);
    if (db.find_first_of("*?[\\") != std::string::npos) return nullptr;
    if (std::find(dbs.begin(), dbs.end(), db) == dbs.end()) dbs.push_back(db);
  }
  BsonPtr stage(bson_new());
  bson_t match, ors, o, f, in, arr;
  BSON_APPEND_DOCUMENT_BEGIN(stage.get(), "$match", &match);
  BSON_APPEND_ARRAY_BEGIN(&match, "$or", &ors);
  BSON_APPEND_DOCUMENT_BEGIN(&ors, "0", &o);
  BSON_APPEND_DOCUMENT_BEGIN(&o, "ns", &f);
  BSON_APPEND_BOOL(&f, "$exists", false);
  bson_append_document_end(&o, &f);
  bson_append_document_end(&ors, &o);
  const char* fields[] = {"ns.db", "to.db"};
  for (int k = 0; k < 2; ++k) {
    const std::string idx = std::to_string(k + 1);
    BSON_APPEND_DOCUMENT_BEGIN(&ors, idx.c_str(), &o);
    BSON_APPEND_DOCUMENT_BEGIN(&o, fields[k], &in);
    BSON_APPEND_ARRAY_BEGIN(&in, "$in", &arr);
    for (size_t i = 0; i < dbs.size(); ++i) BSON_APPEND_UTF8(&arr, std::to_string(i).c_str(), dbs[i].c_str());
    bson_append_array_end(&in, &arr);
    bson_append_document_end(&o, &in);
    bson_append_document_end(&ors, &o);
  }
  bson_append_array_end(&match, &ors);
  bson_append_document_end(stage.get(), &match);
  return stage;
}

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

Status DecodeStreamsToken(const std::string& bytes, std::map<std::string, std::string>* streams,
                          uint64_t* start) {
  bson_t b;
  if (!mongo::ViewBytes(bytes, &b)) return Status::Corruption("spool resume token is not BSON");
  bson_iter_t it;
  if (!bson_iter_init_find(&it, &b, "kind") || !BSON_ITER_HOLDS_UTF8(&it)) {
    return Status::Corruption("spool resume token has no kind: " + mongo::ToJson(&b));
  }
  const std::string kind = bson_iter_utf8(&it, nullptr);
  if (kind != "streams") {
    return Status::FailedPrecondition("the spool was captured with a " + kind +
                                      " position; a change-stream source cannot resume it");
  }
  if (bson_iter_init_find(&it, &b, "start") && BSON_ITER_HOLDS_TIMESTAMP(&it)) {
    uint32_t t = 0, i = 0;
    bson_iter_timestamp(&it, &t, &i);
    *start = (static_cast<uint64_t>(t) << 32) | i;
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

class ChangeStreamSource final : public ChangeSource {
 public:
  ChangeStreamSource(SourceContext* ctx, mongoc_client_pool_t* pool) : ctx_(ctx), pool_(pool) {}
  ~ChangeStreamSource() override { Stop(); }

  Status Start(const std::string& resume_token) override {
    const CaptureOptions& opts = *ctx_->opts;
    resuming_ = !resume_token.empty();
    if (resuming_) {
      Status d = DecodeStreamsToken(resume_token, &tokens_, &start_);
      if (!d.ok()) return ctx_->ResumePositionError(d);
    }
    {
      mongo::PooledClient c(pool_);
      SetUpStreamMode(opts, ServerMaxWireVersion(c.get()), &mode_);
    }
    const uint64_t source_now = SourceNow();
    if (start_ == 0) {
      // New spool (or one written before "start" existed): begin at --start_at, else at
      // the source's own time now (its operationTime, or its clock less 2 s: replaying a
      // few events twice is harmless, apply is idempotent); never this host's clock,
      // which may run ahead of the source's. Cosmos gets no implicit start: its API may
      // not take one.
      start_ = opts.start_at != 0 ? opts.start_at : opts.source_kind == "mongo" ? source_now : 0;
    }
    discovery_floor_ = start_;
    prev_discovery_ = source_now != 0 ? source_now : start_;
    last_discovery_ = std::chrono::steady_clock::now();
    if (opts.scope == "deployment" && (tokens_.empty() || tokens_.count(""))) {
      auto saved = tokens_.find("");
      ChangeStreamReader probe(ctx_, pool_, &mode_, "", "", "",
                               saved == tokens_.end() ? std::string() : saved->second, opts.start_at);
      Status p = probe.Probe();
      if (p.IsFailedPrecondition()) return p;  // --show_expanded_events=on refused
      if (p.ok()) {
        AddStream("", "", "", true);
        return Status::OK();
      }
      LOG(WARNING) << "capture: the source refused a deployment-wide change stream (" << p.message()
                   << "); falling back to one stream per collection";
      if (resuming_ && tokens_.count("")) {
        return Status::FailedPrecondition("spool was captured with a deployment-wide stream the source now refuses");
      }
    }
    per_collection_ = true;
    for (const auto& [k, t] : tokens_) {
      auto dot = k.find('.');
      if (opts.scope == "database" || dot == std::string::npos) {
        AddStream(k, k, "", true);
      } else {
        AddStream(k, k.substr(0, dot), k.substr(dot + 1), true);
      }
    }
    return Discover(true);
  }

  int ExpectedReady() const override { return static_cast<int>(streams_.size()); }
  bool InitialPositionPending() const override { return !resuming_; }

  void Advance(const SourceItem& item) override {
    tokens_[item.stream_key] = item.token;
    if (item.has_event && item.event.cluster_time() != 0) cluster_time_ = item.event.cluster_time();
  }
  std::string EncodePosition() const override { return EncodeStreamsToken(tokens_, start_); }
  uint64_t PositionClusterTime() const override { return cluster_time_; }
  size_t StreamCount() const override { return streams_.size(); }

  void Tick() override {
    const auto now = std::chrono::steady_clock::now();
    if (!per_collection_ ||
        now - last_discovery_ < std::chrono::milliseconds(ctx_->opts->discovery_interval_ms)) {
      return;
    }
    if (discovery_slot_) {
      // A discovery is in flight: take its result once it is done, never wait for it.
      Discovery r;
      {
        std::lock_guard<std::mutex> l(discovery_slot_->mu);
        if (!discovery_slot_->done) return;
        r = std::move(discovery_slot_->result);
      }
      discovery_thread_.reset();  // finished: joins at once
      discovery_slot_.reset();
      // Collections found now were created after the previous discovery began, by the
      // source's clock (read before listing): they are watched from then.
      discovery_floor_ = prev_discovery_;
      if (r.source_time != 0) prev_discovery_ = r.source_time;
      for (const Found& f : r.found) AddStream(f.key, f.db, f.coll, false);
      if (!r.status.ok()) {
        LOG(WARNING) << "capture: namespace discovery failed: " << r.status.ToString();
        ctx_->NoteError("namespace discovery failed: " + r.status.ToString());
      }
      last_discovery_ = now;
      return;
    }
    // An ended stream goes once its end marker has come through the queue, so that a
    // collection of that name found again is watched from after the end.
    for (auto it = streams_.begin(); it != streams_.end();) {
      uint64_t unused;
      const auto tok = tokens_.find(it->first);
      if (it->second->ended() && tok != tokens_.end() && ParseEndedToken(tok->second, &unused)) {
        it = streams_.erase(it);  // joins the finished thread
      } else {
        ++it;
      }
    }
    auto slot = std::make_shared<DiscoverySlot>();
    discovery_slot_ = slot;
    discovery_thread_ = std::make_unique<ReaderThread>();
    discovery_thread_->Start([slot, pool = pool_, filter = ctx_->opts->namespaces,
                              per_database = ctx_->opts->scope == "database"] {
      Discovery r = List(pool, filter, per_database);
      std::lock_guard<std::mutex> l(slot->mu);
      slot->result = std::move(r);
      slot->done = true;
    });
  }

  bool Stop() override {
    const auto deadline = std::chrono::steady_clock::now() + kReaderStopGrace;
    bool all = true;
    if (discovery_thread_ && !discovery_thread_->JoinBy(deadline)) {
      all = false;  // blocked in the network; it only touches its slot and the pool
      LOG(WARNING) << "capture: namespace discovery is blocked on the source; not waiting for it";
      (void)discovery_thread_.release();
    }
    discovery_thread_.reset();
    discovery_slot_.reset();
    for (auto& [key, r] : streams_) {
      if (!r->JoinBy(deadline)) {
        all = false;
        LOG(WARNING) << "capture: stream " << (key.empty() ? "(deployment)" : key)
                     << " is blocked in a read from the source; not waiting for it";
        r.release();  // still running: it must outlive this source (the process exits)
      }
    }
    streams_.clear();
    return all;
  }

 private:
  void AddStream(const std::string& key, const std::string& db, const std::string& coll,
                 bool existed_at_start) {
    if (streams_.count(key)) return;
    std::string tok;
    if (auto it = tokens_.find(key); it != tokens_.end()) tok = it->second;
    // No token of its own: a stream that existed when this spool's capture began starts
    // there; one discovered later starts at the previous discovery (minus a margin).
    // On the first run of a new spool, streams simply start now (or at --start_at).
    uint64_t start = 0;
    if (tok.empty()) {
      if (!resuming_) {
        start = existed_at_start ? ctx_->opts->start_at : discovery_floor_;
      } else {
        start = existed_at_start ? start_ : discovery_floor_;
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
    // Each stream holds a pooled client for its life: the pool grows with the streams
    // (a fixed cap hung capture at the 64th stream, waiting for a client for ever), with
    // room for discovery's and the readers' short-lived ones.
    const uint32_t need = static_cast<uint32_t>(streams_.size()) + 1 + kSpareClients;
    if (need > pool_max_) {
      pool_max_ = std::max(need, pool_max_ * 2);
      mongoc_client_pool_max_size(pool_, pool_max_);
    }
    auto r = std::make_unique<ChangeStreamReader>(ctx_, pool_, &mode_, key, db, coll, tok, start);
    r->Start();
    streams_[key] = std::move(r);
    LOG(INFO) << "capture: watching " << (key.empty() ? "the whole deployment" : key);
  }

  // The source's time now (mongo::SourceClusterTime); 0 if it reports none.
  uint64_t SourceNow() {
    mongo::PooledClient c(pool_);
    const uint64_t t = mongo::SourceClusterTime(c.get());
    if (t == 0 && !warned_no_source_time_) {
      warned_no_source_time_ = true;
      LOG(WARNING) << "capture: the source reports neither operationTime nor localTime; new "
                   << "streams start at the spool's start position";
    }
    return t;
  }

  // A namespace to watch: stream key, database, collection ("" for a database stream).
  struct Found {
    std::string key, db, coll;
  };
  // What one namespace discovery found, and the source's time just before it listed.
  struct Discovery {
    Status status;
    uint64_t source_time = 0;
    std::vector<Found> found;
  };
  // Lists the selected namespaces. Network only, no source state: it runs on its own
  // thread for the periodic discovery, so a source that is gone (server selection waits
  // up to 30 s per call) never holds up the writer loop or a stop.
  static Discovery List(mongoc_client_pool_t* pool, const mongo::NamespaceFilter& filter, bool per_database) {
    Discovery r;
    mongo::PooledClient c(pool);
    r.source_time = mongo::SourceClusterTime(c.get());
    bson_error_t err;
    char** dbs = mongoc_client_get_database_names_with_opts(c.get(), nullptr, &err);
    if (!dbs) {
      r.status = mongo::FromBsonError(err, "listing databases on the source");
      return r;
    }
    for (char** d = dbs; *d; ++d) {
      const std::string db = *d;
      if (!filter.Selected(db, "")) continue;
      if (per_database) {
        r.found.push_back({db, db, ""});
        continue;
      }
      mongoc_database_t* dbh = mongoc_client_get_database(c.get(), db.c_str());
      char** colls = mongoc_database_get_collection_names_with_opts(dbh, nullptr, &err);
      mongoc_database_destroy(dbh);
      if (!colls) continue;
      for (char** cl = colls; *cl; ++cl) {
        const std::string coll = *cl;
        if (filter.Selected(db, coll)) r.found.push_back({db + "." + coll, db, coll});
      }
      bson_strfreev(colls);
    }
    bson_strfreev(dbs);
    return r;
  }

  Status Discover(bool at_start) {
    Discovery r = List(pool_, ctx_->opts->namespaces, ctx_->opts->scope == "database");
    for (const Found& f : r.found) AddStream(f.key, f.db, f.coll, at_start);
    return r.status;
  }

  // The periodic discovery in flight: its thread fills the slot (shared, so a thread a
  // stop leaves behind never touches this source).
  struct DiscoverySlot {
    std::mutex mu;
    bool done = false;
    Discovery result;
  };
  std::shared_ptr<DiscoverySlot> discovery_slot_;
  std::unique_ptr<ReaderThread> discovery_thread_;

  static constexpr uint32_t kSpareClients = 8;
  SourceContext* ctx_;
  StreamMode mode_;
  mongoc_client_pool_t* pool_;
  uint32_t pool_max_ = kInitialPoolSize;
  bool resuming_ = false;
  bool per_collection_ = false;
  std::map<std::string, std::string> tokens_;  // stream key -> position (writer thread)
  uint64_t start_ = 0;
  uint64_t cluster_time_ = 0;
  uint64_t discovery_floor_ = 0;
  uint64_t prev_discovery_ = 0;  // the source's time when the previous discovery began
  bool warned_no_source_time_ = false;
  std::chrono::steady_clock::time_point last_discovery_;
  std::map<std::string, std::unique_ptr<ChangeStreamReader>> streams_;
};

}  // namespace

std::unique_ptr<ChangeSource> NewChangeStreamSource(SourceContext* ctx, mongoc_client_pool_t* pool) {
  return std::make_unique<ChangeStreamSource>(ctx, pool);
}

}  // namespace docshift::capture
