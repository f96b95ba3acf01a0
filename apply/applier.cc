#include "apply/applier.h"

#include <glog/logging.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <set>
#include <thread>
#include <unordered_map>

#include "apply/ddl.h"
#include "apply/slot_routing.h"
#include "apply/tracker.h"
#include "apply/transaction.h"
#include "apply/transform.h"
#include "apply/translate.h"
#include "mongo/mongo_util.h"
#include "mongo/event_selected.h"
#include "util/backoff.h"
#include "spool/apply_lock.h"
#include "spool/checkpoint.h"
#include "spool/dead_letter.h"
#include "spool/inspect.h"
#include "spool/spool.h"
#include "spool/tail.h"
#include "status/lag_histogram.h"
#include "status/reporter.h"
#include "util/duration.h"
#include "util/service_notify.h"
#include "util/load_limit.h"

namespace docshift::apply {
namespace {

using mongo::BsonPtr;
using Clock = std::chrono::steady_clock;

// End-to-end lag of an event whose write the target acknowledged at now_ms: source wall
// time (ms) where the source gives it, else its cluster time (whole seconds).
double EndToEndLagSeconds(const pb::ChangeEvent& e, int64_t now_ms) {
  const int64_t src = e.wall_time_ms() != 0 ? e.wall_time_ms() : EventTimeMs(e);
  return static_cast<double>(now_ms - src) / 1000.0;
}

// "p50 0.120 s p99 0.480 s max 0.512 s (n 1234)" for the log lines.
std::string LagFigures(const status::LagHistogram& h) {
  const status::LagSnapshot s = h.Take();
  char buf[160];
  std::snprintf(buf, sizeof(buf), "p50 %.3f s p99 %.3f s max %.3f s (n %llu)", s.Percentile(0.5),
                s.Percentile(0.99), s.max, static_cast<unsigned long long>(s.count));
  return buf;
}

struct Item {
  uint64_t seq = 0;
  pb::ChangeEvent ev;
  std::string db, coll;  // target namespace
  // The target collection has a secondary unique index: its writes are applied in
  // sequence order (one lane, ordered bulks), since a value may move between documents.
  bool ordered = false;
};

// Shared state lanes report into.
struct Shared {
  const ApplyOptions* opts;
  mongoc_client_pool_t* pool;
  Tracker* tracker;
  spool::DeadLetterWriter* dlq;
  std::mutex err_mu;
  Status fatal;  // first fatal lane error; the reader stops on it
  std::atomic<bool> failed{false};
  std::atomic<uint64_t> dead_letters{0};
  std::atomic<uint64_t> updates_from_description{0};  // see ApplyOne
  status::StatusReporter* reporter = nullptr;  // null in a dry run
  status::LagHistogram lag;  // end-to-end lag of every applied event
  int max_update_statements = 0;  // resolved ApplyOptions::max_update_statements
  LoadLimit* limit = nullptr;  // --max_ops_per_s: every lane's writes draw on it
  std::atomic<uint64_t> throttled{0};  // failed writes that were the target's push-back

  // For the status file's last_error (the log has it too).
  void NoteError(const std::string& message) {
    if (reporter != nullptr) reporter->NoteError(message);
  }

  void Fail(const Status& s) {
    std::lock_guard<std::mutex> l(err_mu);
    if (fatal.ok()) fatal = s;
    failed = true;
  }

  // The one way an event goes to the dead-letter file: recorded (once per sequence
  // number), counted, and, when announce, logged and noted for the status file as
  // "dead letter: seq N NS: MESSAGE". A caller recording many events for one reason
  // (a refused transaction) announces them once itself.
  Status RecordDeadLetter(uint64_t seq, const pb::ChangeEvent& ev, int code, const std::string& message,
                          const std::string& ns, bool announce = true) {
    bool appended = false;
    RETURN_IF_ERROR(dlq->Append(seq, ev, code, message, ns, &appended));
    dead_letters++;
    if (!announce) return Status::OK();
    const std::string line = "dead letter: seq " + std::to_string(seq) + " " + ns + ": " + message +
                             (code != 0 ? " (code " + std::to_string(code) + ")" : "") +
                             (appended ? "" : " (recorded already)");  // a replay of the event
    LOG(WARNING) << line;
    NoteError(line);
    return Status::OK();
  }
};

// Writes an event apply cannot apply to the dead-letter file (or stops apply with
// --on_error=stop), and logs it once.
Status DeadLetterItem(Shared* shared, const Item& item, int code, const std::string& message) {
  if (shared->opts->stop_on_error) {
    return Status::FailedPrecondition(
        "seq " + std::to_string(item.seq) + " (" + item.db + "." + item.coll +
        "): the target refused the write: " + message +
        " (code " + std::to_string(code) + "); stopped because of --on_error=stop");
  }
  return shared->RecordDeadLetter(item.seq, item.ev, code, message, item.db + "." + item.coll);
}

class Lane {
 public:
  Lane(int index, Shared* shared) : index_(index), shared_(shared) {}
  void Start() { thread_ = std::thread([this] { Run(); }); }
  // Blocks while the lane's queue is over its byte budget (bounded memory).
  void Push(Item item) {
    const size_t sz = item.ev.ByteSizeLong();
    std::unique_lock<std::mutex> l(mu_);
    space_cv_.wait(l, [&] { return bytes_ < kMaxQueueBytes || closing_; });
    bytes_ += sz;
    q_.push_back(std::move(item));
    cv_.notify_one();
  }
  void WaitIdle() {
    std::unique_lock<std::mutex> l(mu_);
    idle_cv_.wait(l, [&] { return (q_.empty() && !busy_) || shared_->failed; });
  }
  void Close() {
    {
      std::lock_guard<std::mutex> l(mu_);
      closing_ = true;
      cv_.notify_all();
      space_cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  static constexpr size_t kMaxQueueBytes = 8u << 20;

  void Run() {
    mongo::PooledClient client(shared_->pool);
    std::vector<Item> work;
    for (;;) {
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return !q_.empty() || closing_; });
        if (q_.empty() && closing_) return;
        const size_t n = std::min<size_t>(q_.size(), static_cast<size_t>(batch_ops_));
        work.clear();
        for (size_t i = 0; i < n; ++i) {
          bytes_ -= q_.front().ev.ByteSizeLong();
          work.push_back(std::move(q_.front()));
          q_.pop_front();
        }
        busy_ = true;
        space_cv_.notify_all();
      }
      // --max_ops_per_s: the batch waits its turn (not timed: the wait is not latency).
      // A stop cuts the wait short; the batch is still written, as every batch in hand is.
      if (shared_->limit != nullptr) (void)shared_->limit->Take(static_cast<double>(work.size()), 0, shared_->opts->stop);
      const auto t0 = Clock::now();
      const std::atomic<bool>* abort = shared_->opts->abort_writes;
      Status s = abort != nullptr && abort->load()
                     ? Status::Aborted("writes stopped: this apply no longer holds its checkpoint")
                     : ApplyItems(client.get(), work);
      const auto ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
      // Adapt the batch to latency: grow while a batch takes under 200 ms, halve it over 1 s.
      if (ms > 1000 && batch_ops_ > 16) batch_ops_ /= 2;
      if (ms < 200 && batch_ops_ < shared_->opts->batch_max_ops) {
        batch_ops_ = std::min(shared_->opts->batch_max_ops, batch_ops_ * 2);
      }
      if (!s.ok()) {
        shared_->Fail(s);
      } else {
        // Visible on the target now (every bulk of the batch acknowledged).
        const int64_t acked_ms = NowMs();
        for (const Item& it : work) shared_->lag.Record(EndToEndLagSeconds(it.ev, acked_ms));
        shared_->tracker->Done(index_, work.size());
      }
      {
        std::lock_guard<std::mutex> l(mu_);
        busy_ = false;
        idle_cv_.notify_all();
      }
      if (!s.ok()) {
        // Fatal: stop taking work; the reader sees shared_->failed.
        std::unique_lock<std::mutex> l(mu_);
        q_.clear();
        bytes_ = 0;
        space_cv_.notify_all();
        idle_cv_.notify_all();
        cv_.wait(l, [&] { return closing_; });
        return;
      }
    }
  }

  // Applies a lane's batch. Writes to different collections, and to different documents
  // of a collection without a secondary unique index, are independent; only each
  // document's own writes must keep their order. So the batch is grouped by collection
  // (stable), and within a collection the writes are split into generations: the k-th
  // write of a document in this batch goes in the k-th bulk (unordered), so no bulk holds
  // a document twice and a document's writes run in sequence order. A collection with a
  // secondary unique index keeps the batch's order exactly (ordered bulks, cut where a
  // document repeats), since a unique value may move between documents. Under a statement
  // cap (ApplyOptions::max_update_statements) a bulk is also cut once its "update" command
  // is full. Every item of the batch is acknowledged together, so their order across
  // documents does not matter to the checkpoint.
  Status ApplyItems(mongoc_client_t* client, std::vector<Item>& items) {
    std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
      return a.db != b.db ? a.db < b.db : a.coll < b.coll;
    });
    const int cap = shared_->max_update_statements;
    std::unordered_map<std::string, int> seen;
    std::vector<int> gen;  // generation of items[i + k]
    size_t i = 0;
    while (i < items.size()) {
      size_t end = i;
      while (end < items.size() && items[end].db == items[i].db && items[end].coll == items[i].coll) ++end;
      const bool ordered = items[i].ordered;
      gen.assign(end - i, 0);
      if (!ordered) {
        // Generation of each write, then a stable sort by it keeps each document's order.
        seen.clear();
        std::vector<std::pair<int, size_t>> order;  // (generation, index)
        order.reserve(end - i);
        int max_gen = 0;
        for (size_t k = i; k < end; ++k) {
          const int g = seen[CanonicalKey(items[k].ev.document_key())]++;
          max_gen = std::max(max_gen, g);
          order.emplace_back(g, k);
        }
        if (max_gen > 0) {
          std::stable_sort(order.begin(), order.end(),
                           [](const auto& x, const auto& y) { return x.first < y.first; });
          std::vector<Item> sorted;
          sorted.reserve(end - i);
          for (const auto& [g, k] : order) sorted.push_back(std::move(items[k]));
          for (size_t k = i; k < end; ++k) items[k] = std::move(sorted[k - i]);
        }
        for (size_t k = 0; k < order.size(); ++k) gen[k] = order[k].first;
      }
      for (size_t b = i; b < end;) {
        size_t j = b;
        std::set<std::string> keys;
        int statements = 0;  // writes that go in the bulk's "update" command
        while (j < end) {
          if (ordered ? !keys.insert(CanonicalKey(items[j].ev.document_key())).second
                      : gen[j - i] != gen[b - i]) {
            break;
          }
          const bool statement = IsUpdateStatement(items[j]);
          if (cap > 0 && statement && statements >= cap) break;
          statements += statement;
          ++j;
        }
        RETURN_IF_ERROR(ApplyBulk(client, items, b, j));
        b = j;
      }
      i = end;
    }
    return Status::OK();
  }

  // An update or replace event, or an insert in an ordered bulk (sent as a replace): one
  // statement of the bulk's "update" command.
  static bool IsUpdateStatement(const Item& item) {
    const pb::OpType op = item.ev.op();
    return op == pb::OP_UPDATE || op == pb::OP_REPLACE || (op == pb::OP_INSERT && item.ordered);
  }

  Status DeadLetter(const Item& item, int code, const std::string& message) {
    return DeadLetterItem(shared_, item, code, message);
  }

  Status ApplyBulk(mongoc_client_t* client, std::vector<Item>& items, size_t begin, size_t end) {
    mongo::CollPtr coll(
        mongoc_client_get_collection(client, items[begin].db.c_str(), items[begin].coll.c_str()));
    std::vector<DocWrite> writes(end - begin);
    std::vector<size_t> op_item;  // bulk op index → item index
    std::vector<bool> rejected(end - begin, false);
    for (size_t k = begin; k < end; ++k) {
      Status t = Translate(items[k].ev, &writes[k - begin]);
      if (!t.ok()) {
        RETURN_IF_ERROR(DeadLetter(items[k], 0, t.message()));
        rejected[k - begin] = true;
      }
    }
    // An unordered bulk holds each document once, so its writes may go in any order:
    // inserts first, then updates and replacements (one "update" command), then deletes,
    // so libmongoc sends at most three commands instead of one per change of kind.
    std::vector<size_t> order;
    order.reserve(end - begin);
    for (size_t k = begin; k < end; ++k) order.push_back(k);
    const bool ordered = items[begin].ordered;
    // Insert events go as inserts (much faster than replace-with-upsert on FerretDB). A
    // document already on the target (a replay below the checkpoint, a snapshot overlap)
    // is a duplicate key: the bulk is then written again with every insert as a
    // replace-with-upsert, which is idempotent (translate.h).
    // (Only when the document's _id is exactly the key's: an insert must create the same
    // document the replace-with-upsert would.)
    std::vector<char> insertable(end - begin, 0);
    for (size_t k = begin; k < end; ++k) {
      const DocWrite& w = writes[k - begin];
      if (rejected[k - begin] || items[k].ev.op() != pb::OP_INSERT || w.kind != DocWrite::Kind::kReplace) continue;
      bson_iter_t id;
      if (!bson_iter_init_find(&id, w.doc.get(), "_id")) continue;
      BsonPtr key(bson_new());
      bson_append_iter(key.get(), "_id", 3, &id);
      insertable[k - begin] = key->len == w.filter->len &&
                              memcmp(bson_get_data(key.get()), bson_get_data(w.filter.get()), key->len) == 0;
    }
    auto is_insert = [&](size_t k) { return insertable[k - begin] != 0; };
    bool inserts_as_inserts = !ordered;
    if (!ordered) {
      auto rank = [&](size_t k) {
        if (is_insert(k)) return 0;
        return writes[k - begin].kind == DocWrite::Kind::kDelete ? 2 : 1;
      };
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rank(a) < rank(b); });
    }
    int attempt = 0;
    int drops = 0;  // attempts the target answered by closing the connection
    for (;;) {
      BsonPtr opts(BCON_NEW("ordered", BCON_BOOL(ordered)));
      mongo::BulkPtr bulk(mongoc_collection_create_bulk_operation_with_opts(coll.get(), opts.get()));
      op_item.clear();
      bson_error_t err;
      BsonPtr upsert(BCON_NEW("upsert", BCON_BOOL(true)));
      bool used_insert = false;
      for (size_t k : order) {
        if (rejected[k - begin]) continue;
        DocWrite& w = writes[k - begin];
        bool ok = true;
        switch (w.kind) {
          case DocWrite::Kind::kReplace:
            if (inserts_as_inserts && is_insert(k)) {
              ok = mongoc_bulk_operation_insert_with_opts(bulk.get(), w.doc.get(), nullptr, &err);
              used_insert = true;
            } else {
              ok = mongoc_bulk_operation_replace_one_with_opts(bulk.get(), w.filter.get(), w.doc.get(),
                                                               upsert.get(), &err);
            }
            break;
          case DocWrite::Kind::kUpdate:
            if (!w.pre_updates.empty()) {
              // Array truncation must run before the $set: do this document alone, in order.
              // (Once: not again when the bulk is rebuilt after a duplicate key.)
              if (!w.pre_done) {
                RETURN_IF_ERROR(ApplyOrderedUpdates(coll.get(), w, items[k]));
                w.pre_done = true;
              }
              continue;
            }
            ok = mongoc_bulk_operation_update_one_with_opts(bulk.get(), w.filter.get(), w.doc.get(),
                                                            nullptr, &err);
            break;
          case DocWrite::Kind::kDelete:
            ok = mongoc_bulk_operation_remove_one_with_opts(bulk.get(), w.filter.get(), nullptr, &err);
            break;
        }
        if (!ok) {
          // libmongoc refused the op client-side (e.g. invalid keys in a replacement).
          RETURN_IF_ERROR(DeadLetter(items[k], static_cast<int>(err.code), err.message));
          rejected[k - begin] = true;
          continue;
        }
        op_item.push_back(k);
      }
      if (op_item.empty()) return Status::OK();
      bson_t reply;
      const uint32_t hint = mongoc_bulk_operation_execute(bulk.get(), &reply, &err);
      BsonPtr reply_owner(bson_copy(&reply));
      bson_destroy(&reply);
      if (hint != 0) return Status::OK();
      // Failed: network/selection errors → retry all; per-item errors → classify.
      bool retry = mongo::IsTransient(err);
      bool refused = false;  // some write failed for a permanent reason
      bson_iter_t it, arr;
      if (bson_iter_init_find(&it, reply_owner.get(), "writeErrors") && BSON_ITER_HOLDS_ARRAY(&it) &&
          bson_iter_recurse(&it, &arr)) {
        while (bson_iter_next(&arr)) {
          bson_iter_t f;
          bson_error_t e{};
          e.domain = MONGOC_ERROR_SERVER;
          if (bson_iter_recurse(&arr, &f) && bson_iter_find(&f, "code")) {
            e.code = static_cast<uint32_t>(bson_iter_as_int64(&f));
          }
          (mongo::IsTransient(e) ? retry : refused) = true;
        }
      }
      if (bson_iter_init_find(&it, reply_owner.get(), "writeConcernErrors") &&
          BSON_ITER_HOLDS_ARRAY(&it)) {
        retry = true;
      }
      // A server error for the whole bulk, not per write (FerretDB on PostgreSQL reports a
      // duplicate key so, with an empty writeErrors: tests/README.md): which write it was
      // is found the same way.
      if (!retry && !refused && err.domain != 0 && err.code != 0) refused = true;
      // A failed bulk whose error and reply name nothing: libmongoc 1.23 reports an
      // unordered bulk so when one command is refused whole (ok: 0, e.g. Cosmos DB's 16500
      // on the insert command) and a later command of the bulk succeeds. Its writes go one
      // by one as well (ApplyOne: each error then comes with its own code, push-back is
      // retried, only a refusal is dead-lettered) instead of stopping apply.
      if (!retry && !refused && err.code == 0) {
        LOG_EVERY_N(WARNING, 100) << "apply lane " << index_ << ": a bulk write to " << items[begin].db << "."
                                  << items[begin].coll << " failed without naming an error ("
                                  << mongo::ToJson(reply_owner.get()) << "); writing its writes one by one";
        refused = true;
      }
      if (refused && used_insert) {
        // Most likely documents already on the target: write the bulk again with the
        // inserts as replace-with-upsert (every write of it is idempotent). Under a
        // statement cap, in slices of at most that many writes (each tries its inserts
        // again, then falls back within the cap).
        const int cap = shared_->max_update_statements;
        if (cap > 0 && end - begin > static_cast<size_t>(cap)) {
          for (size_t s = begin; s < end; s += cap) {
            RETURN_IF_ERROR(ApplyBulk(client, items, s, std::min(end, s + cap)));
          }
          return Status::OK();
        }
        inserts_as_inserts = false;
        continue;
      }
      if (refused) {
        // The bulk reply's error indexes are not trusted (FerretDB numbers them its own way:
        // tests/README.md); every write of the bulk is done again on its own, which is
        // harmless for those that succeeded (idempotent), and tells exactly which events
        // the target refuses.
        for (size_t k : op_item) RETURN_IF_ERROR(ApplyOne(client, coll.get(), writes[k - begin], items[k]));
        return Status::OK();
      }
      if (!retry) {
        return Status::Internal("bulk write to " + items[begin].db + "." + items[begin].coll +
                                " failed: " + err.message + " (" + mongo::ToJson(reply_owner.get()) + ")");
      }
      // A target that closes the connection on this bulk again and again while it answers
      // a ping is refusing something in it (FerretDB v1.24 does so for a Decimal128 value,
      // tests/README.md): each write goes on its own, so the one it refuses is found and
      // dead-lettered (ApplyOne) instead of retried for ever.
      if (ConnectionDropped(err) && ++drops >= kPoisonAttempts && mongo::Ping(client, "target").ok()) {
        LOG(WARNING) << "apply lane " << index_ << ": the target closed the connection on " << drops
                     << " attempts to write a bulk to " << items[begin].db << "." << items[begin].coll
                     << " while it answers a ping; writing its " << op_item.size() << " writes one by one";
        for (size_t k : op_item) RETURN_IF_ERROR(ApplyOne(client, coll.get(), writes[k - begin], items[k]));
        return Status::OK();
      }
      // Transient, or the target's push-back: wait (its retry-after, else backoff) and
      // write the bulk again (idempotent).
      const int64_t wait_ms = RetryWait(err, reply_owner.get(), attempt);
      shared_->NoteError("transient error writing to " + items[begin].db + "." + items[begin].coll +
                         ": " + err.message + "; retrying");
      if (attempt == 0) {
        LOG(WARNING) << "apply lane " << index_ << ": transient error writing to "
                     << items[begin].db << "." << items[begin].coll << ": " << err.message
                     << "; retrying with backoff";
      }
      if (shared_->opts->stop && shared_->opts->stop->load()) {
        return Status::Aborted("stopped while retrying a transient error");
      }
      SleepUnlessStopped(wait_ms, shared_->opts->stop);
      ++attempt;
    }
  }

  // One write by itself, retried while the error is transient; a permanent error goes to
  // the dead-letter file (or stops apply with --on_error=stop), and so does a write the
  // target answers kPoisonAttempts times by closing the connection while it answers a
  // ping (PoisonReason).
  Status ApplyOne(mongoc_client_t* client, mongoc_collection_t* coll, const DocWrite& w, const Item& item) {
    if (w.kind == DocWrite::Kind::kUpdate) return ApplyOrderedUpdates(coll, w, item);
    int drops = 0;
    for (int attempt = 0;; ++attempt) {
      bson_error_t err;
      bool ok;
      if (w.kind == DocWrite::Kind::kReplace) {
        BsonPtr upsert(BCON_NEW("upsert", BCON_BOOL(true)));
        ok = mongoc_collection_replace_one(coll, w.filter.get(), w.doc.get(), upsert.get(), nullptr, &err);
      } else {
        ok = mongoc_collection_delete_one(coll, w.filter.get(), nullptr, nullptr, &err);
      }
      if (ok) return Status::OK();
      if (IsDuplicateKey(err) && item.ev.op() == pb::OP_UPDATE) {
        // The looked-up full document is from later in the stream and collides with a
        // unique value another document still holds here: apply the event's own change.
        DocWrite delta;
        if (Translate(item.ev, &delta, /*prefer_update_description=*/true).ok() &&
            delta.kind == DocWrite::Kind::kUpdate) {
          VLOG(1) << "apply: seq " << item.seq << ": the looked-up document collides with a "
                  << "unique index; applying the update description instead";
          shared_->updates_from_description++;
          return ApplyOrderedUpdates(coll, delta, item);
        }
      }
      if (!mongo::IsTransient(err)) return DeadLetter(item, static_cast<int>(err.code), err.message);
      if (ConnectionDropped(err) && ++drops >= kPoisonAttempts && mongo::Ping(client, "target").ok()) {
        return DeadLetter(item, static_cast<int>(err.code), PoisonReason(w, drops, err));
      }
      if (SleepUnlessStopped(RetryWait(err, nullptr, attempt), shared_->opts->stop)) {
        return Status::Aborted("stopped while retrying a transient error");
      }
    }
  }

  // The wait before retrying a failed write: the target's retry-after when it pushed back
  // with one (mongo::RetryDelayMs), else backoff; push-back is counted.
  int64_t RetryWait(const bson_error_t& err, const bson_t* reply, int attempt) {
    const mongo::PushBack p = mongo::FindPushBack(err, reply);
    if (p.throttled) shared_->throttled++;
    return mongo::RetryDelayMs(p, attempt);
  }

  // How often a target may close the connection on one write (while answering a ping)
  // before the write counts as one it refuses.
  static constexpr int kPoisonAttempts = 3;

  static bool ConnectionDropped(const bson_error_t& err) { return err.domain == MONGOC_ERROR_STREAM; }

  // Why a write the target keeps closing the connection on is dead-lettered, naming the
  // fields that hold the one type a test-bed server is known to drop connections on.
  static std::string PoisonReason(const DocWrite& w, int drops, const bson_error_t& err) {
    std::string why = "the target closed the connection on each of " + std::to_string(drops) +
                      " attempts to write this document, while it answers a ping: it cannot store something in "
                      "it (" + std::string(err.message) + ")";
    const std::vector<std::string> paths = mongo::FieldsOfType(w.doc.get(), BSON_TYPE_DECIMAL128, 5);
    if (!paths.empty()) {
      std::string list;
      for (const auto& p : paths) list += (list.empty() ? "" : ", ") + p;
      why += "; FerretDB v1.24 does so for Decimal128 values, which this document has in: " + list;
    }
    return why;
  }

  static bool IsDuplicateKey(const bson_error_t& err) {
    return mongo::Classify(err) == mongo::ErrorClass::kDuplicateKey;
  }

  Status ApplyOrderedUpdates(mongoc_collection_t* coll, const DocWrite& w, const Item& item) {
    for (int attempt = 0;; ++attempt) {
      bson_error_t err;
      bool ok = true;
      for (const auto& p : w.pre_updates) {
        ok = ok && mongoc_collection_update_one(coll, w.filter.get(), p.get(), nullptr, nullptr, &err);
      }
      ok = ok && mongoc_collection_update_one(coll, w.filter.get(), w.doc.get(), nullptr, nullptr, &err);
      if (ok) return Status::OK();
      if (!mongo::IsTransient(err)) return DeadLetter(item, static_cast<int>(err.code), err.message);
      // This loop had no stop check: a stop while the target was down waited for ever.
      if (SleepUnlessStopped(RetryWait(err, nullptr, attempt), shared_->opts->stop)) {
        return Status::Aborted("stopped while retrying a transient error");
      }
    }
  }

  const int index_;
  Shared* shared_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_, space_cv_, idle_cv_;
  std::deque<Item> q_;
  size_t bytes_ = 0;
  bool busy_ = false;
  bool closing_ = false;
  int batch_ops_ = 64;
};

bool CollectionExists(mongoc_client_t* client, const std::string& db, const std::string& coll) {
  mongoc_database_t* d = mongoc_client_get_database(client, db.c_str());
  mongo::BsonPtr opts(BCON_NEW("filter", "{", "name", BCON_UTF8(coll.c_str()), "}"));
  bson_error_t err;
  char** names = mongoc_database_get_collection_names_with_opts(d, opts.get(), &err);
  bool found = false;
  for (char** n = names; n != nullptr && *n != nullptr; ++n) found = found || coll == *n;
  bson_strfreev(names);
  mongoc_database_destroy(d);
  return found;
}

// Runs one DDL event against the target (apply/ddl.h). Errors that mean "already so" are
// success; a transient error is retried until stopped; a command the target refuses, and
// an event apply cannot replay, go to the dead-letter file with the reason.
Status RunDdl(Shared* shared, mongoc_client_t* client, const Item& item, const NamespaceMap& map) {
  const pb::ChangeEvent& e = item.ev;
  const DdlPlan plan = PlanDdl(e, map);
  if (!plan.nothing.empty()) {
    LOG(INFO) << "apply: seq " << item.seq << ": nothing to replay: " << plan.nothing;
    return Status::OK();
  }
  if (!plan.unreplayable.empty()) return DeadLetterItem(shared, item, 0, "DDL not replayed: " + plan.unreplayable);
  std::string refused;
  int refused_code = 0;
  for (const DdlCommand& c : plan.commands) {
    bool dropped_destination = false;
    for (int attempt = 0;; ++attempt) {
      bson_error_t err;
      bson_t reply;
      const bool ok = mongoc_client_command_simple(client, c.db.c_str(), c.command.get(), nullptr, &reply, &err);
      bson_destroy(&reply);
      if (ok) break;
      const mongo::ErrorClass cls = mongo::Classify(err);
      if (cls == mongo::ErrorClass::kTransient || cls == mongo::ErrorClass::kThrottled) {
        const mongo::PushBack p = mongo::FindPushBack(err, nullptr);
        if (p.throttled) shared->throttled++;
        if (SleepUnlessStopped(mongo::RetryDelayMs(p, attempt), shared->opts->stop)) {
          return Status::Aborted("stopped while retrying " + c.what + ": " + err.message);
        }
        continue;
      }
      const pb::OpType op = e.op();
      if (op == pb::OP_RENAME && cls == mongo::ErrorClass::kNamespaceExists && !dropped_destination &&
          CollectionExists(client, plan.from_db, plan.from_coll)) {
        // The source's rename succeeded, so its destination was absent or dropped then:
        // a destination on the target is from earlier (a replay recreated it): drop it.
        LOG(INFO) << "apply: seq " << item.seq << ": " << c.what << ": dropping the existing "
                  << plan.to_db << "." << plan.to_coll << " first, as the source's rename did";
        mongo::CollPtr to(mongoc_client_get_collection(client, plan.to_db.c_str(), plan.to_coll.c_str()));
        bson_error_t derr;
        if (!mongoc_collection_drop(to.get(), &derr) && mongo::Classify(derr) != mongo::ErrorClass::kNamespaceNotFound) {
          err = derr;
        } else {
          dropped_destination = true;  // one more try, not a loop
          continue;
        }
      }
      const bool gone_is_done = op == pb::OP_DROP || op == pb::OP_DROP_DATABASE || op == pb::OP_RENAME ||
                                op == pb::OP_DROP_INDEXES;
      const bool exists_is_done = op == pb::OP_CREATE || op == pb::OP_CREATE_INDEXES;
      if ((gone_is_done && cls == mongo::ErrorClass::kNamespaceNotFound) ||
          (exists_is_done && cls == mongo::ErrorClass::kNamespaceExists)) {
        VLOG(1) << "apply: seq " << item.seq << ": " << c.what << ": already so (" << err.message << ")";
        break;
      }
      if (!refused.empty()) refused += "; ";
      refused += "the target refused " + c.what + ": " + err.message + " (code " + std::to_string(err.code) + ")";
      if (plan.cross_database) {
        refused += "; a rename across databases: move the collection on the target by hand (or --map both "
                   "namespaces into one database)";
      }
      refused += "; command " + mongo::ToJson(c.command.get());
      refused_code = static_cast<int>(err.code);
      break;
    }
  }
  if (!refused.empty()) return DeadLetterItem(shared, item, refused_code, refused);
  return Status::OK();
}

// The events the spool holds now (positions.h); their source times only when asked (they
// cost reading the first and the last batch).
StatusOr<SpoolRange> ReadSpoolRange(Env* env, const std::string& dir, bool times) {
  SpoolRange r;
  ASSIGN_OR_RETURN(const spool::SpoolEnd end, spool::ReadSpoolEnd(env, dir));
  spool::SpoolView view;  // after the end: it lists every segment up to there
  RETURN_IF_ERROR(spool::OpenSpoolView(env, dir, &view));
  r.next_seq = end.next_seq;
  r.first_seq = std::min(r.next_seq, view.segments.empty() ? view.manifest.next_seq_after_sealed()
                                                           : view.segments.front().first_seq);
  if (!times || r.next_seq <= r.first_seq) return r;
  auto time_at = [&](uint64_t seq, int64_t* time_ms) -> Status {
    spool::SpoolReader::Options o;
    o.from_seq = seq;
    spool::SpoolReader reader(env, &view, o);
    pb::ChangeBatch b;
    for (;;) {
      Status s = reader.Next(&b);
      if (s.IsEndOfFile()) return Status::OK();
      RETURN_IF_ERROR(s);
      if (b.events_size() > 0) {
        *time_ms = EventTimeMs(b.events(0));
        return Status::OK();
      }
    }
  };
  RETURN_IF_ERROR(time_at(r.first_seq, &r.first_time_ms));
  RETURN_IF_ERROR(time_at(r.next_seq - 1, &r.last_time_ms));
  return r;
}

}  // namespace

namespace {

// --slot: every existing checkpoint of this name's slots (read through the store, which
// may be a bucket) must be of the same N and routing rule: a worker that routed otherwise
// would write documents another slot owns, and the barrier would wait for slots that
// never run.
Status CheckSlotCheckpoints(spool::CheckpointStore* store, const std::string& base_name, const ApplyOptions& opts) {
  ASSIGN_OR_RETURN(const std::vector<spool::NamedCheckpoint> all, store->List());
  for (const spool::NamedCheckpoint& c : all) {
    const std::optional<SlotSpec> spec = ParseSlotName(base_name, c.name);
    if (!spec) continue;
    if (spec->count != opts.slot_count) {
      return Status::InvalidArgument(
          "--slot " + std::to_string(opts.slot_index) + "/" + std::to_string(opts.slot_count) + ": " +
          store->Describe() + " holds checkpoint '" + c.name + "' of " + std::to_string(spec->count) +
          " slots; every slot of --name " + base_name + " must use the same N (use --slot I/" +
          std::to_string(spec->count) + ", or another --name to start over)");
    }
    if (!c.ckpt.slot_hash().empty() && c.ckpt.slot_hash() != kSlotHashName) {
      return Status::FailedPrecondition(
          "checkpoint '" + c.name + "' in " + store->Describe() + " was written by a docshift routing by '" +
          c.ckpt.slot_hash() + "', this one routes by '" + std::string(kSlotHashName) +
          "': slots of one name must route alike; run the same docshift version on every slot");
    }
  }
  return Status::OK();
}

std::string SlotList(const std::vector<int>& slots, int count,
                     const std::vector<std::optional<uint64_t>>& ckpts) {
  std::string out;
  for (int j : slots) {
    if (!out.empty()) out += ", ";
    out += std::to_string(j) + "/" + std::to_string(count) + " (";
    out += ckpts[static_cast<size_t>(j)] ? "checkpoint " + std::to_string(*ckpts[static_cast<size_t>(j)])
                                         : std::string("no checkpoint yet");
    out += ")";
  }
  return out;
}

// The DDL barrier at `seq` (slot_routing.h, DecideBarrier): polls the other slots'
// checkpoints through the store until this slot may run (owner) or pass it. Logs whom it
// waits for at once and then every 10 s. Aborted when opts.stop is set.
StatusOr<BarrierStep> WaitAtBarrier(spool::CheckpointStore* store, const std::string& base_name,
                                    const ApplyOptions& opts, uint64_t seq, int owner, const std::string& ns) {
  const int n = opts.slot_count;
  const std::string me = "apply: slot " + std::to_string(opts.slot_index) + "/" + std::to_string(n);
  std::vector<std::optional<uint64_t>> ckpts(static_cast<size_t>(n));
  int64_t next_log = 0;
  int64_t sleep_ms = std::max<int64_t>(opts.poll_interval_ms, 10);
  const int64_t started = NowMs();
  for (;;) {
    for (int j = 0; j < n; ++j) {
      if (j == opts.slot_index) {
        ckpts[static_cast<size_t>(j)] = seq - 1;  // written before waiting
        continue;
      }
      pb::ApplyCheckpoint c;
      Status s = store->Read(SlotName(base_name, j, n), &c);
      if (s.IsNotFound()) {
        ckpts[static_cast<size_t>(j)].reset();
      } else if (s.ok()) {
        ckpts[static_cast<size_t>(j)] = c.applied_seq();
      } else {
        return s.WithContext("DDL barrier at seq " + std::to_string(seq));
      }
    }
    const BarrierDecision d = DecideBarrier(opts.slot_index, owner, seq, ckpts);
    if (d.step != BarrierStep::kWait) {
      if (next_log != 0) {
        LOG(INFO) << me << ": DDL barrier at seq " << seq << " on " << ns << " left after "
                  << (NowMs() - started) / 1000.0 << " s";
      }
      return d.step;
    }
    if (opts.stop != nullptr && opts.stop->load()) {
      return Status::Aborted("stopped inside the DDL barrier at seq " + std::to_string(seq));
    }
    if (NowMs() >= next_log) {
      LOG(INFO) << me << ": DDL barrier at seq " << seq << " on " << ns << " (owner slot " << owner << "): "
                << (owner == opts.slot_index ? "waiting for slots " : "waiting for slot ")
                << SlotList(d.waiting_for, n, ckpts)
                << (owner == opts.slot_index ? " to reach seq " + std::to_string(seq - 1)
                                             : " to run it and record seq " + std::to_string(seq));
      next_log = NowMs() + 10'000;
    }
    WatchdogPing();  // waiting at a barrier is apply working as meant
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    sleep_ms = std::min<int64_t>(sleep_ms * 2, 500);
  }
}

// opts.name is the name this process writes under (NAME.slot-I-of-N for a slot);
// base_name is NAME, which the other slots' checkpoint names are made of.
StatusOr<ApplyResult> RunApplyAs(const ApplyOptions& opts, const std::string& base_name) {
  Env* env = Env::Default();
  const bool slots = opts.slot_count > 0;
  const int my_slot = opts.slot_index;
  if (opts.spool_dir.empty()) return Status::InvalidArgument("--spool is required");
  if (opts.target_uri.empty() && !opts.dry_run) {
    return Status::InvalidArgument("--target is required: the target's connection string");
  }
  if (opts.lanes < 1 || opts.lanes > 64) {
    return Status::InvalidArgument("--lanes must be between 1 and 64");
  }
  RETURN_IF_ERROR(spool::CheckApplyName(opts.name));
  NamespaceMap map;
  for (const auto& m : opts.maps) RETURN_IF_ERROR(map.Add(m));
  std::optional<Transforms> transforms;
  if (!opts.transforms_file.empty()) {
    ASSIGN_OR_RETURN(transforms, Transforms::Load(opts.transforms_file));
    LOG(INFO) << "apply: --transforms " << opts.transforms_file << ": " << transforms->rules().size()
              << " rules, applied to events as they are read (the spool is unchanged)";
  }
  // The namespace filter capture recorded (none in older spools): an event outside it is
  // never written, it goes to the dead-letter file.
  std::optional<mongo::NamespaceFilter> spool_filter;
  std::string spool_filter_text;
  {
    spool::SpoolView view;  // fails early and clearly when --spool is not a spool
    RETURN_IF_ERROR(spool::OpenSpoolView(env, opts.spool_dir, &view));
    if (view.manifest.created.has_namespace_filter()) {
      const pb::NamespaceFilterSpec& f = view.manifest.created.namespace_filter();
      spool_filter.emplace();
      spool_filter->include.assign(f.include().begin(), f.include().end());
      spool_filter->exclude.assign(f.exclude().begin(), f.exclude().end());
      spool_filter_text = spool::DescribeNamespaceFilter(f);
    }
  }
  // Bad --from/--until are usage errors, found before anything else (checked again below,
  // against the spool as it is when apply starts reading).
  const bool range_times = opts.from.is_time || opts.until.is_time;
  ApplyRange early_range;
  {
    ASSIGN_OR_RETURN(const SpoolRange sr, ReadSpoolRange(env, opts.spool_dir, range_times));
    ASSIGN_OR_RETURN(early_range, ResolveRange(opts.from, opts.until, sr));
  }
  // One apply per name (a dry run writes nothing and takes no lock).
  std::unique_ptr<spool::ApplyLock> apply_lock;
  if (!opts.dry_run) {
    ASSIGN_OR_RETURN(apply_lock, spool::ApplyLock::Acquire(env, opts.spool_dir, opts.name));
  }

  // Where to start.
  std::unique_ptr<spool::CheckpointStore> local_checkpoints;
  spool::CheckpointStore* checkpoints = opts.checkpoints;
  if (checkpoints == nullptr) {
    local_checkpoints = spool::NewLocalCheckpointStore(env, opts.spool_dir);
    checkpoints = local_checkpoints.get();
  }
  pb::ApplyCheckpoint ckpt;
  Status cs = checkpoints->Read(opts.name, &ckpt);
  if (!cs.ok() && !cs.IsNotFound()) return cs;
  const bool have_ckpt = cs.ok();
  if (slots) RETURN_IF_ERROR(CheckSlotCheckpoints(checkpoints, base_name, opts));
  if (have_ckpt && !early_range.replay) {
    // --until below the checkpoint, early too (unless a snapshot may move the start down).
    pb::SnapshotState unused;
    if (spool::ReadSnapshotState(env, opts.spool_dir, &unused).IsNotFound()) {
      RETURN_IF_ERROR(CheckUntilAfterStart(early_range, ckpt.applied_seq() + 1, opts.name));
    }
  }

  mongo::PoolPtr pool;
  std::string target_id;
  int max_update_statements = std::max(0, opts.max_update_statements);
  if (!opts.dry_run) {
    ASSIGN_OR_RETURN(auto uri, mongo::ParseUri(opts.target_uri, "--target"));
    mongo::ApplyStallTimeout(uri.get());
    target_id = mongo::EndpointIdentity(uri.get(), "mongo");
    if (have_ckpt && !ckpt.target_id().empty() && ckpt.target_id() != target_id && !opts.from.set) {
      return Status::FailedPrecondition(
          "checkpoint '" + opts.name + "' in " + checkpoints->Describe() + " was written for target " +
          ckpt.target_id() + ", not " + target_id +
          "; use --name for a separate checkpoint, or --from to replay deliberately");
    }
    ASSIGN_OR_RETURN(pool, mongo::NewPool(uri.get(), opts.lanes + 2));
    mongo::PooledClient c(pool.get());
    RETURN_IF_ERROR(mongo::PingAtStart(c.get(), "target " + mongo::RedactUri(opts.target_uri)));
    if (opts.atomic_transactions) {
      RETURN_IF_ERROR(ProbeTransactions(c.get(), "target " + mongo::RedactUri(opts.target_uri)));
      LOG(INFO) << "apply: --transactions=atomic: each source transaction is applied as one "
                << "target transaction";
    }
    if (opts.max_update_statements < 0) max_update_statements = mongo::UpdateStatementCap(c.get(), opts.lanes);
    if (opts.max_update_statements < 0 && max_update_statements > 0) {
      LOG(INFO) << "apply: the target is FerretDB; at most " << max_update_statements
                << " update statements per command (its update handler holds a connection "
                << "per statement until the command ends and deadlocks when its pool runs "
                << "out; --max_update_statements to change)";
    }
  }
  // A snapshot in the spool: wait until it has finished (a document it copies after we
  // applied that document's delete would stay forever), then replay from just after its
  // start unless this checkpoint already follows from it.
  pb::SnapshotState snap;
  bool have_snap = false;
  for (int64_t next_log = 0;;) {
    Status ss = spool::ReadSnapshotState(env, opts.spool_dir, &snap);
    if (ss.IsNotFound()) break;
    RETURN_IF_ERROR(ss);
    have_snap = true;
    if (snap.finished_wall_ms() != 0 || opts.dry_run) break;
    if (opts.stop != nullptr && opts.stop->load()) return Status::Aborted("apply stopped while waiting for the snapshot");
    if (NowMs() >= next_log) {
      int done = 0, total = 0;
      for (const auto& c : snap.collections()) {
        for (const auto& r : c.ranges()) done += r.done(), ++total;
      }
      LOG(INFO) << "apply: waiting for snapshot " << snap.snapshot_id() << " to finish ("
                << done << " of " << total << " ranges copied); apply starts right after it. "
                << "(To apply without it, remove " << spool::SnapshotStatePath(opts.spool_dir) << ")";
      NotifyStatus("apply: waiting for snapshot " + snap.snapshot_id() + " to finish (" + std::to_string(done) +
                   " of " + std::to_string(total) + " ranges copied)");
      next_log = NowMs() + 30'000;
    }
    WatchdogPing();  // so is waiting for the snapshot
    std::this_thread::sleep_for(std::chrono::milliseconds(std::max<int64_t>(opts.poll_interval_ms, 100)));
  }
  // Where to start: decided under prune.lock, against the spool as it is now, and recorded
  // in the apply lock before prune may run again (spool/apply_lock.h).
  std::unique_ptr<FileLock> prune_lock;
  if (apply_lock) {
    ASSIGN_OR_RETURN(prune_lock, spool::LockPrune(env, opts.spool_dir));
  }
  ASSIGN_OR_RETURN(const SpoolRange spool_range, ReadSpoolRange(env, opts.spool_dir, range_times));
  ASSIGN_OR_RETURN(const ApplyRange range, ResolveRange(opts.from, opts.until, spool_range));
  uint64_t start = 1;
  const char* why = have_ckpt ? " (checkpoint)" : " (new)";
  if (range.replay) {
    start = range.from_seq;
    why = " (--from: a replay; the checkpoint is left alone)";
  } else if (have_snap && (!have_ckpt || ckpt.snapshot_id() != snap.snapshot_id())) {
    start = snap.start_seq() + 1;
    why = " (just after the snapshot's start)";
  } else if (have_ckpt) {
    start = ckpt.applied_seq() + 1;
  }
  if (!range.replay) {
    RETURN_IF_ERROR(CheckUntilAfterStart(range, start, opts.name));
    if (start < spool_range.first_seq) {
      return Status::FailedPrecondition(
          "apply '" + opts.name + "' resumes at seq " + std::to_string(start) +
          ", which was pruned: the spool holds " + DescribeRange(spool_range) +
          "; --from " + std::to_string(spool_range.first_seq) + " replays what is left");
    }
  }
  if (apply_lock) {
    RETURN_IF_ERROR(apply_lock->RecordStart(start));
    prune_lock.reset();
  }
  LOG(INFO) << "apply: starting at sequence " << start << why
            << (opts.dry_run ? ", dry run: nothing is written" : "");

  spool::DeadLetterWriter dlq(env, opts.spool_dir, opts.name);
  if (!opts.dry_run) RETURN_IF_ERROR(dlq.Open());

  // The source time of the last applied event carries over a restart.
  Tracker tracker(opts.lanes, start, have_ckpt && !range.replay ? ckpt.applied_event_wall_ms() : 0);
  Shared shared;
  shared.opts = &opts;
  shared.pool = pool.get();
  shared.tracker = &tracker;
  shared.dlq = &dlq;
  shared.max_update_statements = max_update_statements;
  LoadLimit limit(opts.max_ops_per_s, 0);
  shared.limit = &limit;

  // What the status file and the metrics report: written by this thread, read by the
  // reporter's thread about once a second.
  struct {
    std::atomic<uint64_t> checkpoint_seq{0}, read_seq{0};
    std::atomic<int64_t> last_read_capture_ms{0};
    std::atomic<bool> caught_up{false};  // the last read found nothing new in the spool
  } progress;
  progress.checkpoint_seq = start - 1;
  progress.read_seq = start - 1;
  // This process's own view of its lag (ProcessStatus.lag_seconds): 0 when everything
  // read is applied and the last read found nothing new, else now - capture time of the
  // oldest event read but not applied (or of the last event read, if none is pending).
  auto lag_seconds = [&](int64_t now, bool* caught_up) {
    const int64_t oldest = tracker.OldestPendingCaptureMs();
    *caught_up = oldest == 0 && progress.caught_up;
    const int64_t from = oldest != 0 ? oldest : progress.last_read_capture_ms.load();
    return *caught_up || from == 0 ? 0.0 : static_cast<double>(std::max<int64_t>(0, now - from)) / 1000.0;
  };
  std::unique_ptr<status::StatusReporter> reporter;
  if (!opts.dry_run) {
    status::ReporterOptions ro;
    ro.spool_dir = opts.spool_dir;
    ro.process = "apply";
    ro.name = opts.name;
    ro.http_host = opts.http_host;
    ro.metrics_port = opts.metrics_port;
    ro.progress_apply_name = opts.name;
    ro.interval_ms = opts.status_interval_ms;
    reporter = std::make_unique<status::StatusReporter>(ro, [&](int64_t now, pb::ProcessStatus* st) {
      st->set_events_total(tracker.total_done());
      st->set_seq(progress.checkpoint_seq);
      st->set_read_seq(progress.read_seq);
      const int64_t done_ms = tracker.last_done_time_ms();
      st->set_last_source_wall_ms(done_ms);
      st->set_last_cluster_time(static_cast<uint64_t>(done_ms / 1000) << 32);
      st->set_dead_letters(shared.dead_letters);
      bool caught_up = false;
      st->set_lag_seconds(lag_seconds(now, &caught_up));
      st->set_caught_up(caught_up);
      tracker.FillNamespaces(now, st);
      shared.lag.Take().ToProto(st->mutable_end_to_end_lag());
      st->set_rate_limit_per_s(limit.units_limit());
      st->set_rate_achieved_per_s(limit.units_per_s());
      st->set_throttled_total(shared.throttled);
    });
    RETURN_IF_ERROR(reporter->Start());
    shared.reporter = reporter.get();
  }
  std::vector<std::unique_ptr<Lane>> lanes;
  if (!opts.dry_run) {
    for (int i = 0; i < opts.lanes; ++i) {
      lanes.push_back(std::make_unique<Lane>(i, &shared));
      lanes.back()->Start();
    }
  }
  auto wait_idle = [&] {
    for (auto& l : lanes) l->WaitIdle();
  };

  uint64_t last_ckpt = start - 1;
  uint64_t events_base = have_ckpt ? ckpt.events_applied_total() : 0;
  auto write_ckpt = [&](bool force) -> Status {
    if (opts.dry_run) return Status::OK();
    // A replay leaves the checkpoint alone; its dead letters are durable all the same.
    if (range.replay) {
      RETURN_IF_ERROR(dlq.Sync());
      if (opts.replay_applied_seq != nullptr) opts.replay_applied_seq->store(tracker.Safe());
      return Status::OK();
    }
    const uint64_t safe = tracker.Safe();
    if (safe <= last_ckpt && !force) return Status::OK();
    if (safe < last_ckpt) return Status::OK();
    // Dead letters up to `safe` must be durable before the checkpoint passes them.
    RETURN_IF_ERROR(dlq.Sync());
    pb::ApplyCheckpoint c;
    c.set_applied_seq(safe);
    c.set_applied_cluster_time(static_cast<uint64_t>(tracker.last_done_time_ms() / 1000) << 32);
    c.set_updated_wall_ms(NowMs());
    c.set_target_id(target_id);
    c.set_applied_event_wall_ms(tracker.last_done_time_ms());
    c.set_events_applied_total(events_base + tracker.total_done());
    if (have_snap) c.set_snapshot_id(snap.snapshot_id());
    if (slots) {
      c.set_slot_index(static_cast<uint32_t>(my_slot));
      c.set_slot_count(static_cast<uint32_t>(opts.slot_count));
      c.set_slot_hash(std::string(kSlotHashName));
    }
    RETURN_IF_ERROR(checkpoints->Write(opts.name, c));
    last_ckpt = safe;
    progress.checkpoint_seq = safe;
    return Status::OK();
  };

  // Unique-index detection per target namespace (cached).
  std::map<std::string, bool> unique_ns;
  auto has_unique = [&](const std::string& db, const std::string& coll) {
    const std::string ns = db + "." + coll;
    auto it = unique_ns.find(ns);
    if (it != unique_ns.end()) return it->second;
    bool unique = false;
    mongo::PooledClient c(pool.get());
    mongo::CollPtr col(mongoc_client_get_collection(c.get(), db.c_str(), coll.c_str()));
    mongo::CursorPtr cur(mongoc_collection_find_indexes_with_opts(col.get(), nullptr));
    const bson_t* idx;
    while (mongoc_cursor_next(cur.get(), &idx)) {
      bson_iter_t it2;
      std::string name;
      if (bson_iter_init_find(&it2, idx, "name") && BSON_ITER_HOLDS_UTF8(&it2)) name = bson_iter_utf8(&it2, nullptr);
      if (name != "_id_" && bson_iter_init_find(&it2, idx, "unique") && bson_iter_as_bool(&it2)) unique = true;
    }
    if (unique) {
      LOG(INFO) << "apply: " << ns << " has a secondary unique index on the target: its "
                << "events go through one ordered lane";
    }
    unique_ns[ns] = unique;
    return unique;
  };

  spool::SpoolTail tail(env, opts.spool_dir, start);
  ApplyResult result;
  pb::ChangeBatch batch;
  Status status;
  auto last_ckpt_time = Clock::now();
  auto last_progress = Clock::now();
  uint64_t progress_base = 0;
  bool reached_until = false;
  bool stopped_in_barrier = false;  // --stop (or SIGTERM) while waiting at a DDL barrier
  std::hash<std::string> hasher;

  // --transactions=atomic: the open group (one source transaction's events, in order).
  const bool atomic = opts.atomic_transactions && !opts.dry_run;
  TxnGrouper grouper;
  std::vector<Item> txn_items;
  // Applies the open group as one target transaction, after every earlier event (a
  // barrier, as for DDL); a group the target refuses goes whole to the dead-letter file.
  auto flush_txn = [&]() -> Status {
    if (txn_items.empty()) return Status::OK();
    wait_idle();
    if (shared.failed) return Status::OK();  // the loop stops on it
    std::vector<TxnItem> group;
    group.reserve(txn_items.size());
    for (const Item& it : txn_items) group.push_back(TxnItem{it.seq, &it.ev, it.db, it.coll});
    mongo::PooledClient c(pool.get());
    ASSIGN_OR_RETURN(const TxnOutcome o, ApplyTransaction(c.get(), group, opts.stop));
    const std::string range = "seq " + std::to_string(txn_items.front().seq) + ".." +
                              std::to_string(txn_items.back().seq);
    if (o.refused) {
      const std::string reason = "transaction of " + range + " (" + std::to_string(txn_items.size()) +
                                 " writes) not applied, none of it: the target refused " + o.message;
      if (opts.stop_on_error) {
        return Status::FailedPrecondition(reason + "; stopped because of --on_error=stop");
      }
      for (const Item& it : txn_items) {
        RETURN_IF_ERROR(shared.RecordDeadLetter(it.seq, it.ev, o.code, reason, it.db + "." + it.coll,
                                                /*announce=*/false));
      }
      LOG(WARNING) << "dead letters: " << reason << " (code " << o.code << ")";
      shared.NoteError("dead letters: " + reason);
    } else {
      result.transactions++;
    }
    const int64_t acked_ms = NowMs();
    for (const Item& it : txn_items) {
      if (!o.refused) shared.lag.Record(EndToEndLagSeconds(it.ev, acked_ms));
      const std::string source_ns = it.ev.db() + "." + it.ev.coll();
      tracker.Passed(it.seq, EventTimeMs(it.ev), &source_ns);
    }
    txn_items.clear();
    return Status::OK();
  };

  // Reading starts now (the target answered, the snapshot is finished, the lanes run).
  NotifyReady(std::string(opts.dry_run ? "apply --dry_run" : "apply '" + opts.name + "'") +
              ": ready: reading the spool from seq " + std::to_string(start));
  while (!reached_until && !stopped_in_barrier) {
    WatchdogPing();  // this loop turns at least every poll interval while apply works
    if (opts.stop && opts.stop->load()) break;
    if (shared.failed) break;
    const bool complete = opts.source_complete == nullptr || opts.source_complete->load();  // before Next
    Status s = tail.Next(&batch);
    if (s.ok() && batch.events_size() == 0 && grouper.EmptyBatch()) {
      // The source's position moved on with no event: the open transaction is complete.
      status = flush_txn();
      if (!status.ok()) break;
    }
    if (s.IsEndOfFile()) {
      progress.caught_up = true;
      if (opts.stop_when_drained && complete) break;
      status = write_ckpt(false);
      if (!status.ok()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(opts.poll_interval_ms));
    } else if (!s.ok()) {
      status = s;
      break;
    } else {
      progress.caught_up = false;
      if (batch.events_size() > 0) {
        progress.last_read_capture_ms = batch.events(batch.events_size() - 1).capture_wall_ms();
      }
      for (int i = 0; i < batch.events_size(); ++i) {
        const uint64_t seq = batch.first_seq() + static_cast<uint64_t>(i);
        pb::ChangeEvent* e = batch.mutable_events(i);
        const int64_t t = EventTimeMs(*e);
        if (range.Past(seq, t)) {
          reached_until = true;
          break;
        }
        if (range.Before(t)) {
          if (atomic && grouper.End()) {  // the checkpoint must not pass an open transaction
            status = flush_txn();
            if (!status.ok() || shared.failed) break;
          }
          tracker.Skipped(seq);
          continue;
        }
        if (result.first_seq == 0) result.first_seq = seq;
        result.last_seq = seq;
        // An event never written, dead-lettered here with the reason. An open transaction
        // is applied first: the checkpoint must not pass it.
        auto dead_letter_read = [&](const pb::ChangeEvent& ev, const std::string& why, const std::string& ns) -> Status {
          if (slots && SlotOf(ns, "", /*by_namespace=*/true, opts.slot_count) != my_slot) {
            tracker.Skipped(seq);  // the slot of its namespace records it
            return Status::OK();
          }
          if (atomic && grouper.End()) {
            RETURN_IF_ERROR(flush_txn());
            if (shared.failed) return Status::OK();
          }
          if (opts.dry_run) {
            std::cout << "{\"seq\": " << seq << ", \"deadLetter\": " << spool::JsonString(why) << "}\n";
          } else {
            RETURN_IF_ERROR(shared.RecordDeadLetter(seq, ev, 0, why, ns));
          }
          tracker.Passed(seq, t);
          return Status::OK();
        };
        if (spool_filter && !mongo::EventSelected(*spool_filter, *e)) {
          // Never written: capture's filter excludes it (a spool written by a capture that
          // did not filter this source kind, or crafted by hand).
          const std::string ns = e->db() + (e->coll().empty() ? "" : "." + e->coll());
          status = dead_letter_read(*e, "namespace " + ns + " is outside the spool's filter (" +
                                            spool_filter_text + "); not written", ns);
          if (!status.ok() || shared.failed) break;
          continue;
        }
        // --transforms: the event as the rule for its source namespace makes it (the
        // spool keeps it as the source sent it). One the rule cannot transform is
        // dead-lettered as read, with the reason.
        if (transforms && IsDocumentOp(e->op())) {
          if (const TransformRule* rule = transforms->RuleFor(e->db(), e->coll())) {
            pb::ChangeEvent transformed = *e;
            Status ts = TransformEvent(*rule, &transformed);
            if (!ts.ok()) {
              const auto [tdb, tcoll] = map.Map(e->db(), e->coll());
              if (opts.stop_on_error && !opts.dry_run) {
                status = Status::FailedPrecondition("seq " + std::to_string(seq) + " (" + tdb + "." + tcoll +
                                                    "): " + ts.message() + "; stopped because of --on_error=stop");
                break;
              }
              status = dead_letter_read(*e, ts.message() + "; not written", tdb + "." + tcoll);
              if (!status.ok() || shared.failed) break;
              continue;
            }
            e->Swap(&transformed);
          }
        }
        Item item;
        item.seq = seq;
        std::tie(item.db, item.coll) = map.Map(e->db(), e->coll());
        if (atomic) {
          const TxnGrouper::Step step = grouper.Next(*e);
          if (step.flush_before) {
            status = flush_txn();
            if (!status.ok() || shared.failed) break;
          }
          if (step.join) {
            item.ev.Swap(e);
            txn_items.push_back(std::move(item));
            continue;
          }
        }
        if (opts.dry_run) {
          if (IsDocumentOp(e->op())) {
            DocWrite w;
            Status ts = Translate(*e, &w);
            if (ts.ok()) {
              std::cout << "{\"seq\": " << seq << ", \"write\": " << DescribeWrite(item.db + "." + item.coll, w) << "}\n";
            } else {
              std::cout << "{\"seq\": " << seq << ", \"deadLetter\": \"" << ts.message() << "\"}\n";
            }
          } else if (e->op() == pb::OP_NOOP) {
            std::cout << "{\"seq\": " << seq << ", \"noop\": \"" << item.db << "." << item.coll << "\"}\n";
          } else {
            std::cout << "{\"seq\": " << seq << ", \"ddl\": " << e->op() << ", \"ns\": \"" << item.db << "." << item.coll << "\"}\n";
          }
          tracker.Passed(seq, t);
          continue;
        }
        if (IsDocumentOp(e->op())) {
          const bool unique = has_unique(item.db, item.coll);
          item.ordered = unique;
          if (slots) {
            if (SlotOf(item.db + "." + item.coll, e->document_key(), unique, opts.slot_count) != my_slot) {
              tracker.Skipped(seq);  // another slot's share
              result.slot_events_others++;
              continue;
            }
            result.slot_events_mine++;
          }
          const size_t h = unique ? hasher(item.db + "." + item.coll)
                                  : hasher(item.db + "." + item.coll + '\0' + CanonicalKey(e->document_key()));
          const int lane = static_cast<int>(h % static_cast<size_t>(opts.lanes));
          tracker.Dispatch(lane, seq, t, e->db() + "." + e->coll(), e->capture_wall_ms());
          item.ev.Swap(e);
          lanes[static_cast<size_t>(lane)]->Push(std::move(item));
        } else if (IsDdlOp(e->op()) && slots) {
          wait_idle();  // barrier: everything of this slot before the DDL is applied first
          if (shared.failed) break;
          status = write_ckpt(true);  // at seq - 1: what the other slots wait for
          if (!status.ok()) break;
          const std::string ns = item.db + "." + item.coll;
          const int owner = SlotOf(ns, "", /*by_namespace=*/true, opts.slot_count);
          auto step = WaitAtBarrier(checkpoints, base_name, opts, seq, owner, ns);
          if (!step.ok()) {
            if (!step.status().IsAborted()) status = step.status();
            stopped_in_barrier = true;
            break;
          }
          if (step.value() == BarrierStep::kRun) {
            mongo::PooledClient c(pool.get());
            item.ev.Swap(e);
            Status ds = RunDdl(&shared, c.get(), item, map);
            e->Swap(&item.ev);
            if (!ds.ok()) {
              status = ds.WithContext("seq " + std::to_string(seq));
              break;
            }
            const std::string source_ns = e->db() + "." + e->coll();
            tracker.Passed(seq, t, &source_ns);
            status = write_ckpt(true);  // at seq: what the other slots pass on
            if (!status.ok()) break;
            result.slot_ddl_run++;
            LOG(INFO) << "apply: slot " << my_slot << "/" << opts.slot_count << ": ran the DDL at seq " << seq
                      << " on " << ns << " (its owner) and recorded it";
          } else {
            tracker.Skipped(seq);  // its owner ran it
            result.slot_ddl_passed++;
          }
          // Every slot passes the barrier at the same point of the stream, so all of them
          // look at the target's unique indexes afresh after it, and route alike.
          unique_ns.clear();
        } else if (IsDdlOp(e->op())) {
          wait_idle();  // barrier: everything before the DDL is applied first
          if (shared.failed) break;
          mongo::PooledClient c(pool.get());
          item.ev.Swap(e);
          Status ds = RunDdl(&shared, c.get(), item, map);
          e->Swap(&item.ev);
          if (!ds.ok()) {
            status = ds.WithContext("seq " + std::to_string(seq));
            break;
          }
          if (e->op() == pb::OP_CREATE_INDEXES || e->op() == pb::OP_DROP_INDEXES || e->op() == pb::OP_DROP ||
              e->op() == pb::OP_DROP_DATABASE || e->op() == pb::OP_RENAME) {
            unique_ns.clear();
          }
          const std::string source_ns = e->db() + "." + e->coll();
          tracker.Passed(seq, t, &source_ns);
        } else {
          tracker.Passed(seq, t);  // noop, invalidate: nothing to write
        }
      }
      if (!status.ok()) break;
      progress.read_seq = tail.position() - 1;
    }
    const auto now = Clock::now();
    if (now - last_ckpt_time >= std::chrono::milliseconds(opts.checkpoint_interval_ms)) {
      status = write_ckpt(false);
      if (!status.ok()) break;
      last_ckpt_time = now;
    }
    if (now - last_progress >= std::chrono::milliseconds(opts.progress_interval_ms)) {
      const double secs = std::chrono::duration<double>(now - last_progress).count();
      const uint64_t done = tracker.total_done();
      bool idle = false;
      const double lag = lag_seconds(NowMs(), &idle);
      std::ostringstream line;
      line << "apply: " << static_cast<uint64_t>((done - progress_base) / secs)
           << " events/s, checkpoint seq " << last_ckpt << ", read up to seq "
           << tail.position() - 1 << ", lag " << lag << " s, dead letters "
           << shared.dead_letters.load() << ", end-to-end lag " << LagFigures(shared.lag)
           << (limit.limited() ? ", " + limit.Describe("ops") : std::string())
           << (shared.throttled > 0 ? ", throttled by the target " + std::to_string(shared.throttled.load()) +
                                          " times (retried)"
                                    : std::string());
      LOG(INFO) << line.str();
      NotifyStatus(line.str());
      progress_base = done;
      last_progress = now;
    }
  }
  // --until inside a transaction: what it selected of it is applied. Otherwise a group
  // still open when apply stops waits for the next run (the rest may not be captured yet).
  if (status.ok() && !shared.failed && reached_until) status = flush_txn();
  if (!txn_items.empty()) {
    LOG(INFO) << "apply: the spool ends inside a transaction (seq " << txn_items.front().seq << ".."
              << txn_items.back().seq << " so far): left for the next run, which applies it "
              << "whole once the rest of it is in the spool";
  }
  // Drain and stop the lanes, then the final checkpoint.
  for (auto& l : lanes) l->WaitIdle();
  for (auto& l : lanes) l->Close();
  if (shared.failed) {
    std::lock_guard<std::mutex> l(shared.err_mu);
    if (status.ok()) status = shared.fatal;
  }
  Status cs2 = write_ckpt(true);
  if (status.ok()) status = cs2;
  if (reporter) {
    if (!status.ok()) reporter->NoteError(status.ToString());
    shared.reporter = nullptr;
    reporter->Stop();
  }
  result.events_applied = tracker.total_done();
  result.replay = range.replay;
  result.dead_letters = shared.dead_letters.load();
  result.checkpoint_seq = last_ckpt;
  result.throttled = shared.throttled.load();
  LOG(INFO) << "apply: stopped; " << result.events_applied << " events this run, "
            << (range.replay ? std::string("a replay: checkpoint left alone")
                             : "checkpoint seq " + std::to_string(result.checkpoint_seq))
            << ", dead letters " << result.dead_letters
            << (slots ? ", slot " + std::to_string(my_slot) + "/" + std::to_string(opts.slot_count) + ": " +
                            std::to_string(result.slot_events_mine) + " events of its share, " +
                            std::to_string(result.slot_events_others) + " of other slots passed, DDL run " +
                            std::to_string(result.slot_ddl_run) + " passed " + std::to_string(result.slot_ddl_passed)
                      : std::string())
            << (atomic ? ", " + std::to_string(result.transactions) + " transactions" : std::string())
            << ", end-to-end lag " << LagFigures(shared.lag)
            << (shared.updates_from_description > 0
                    ? ", " + std::to_string(shared.updates_from_description.load()) +
                          " updates applied from their description (unique index)"
                    : std::string());
  if (!status.ok()) return status;
  return result;
}

}  // namespace

StatusOr<ApplyResult> RunApply(const ApplyOptions& opts) {
  if (opts.slot_count == 0) return RunApplyAs(opts, opts.name);
  if (opts.slot_count < 1 || opts.slot_count > kMaxSlots || opts.slot_index < 0 ||
      opts.slot_index >= opts.slot_count) {
    return Status::InvalidArgument("--slot " + std::to_string(opts.slot_index) + "/" +
                                   std::to_string(opts.slot_count) + ": need 0 <= I < N <= " +
                                   std::to_string(kMaxSlots));
  }
  RETURN_IF_ERROR(spool::CheckApplyName(opts.name));
  if (opts.atomic_transactions) {
    return Status::InvalidArgument(
        "--transactions=atomic with --slot: a source transaction's writes may fall in several "
        "slots, which cannot commit them as one target transaction; use one apply (no --slot) "
        "for atomic transactions");
  }
  if (opts.from.set) {
    return Status::InvalidArgument(
        "--from with --slot: a replay leaves the checkpoint alone, which the other slots wait "
        "on at DDL barriers; replay with one apply (no --slot)");
  }
  ApplyOptions o = opts;
  o.name = SlotName(opts.name, opts.slot_index, opts.slot_count);
  if (!spool::CheckApplyName(o.name).ok()) {
    return Status::InvalidArgument("--name " + opts.name + " is too long for --slot: the slot's name " + o.name +
                                   " must be at most 64 characters");
  }
  LOG(INFO) << "apply: slot " << opts.slot_index << "/" << opts.slot_count << " (name " << o.name
            << "): writes the events whose " << kSlotHashName << " slot is " << opts.slot_index
            << "; DDL is a barrier shared with the other slots";
  return RunApplyAs(o, opts.name);
}

}  // namespace docshift::apply
