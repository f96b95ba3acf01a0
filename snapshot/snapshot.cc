#include "snapshot/snapshot.h"

#include <glog/logging.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <future>
#include <atomic>
#include <iomanip>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "apply/transform.h"
#include "apply/translate.h"
#include "aws/dynamodb_types.h"
#include "aws/dynamodb_uri.h"
#include "mongo/id_ranges.h"
#include "mongo/mongo_util.h"
#include "util/load_limit.h"
#include "util/backoff.h"
#include "proto/spool.pb.h"
#include "snapshot/indexes.h"
#include "snapshot/snapshot_internal.h"
#include "snapshot/source.h"
#include "spool/checkpoint.h"
#include "spool/dead_letter.h"
#include "spool/format.h"
#include "spool/spool.h"
#include "status/reporter.h"
#include "util/duration.h"
#include "util/env.h"

namespace docshift::snapshot {

namespace {

using mongo::BsonPtr;

constexpr char kDeadLetterName[] = "snapshot";
constexpr int kMaxAttempts = 8;

std::string NewSnapshotId(int64_t now_ms) {
  std::random_device rd;
  char buf[64];
  snprintf(buf, sizeof(buf), "snap-%lld-%08x", static_cast<long long>(now_ms), rd());
  return buf;
}

bool Stopped(const SnapshotOptions& o) { return o.stop != nullptr && o.stop->load(); }

void Backoff(int attempt) {
  std::this_thread::sleep_for(std::chrono::milliseconds(BackoffDelayMs(attempt)));
}

// Is the process holding the spool's writer lock (capture) alive? Unknown → false.
bool CaptureRunning(Env* env, const std::string& spool_dir, int* pid) {
  std::string content;
  if (!env->ReadFileToString(JoinPath(spool_dir, spool::kLockFile), &content, 64).ok()) {
    return false;
  }
  auto pid_or = ParseInt64(content.substr(0, content.find_first_not_of("0123456789")));
  *pid = pid_or.ok() && pid_or.value() <= INT32_MAX ? static_cast<int>(pid_or.value()) : 0;
  return *pid > 0 && kill(*pid, 0) == 0;
}

// A running apply on this spool (its status file is fresh and its pid alive), if any:
// the snapshot must not copy while apply writes (see snapshot.h).
std::string RunningApply(Env* env, const std::string& spool_dir) {
  const std::string dir = JoinPath(spool_dir, spool::kStatusDir);
  auto names = env->GetChildren(dir);
  if (!names.ok()) return "";
  for (const auto& n : *names) {
    if (n.rfind("apply-", 0) != 0) continue;
    pb::ProcessStatus st;
    if (!status::ReadProcessStatus(env, JoinPath(dir, n), &st).ok()) continue;
    const bool fresh = NowMs() - st.heartbeat_wall_ms() < std::max<int64_t>(10'000, 5 * st.interval_ms());
    if (!st.exited() && fresh && st.pid() > 0 && kill(static_cast<pid_t>(st.pid()), 0) == 0) {
      return "'" + st.name() + "' (pid " + std::to_string(st.pid()) + ")";
    }
  }
  return "";
}

std::string HumanBytes(double b) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(1);
  if (b >= 1e9) o << b / 1e9 << " GB";
  else if (b >= 1e6) o << b / 1e6 << " MB";
  else if (b >= 1e3) o << b / 1e3 << " kB";
  else o << std::setprecision(0) << b << " B";
  return o.str();
}

std::string HumanSeconds(double s) {
  if (s < 0 || s > 1e7) return "?";
  long t = static_cast<long>(s + 0.5);
  char buf[32];
  if (t >= 3600) snprintf(buf, sizeof(buf), "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else snprintf(buf, sizeof(buf), "%ld:%02ld", t / 60, t % 60);
  return buf;
}

// Live counters per collection, for progress display.
struct CollProgress {
  std::string ns;
  uint64_t estimated_docs = 0;
  std::atomic<uint64_t> docs{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<int> ranges_done{0};
  int ranges_total = 0;
  int64_t first_write_ms = 0;  // guarded by Copier::mu_
};

class Copier {
 public:
  Copier(const SnapshotOptions& opts, Env* env, SnapshotSource* src, mongoc_client_pool_t* dst,
         pb::SnapshotState* state, spool::DeadLetterWriter* dlq, const apply::Transforms* transforms)
      : opts_(opts), env_(env), src_(src), dst_(dst), state_(state), dlq_(dlq), transforms_(transforms),
        limit_(opts.max_docs_per_s, opts.max_mb_per_s * 1e6) {
    for (const auto& c : state_->collections()) {
      auto p = std::make_unique<CollProgress>();
      p->ns = c.db() + "." + c.coll();
      p->estimated_docs = c.estimated_docs();
      p->ranges_total = c.ranges_size();
      for (const auto& r : c.ranges()) {
        // Part of an unfinished range may be on the target already (resume_after).
        p->docs += r.docs_copied();
        p->bytes += r.bytes_copied();
        if (r.done()) p->ranges_done++;
      }
      progress_.push_back(std::move(p));
    }
  }

  StatusOr<SnapshotResult> Run();
  // Ranges from claimer instead of every unfinished one (snapshot.h, RangeClaimer).
  void set_claimer(RangeClaimer* claimer) { claimer_ = claimer; }

 private:
  struct Task {
    int coll;
    int range;
  };
  void Worker();
  Status CopyRange(const Task& t, uint64_t* docs, uint64_t* bytes);
  Status InsertBatch(mongoc_collection_t* coll, const pb::SnapshotCollection& c,
                     std::vector<BsonPtr>* docs);
  Status InsertOne(mongoc_collection_t* coll, const pb::SnapshotCollection& c, const bson_t* doc);
  // Records a document that is not written (refused by the target, or by a transform
  // rule) in the dead-letter file.
  Status DeadLetterDoc(const pb::SnapshotCollection& c, const bson_t* doc, int code, const std::string& why);
  // Replaces each document of *batch with what rule makes of it; one the rule refuses is
  // dead-lettered as read, with the reason, and left out.
  Status TransformBatch(const pb::SnapshotCollection& c, const apply::TransformRule& rule,
                        std::vector<BsonPtr>* batch);
  Status FinishRange(const Task& t, uint64_t docs, uint64_t bytes);
  // Records that the documents of range t up to pos are on the target (saved to STATE
  // at most once a second).
  Status SaveResumePosition(const Task& t, const std::string& pos, uint64_t docs, uint64_t bytes);
  Status CopyIndexesFor(int coll);
  // The source's collection options onto a target collection not there yet, before any
  // document is copied (snapshot/indexes.h).
  Status CopyOptionsFor(int coll);
  Status SaveState();
  void Report(bool final_report);
  void Fail(const Status& s) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (error_.ok()) error_ = s;
      cv_.notify_all();
    }
    if (claimer_ != nullptr) claimer_->Abort();
  }

  const SnapshotOptions& opts_;
  Env* env_;
  SnapshotSource* src_;
  mongoc_client_pool_t* dst_;
  pb::SnapshotState* state_;
  spool::DeadLetterWriter* dlq_;
  const apply::Transforms* transforms_;  // null: none
  std::vector<std::unique_ptr<CollProgress>> progress_;
  LoadLimit limit_;  // --max_docs_per_s, --max_mb_per_s: every range's inserts draw on it

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
  Status error_;
  int active_ = 0;
  std::atomic<uint64_t> rejected_{0};
  std::atomic<uint64_t> throttled_{0};  // writes the target pushed back (retried)
  std::vector<std::string> rejected_indexes_;
  int indexes_created_ = 0;
  uint64_t docs_this_run_ = 0;
  uint64_t bytes_this_run_ = 0;
  int bar_lines_ = 0;
  std::set<std::string> done_reported_;
  int64_t start_ms_ = NowMs();
  int64_t last_position_save_ms_ = 0;  // guarded by mu_
  RangeClaimer* claimer_ = nullptr;  // null: the local snapshot (queue_, STATE)
  int exited_ = 0;                   // workers that returned; guarded by mu_
};

Status Copier::SaveState() {
  if (claimer_ != nullptr) return Status::OK();  // the bucket's claims and done objects are the state
  state_->set_updated_wall_ms(NowMs());
  state_->set_rate_limit_docs_per_s(limit_.units_limit());
  state_->set_rate_achieved_docs_per_s(limit_.units_per_s());
  state_->set_throttled_total(throttled_);
  return spool::WriteSnapshotState(env_, opts_.spool_dir, *state_);
}

Status Copier::CopyOptionsFor(int ci) {
  const pb::SnapshotCollection& c = state_->collections(ci);
  std::string refused;
  for (int attempt = 0;; ++attempt) {
    mongo::PooledClient d(dst_);
    Status st = src_->CopyCollectionOptions(c, d.get(), &refused);
    if (st.ok()) break;
    if (!st.IsUnavailable() || attempt + 1 >= kMaxAttempts) return st;
    Backoff(attempt);
  }
  if (!refused.empty()) {
    std::lock_guard<std::mutex> l(mu_);
    state_->add_rejected_indexes(refused);
    rejected_indexes_.push_back(refused);
  }
  return Status::OK();
}

Status Copier::CopyIndexesFor(int ci) {
  pb::SnapshotCollection* c = state_->mutable_collections(ci);
  if (c->indexes_done()) return Status::OK();
  IndexCopyResult r;
  for (int attempt = 0;; ++attempt) {
    mongo::PooledClient d(dst_);
    Status st = src_->CopyIndexes(*c, d.get(), &r);
    if (st.ok()) break;
    if (!st.IsUnavailable() || attempt + 1 >= kMaxAttempts) return st;
    Backoff(attempt);
  }
  if (!r.rejected.empty() && opts_.indexes_strict) {
    return Status::FailedPrecondition("the target refused " + std::to_string(r.rejected.size()) +
                                      " index(es), and --indexes_strict is set: " + r.rejected[0]);
  }
  std::lock_guard<std::mutex> l(mu_);
  indexes_created_ += r.created;
  for (auto& x : r.rejected) {
    state_->add_rejected_indexes(x);
    rejected_indexes_.push_back(x);
  }
  c->set_indexes_done(true);
  return Status::OK();
}

Status Copier::InsertOne(mongoc_collection_t* coll, const pb::SnapshotCollection& c,
                         const bson_t* doc) {
  int pushbacks = 0;  // the backoff's own count: push-back uses up no attempt
  for (int attempt = 0;; ++attempt) {
    bson_error_t err;
    bson_t reply;
    bool ok = mongoc_collection_insert_one(coll, doc, nullptr, &reply, &err);
    BsonPtr reply_owner(bson_copy(&reply));
    bson_destroy(&reply);
    if (ok || err.code == 11000) return Status::OK();  // 11000: already there
    // The target's push-back: wait as it asks and try again, without using up an attempt.
    if (const mongo::PushBack push = mongo::FindPushBack(err, reply_owner.get()); push.throttled) {
      throttled_++;
      if (SleepUnlessStopped(mongo::RetryDelayMs(push, std::min(pushbacks++, 6)), opts_.stop)) return Status::Aborted("snapshot stopped");
      --attempt;
      continue;
    }
    if (mongo::IsTransient(err) && attempt + 1 < kMaxAttempts) {
      Backoff(attempt);
      continue;
    }
    if (mongo::IsTransient(err)) return mongo::FromBsonError(err, "inserting into " + c.target_db() + "." + c.target_coll());
    // Refused for good: keep the document in the dead-letter file, go on.
    LOG(WARNING) << "snapshot: the target refused a document of " << c.db() << "." << c.coll()
                 << " (" << err.message << "); it is in deadletter/" << kDeadLetterName << ".dlq";
    return DeadLetterDoc(c, doc, static_cast<int>(err.code), err.message);
  }
}

Status Copier::DeadLetterDoc(const pb::SnapshotCollection& c, const bson_t* doc, int code, const std::string& why) {
  {
    pb::ChangeEvent e;
    e.set_db(c.db());
    e.set_coll(c.coll());
    e.set_op(pb::OP_INSERT);
    e.set_full_document(mongo::Bytes(doc));
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, "_id")) {
      BsonPtr key(bson_new());
      bson_append_iter(key.get(), "_id", 3, &it);
      e.set_document_key(mongo::Bytes(key.get()));
    }
    e.set_capture_wall_ms(NowMs());
    rejected_++;
    return dlq_->Append(0, e, code, why, c.target_db() + "." + c.target_coll());
  }
}

Status Copier::InsertBatch(mongoc_collection_t* coll, const pb::SnapshotCollection& c,
                           std::vector<BsonPtr>* docs) {
  if (docs->empty()) return Status::OK();
  int pushbacks = 0;  // the backoff's own count: push-back uses up no attempt
  for (int attempt = 0;; ++attempt) {
    BsonPtr bulk_opts(BCON_NEW("ordered", BCON_BOOL(false)));
    mongo::BulkPtr bulk(mongoc_collection_create_bulk_operation_with_opts(coll, bulk_opts.get()));
    for (const auto& d : *docs) mongoc_bulk_operation_insert_with_opts(bulk.get(), d.get(), nullptr, nullptr);
    bson_t reply;
    bson_error_t err;
    const uint32_t hint = mongoc_bulk_operation_execute(bulk.get(), &reply, &err);
    BsonPtr reply_owner(bson_copy(&reply));
    bson_destroy(&reply);
    if (hint != 0) break;
    // Duplicate keys are documents already copied (an earlier, interrupted run): fine.
    // Anything else, or a reply that does not account for every document, and each
    // document is inserted on its own, which tells exactly which ones the target refuses
    // (FerretDB's writeErrors indexes cannot be trusted: tests/README.md).
    int64_t inserted = 0, dups = 0, others = 0;
    bson_iter_t it, arr;
    if (bson_iter_init_find(&it, reply_owner.get(), "nInserted")) inserted = bson_iter_as_int64(&it);
    if (bson_iter_init_find(&it, reply_owner.get(), "writeErrors") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &arr)) {
      while (bson_iter_next(&arr)) {
        bson_iter_t f;
        int64_t code = 0;
        if (bson_iter_recurse(&arr, &f) && bson_iter_find(&f, "code")) code = bson_iter_as_int64(&f);
        (code == 11000 ? dups : others)++;
      }
    }
    // The target's push-back (a command error or writeErrors entries): the whole batch again
    // once the target's retry-after (else the backoff) has passed, without using up an
    // attempt; what was inserted is a duplicate key then.
    if (const mongo::PushBack push = mongo::FindPushBack(err, reply_owner.get()); push.throttled) {
      if (throttled_++ == 0) {
        LOG(WARNING) << "snapshot: the target pushed back writing to " << c.target_db() << "." << c.target_coll()
                     << ": " << err.message << "; retrying after its retry-after or with backoff";
      }
      if (SleepUnlessStopped(mongo::RetryDelayMs(push, std::min(pushbacks++, 6)), opts_.stop)) return Status::Aborted("snapshot stopped");
      --attempt;
      continue;
    }
    const bool transient = mongo::IsTransient(err) && dups + others == 0;
    if (!transient && others == 0 && inserted + dups == static_cast<int64_t>(docs->size())) break;
    if (transient) {
      if (attempt + 1 >= kMaxAttempts) {
        return mongo::FromBsonError(err, "inserting into " + c.target_db() + "." + c.target_coll());
      }
      if (attempt == 0) {
        LOG(WARNING) << "snapshot: transient error writing to " << c.target_db() << "."
                     << c.target_coll() << ": " << err.message << "; retrying with backoff";
      }
      Backoff(attempt);
      continue;  // the whole batch again: what was inserted is a duplicate key now
    }
    for (const auto& d : *docs) RETURN_IF_ERROR(InsertOne(coll, c, d.get()));
    break;
  }
  docs->clear();
  return Status::OK();
}

Status Copier::CopyRange(const Task& t, uint64_t* docs_out, uint64_t* bytes_out) {
  const pb::SnapshotCollection& c = state_->collections(t.coll);
  CollProgress* p = progress_[t.coll].get();
  for (int attempt = 0;; ++attempt) {
    pb::SnapshotRange r;
    {
      std::lock_guard<std::mutex> l(mu_);
      r = c.ranges(t.range);
    }
    // On the target already: the documents before resume_after (a reader that names
    // positions inside its range), else nothing (the range is read from its start).
    const bool resuming = !r.resume_after().empty();
    uint64_t docs = resuming ? r.docs_copied() : 0, bytes = resuming ? r.bytes_copied() : 0;
    uint64_t committed_docs = docs, committed_bytes = bytes;  // covered by a saved position
    mongo::PooledClient d(dst_);
    mongo::CollPtr out(mongoc_client_get_collection(d.get(), c.target_db().c_str(), c.target_coll().c_str()));
    // The insert of one batch overlaps the read of the next: a batch is handed to an
    // inserter thread (the target client is used by it alone) while this thread reads on.
    std::vector<BsonPtr> batch, inflight;
    uint64_t inflight_docs = 0, inflight_bytes = 0;
    std::string inflight_pos;
    std::future<Status> pending;  // declared after inflight: waited for before it goes
    auto settle = [&]() -> Status {  // waits for the batch in flight and counts it
      if (!pending.valid()) return Status::OK();
      RETURN_IF_ERROR(pending.get());
      docs += inflight_docs;
      bytes += inflight_bytes;
      p->docs += inflight_docs;
      p->bytes += inflight_bytes;
      inflight_docs = 0;
      inflight_bytes = 0;
      if (!inflight_pos.empty()) {
        RETURN_IF_ERROR(SaveResumePosition(t, inflight_pos, docs, bytes));
        committed_docs = docs;
        committed_bytes = bytes;
      }
      return Status::OK();
    };
    auto flush = [&](std::string pos) -> Status {
      RETURN_IF_ERROR(settle());
      if (Stopped(opts_)) return Status::Aborted("snapshot stopped");
      {
        std::lock_guard<std::mutex> l(mu_);
        if (!error_.ok()) return Status::Aborted("another range failed");
      }
      // Another worker took the range over (this one was silent too long): it copies the
      // range again, so stop here (what was written is harmless: duplicates, replayed).
      if (claimer_ != nullptr && !claimer_->Held(t.coll, t.range)) return Status::Aborted("range taken over");
      if (batch.empty()) return Status::OK();
      inflight.swap(batch);
      batch.clear();
      inflight_docs = inflight.size();
      inflight_bytes = 0;
      for (const auto& x : inflight) inflight_bytes += x->len;
      inflight_pos = std::move(pos);
      // Load control: the batch waits its turn before it is written (a stop cuts it short).
      if (!limit_.Take(static_cast<double>(inflight_docs), static_cast<double>(inflight_bytes), opts_.stop)) {
        return Status::Aborted("snapshot stopped");
      }
      pending = std::async(std::launch::async,
                           [&, coll = out.get()] { return InsertBatch(coll, c, &inflight); });
      return Status::OK();
    };
    Status st;
    const apply::TransformRule* rule = transforms_ != nullptr ? transforms_->RuleFor(c.db(), c.coll()) : nullptr;
    auto reader = src_->OpenRange(c, r);
    std::vector<UnreadableRecord> unreadable;
    // Under a load limit a batch holds at most a quarter of a second's budget.
    size_t batch_docs = static_cast<size_t>(opts_.batch_docs);
    uint64_t batch_bytes = opts_.batch_bytes;
    if (opts_.max_docs_per_s > 0) {
      batch_docs = std::clamp<size_t>(static_cast<size_t>(opts_.max_docs_per_s / 4), 1, batch_docs);
    }
    if (opts_.max_mb_per_s > 0) {
      batch_bytes = std::clamp<uint64_t>(static_cast<uint64_t>(opts_.max_mb_per_s * 1e6 / 4), 1, batch_bytes);
    }
    if (!reader.ok()) st = reader.status();
    for (bool more = true; st.ok() && more;) {
      auto n = reader.value()->Next(&batch, batch_docs, batch_bytes);
      if (!n.ok()) {
        st = n.status();
        break;
      }
      // Records the reader could not convert: dead-lettered before the position after
      // them is stored (flush below), so a restart never skips one unrecorded.
      unreadable.clear();
      reader.value()->TakeUnreadable(&unreadable);
      for (const UnreadableRecord& u : unreadable) {
        LOG_EVERY_N(WARNING, 1000) << "snapshot: " << u.why << " (" << c.db() << "." << c.coll()
                                   << "); such records are in deadletter/" << kDeadLetterName << ".dlq";
        st = DeadLetterDoc(c, u.doc.get(), 0, u.why);
        if (!st.ok()) break;
      }
      if (!st.ok()) break;
      if (rule != nullptr) st = TransformBatch(c, *rule, &batch);
      if (!st.ok()) break;
      more = n.value();
      st = flush(reader.value()->ResumePosition());
    }
    if (st.ok()) st = settle();
    if (pending.valid()) pending.wait();  // an error above: nothing may outlive this attempt
    if (st.ok()) {
      *docs_out = docs;
      *bytes_out = bytes;
      return Status::OK();
    }
    // The next attempt starts at the last saved position (or the range's start).
    p->docs -= docs - committed_docs;
    p->bytes -= bytes - committed_bytes;
    if (!st.IsUnavailable() || attempt + 1 >= kMaxAttempts) return st;
    LOG(WARNING) << "snapshot: " << st.ToString() << "; copying range " << src_->DescribeRange(c, r)
                 << " of " << p->ns << " again" << (committed_docs ? ", from where it stopped" : "");
    Backoff(attempt);
  }
}

Status Copier::TransformBatch(const pb::SnapshotCollection& c, const apply::TransformRule& rule,
                              std::vector<BsonPtr>* batch) {
  std::vector<BsonPtr> out;
  out.reserve(batch->size());
  for (auto& doc : *batch) {
    auto t = apply::TransformDocument(rule, doc.get());
    if (!t.ok()) {
      // The source document as read, with the reason; the copy goes on.
      LOG_EVERY_N(WARNING, 1000) << "snapshot: " << t.status().message() << " (" << c.db() << "." << c.coll()
                                 << "); such documents are in deadletter/" << kDeadLetterName << ".dlq";
      RETURN_IF_ERROR(DeadLetterDoc(c, doc.get(), 0, t.status().message() + "; not written"));
      continue;
    }
    out.push_back(std::move(t).value());
  }
  batch->swap(out);
  return Status::OK();
}

Status Copier::SaveResumePosition(const Task& t, const std::string& pos, uint64_t docs, uint64_t bytes) {
  std::lock_guard<std::mutex> l(mu_);
  pb::SnapshotRange* r = state_->mutable_collections(t.coll)->mutable_ranges(t.range);
  r->set_resume_after(pos);
  r->set_docs_copied(docs);
  r->set_bytes_copied(bytes);
  // At most once a second: a restart copies what came after the saved position again
  // (harmless: already-copied documents are duplicate keys).
  const int64_t now = NowMs();
  if (now - last_position_save_ms_ < 1000) return Status::OK();
  last_position_save_ms_ = now;
  // The dead letters of what the position covers are durable before the position is.
  RETURN_IF_ERROR(dlq_->Sync());
  return SaveState();
}

Status Copier::FinishRange(const Task& t, uint64_t docs, uint64_t bytes) {
  // Dead letters of the range are durable before the range counts as done.
  RETURN_IF_ERROR(dlq_->Sync());
  if (claimer_ != nullptr) {
    RETURN_IF_ERROR(claimer_->Done(t.coll, t.range, docs, bytes));
    std::lock_guard<std::mutex> l(mu_);
    docs_this_run_ += docs;
    bytes_this_run_ += bytes;
    progress_[t.coll]->ranges_done++;
    return Status::OK();
  }
  bool coll_done = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    pb::SnapshotCollection* c = state_->mutable_collections(t.coll);
    pb::SnapshotRange* r = c->mutable_ranges(t.range);
    r->set_done(true);
    r->set_docs_copied(docs);
    r->set_bytes_copied(bytes);
    docs_this_run_ += docs;
    bytes_this_run_ += bytes;
    progress_[t.coll]->ranges_done++;
    coll_done = std::all_of(c->ranges().begin(), c->ranges().end(),
                            [](const pb::SnapshotRange& x) { return x.done(); });
  }
  if (coll_done && opts_.indexes == "after") RETURN_IF_ERROR(CopyIndexesFor(t.coll));
  std::lock_guard<std::mutex> l(mu_);
  return SaveState();
}

void Copier::Worker() {
  struct Exit {
    Copier* c;
    ~Exit() {
      std::lock_guard<std::mutex> l(c->mu_);
      c->exited_++;
      c->cv_.notify_all();
    }
  } exit_guard{this};
  for (;;) {
    Task t;
    if (claimer_ != nullptr) {
      {
        std::lock_guard<std::mutex> l(mu_);
        if (!error_.ok() || Stopped(opts_)) return;
      }
      auto got = claimer_->Next(&t.coll, &t.range);
      if (!got.ok()) {
        Fail(got.status());
        return;
      }
      if (!got.value()) return;
      std::lock_guard<std::mutex> l(mu_);
      ++active_;
    } else {
      std::unique_lock<std::mutex> l(mu_);
      if (queue_.empty() || !error_.ok() || Stopped(opts_)) return;
      t = queue_.front();
      queue_.pop_front();
      ++active_;
    }
    uint64_t docs = 0, bytes = 0;
    Status s = CopyRange(t, &docs, &bytes);
    if (s.ok()) s = FinishRange(t, docs, bytes);
    {
      std::lock_guard<std::mutex> l(mu_);
      --active_;
    }
    if (!s.ok() && claimer_ != nullptr && s.IsAborted() && !Stopped(opts_) && !claimer_->Held(t.coll, t.range)) {
      const auto& c = state_->collections(t.coll);
      LOG(WARNING) << "snapshot: range " << src_->DescribeRange(c, c.ranges(t.range)) << " of " << c.db() << "."
                   << c.coll() << " was taken over by another worker (this one did not renew its claim in "
                   << "time); it copies the range again, this one goes on with another";
      continue;
    }
    if (!s.ok()) {
      if (!s.IsAborted()) {
        const auto& c = state_->collections(t.coll);
        s = s.WithContext("copying " + c.db() + "." + c.coll() + " range " + src_->DescribeRange(c, c.ranges(t.range)));
      }
      Fail(s);
      return;
    }
    cv_.notify_all();
  }
}

void Copier::Report(bool final_report) {
  if (opts_.progress_out == nullptr) return;
  std::ostream& out = *opts_.progress_out;
  const double secs = std::max(0.001, (NowMs() - start_ms_) / 1000.0);
  std::vector<std::string> lines;
  for (const auto& p : progress_) {
    const uint64_t docs = p->docs.load(), bytes = p->bytes.load();
    const int done = p->ranges_done.load();
    const bool finished = done == p->ranges_total;
    const uint64_t est = std::max<uint64_t>(p->estimated_docs, docs);
    const double frac = finished ? 1.0 : est ? std::min(0.99, static_cast<double>(docs) / est) : 0.0;
    const double rate = docs / secs;
    std::ostringstream l;
    if (opts_.progress_bars) {
      const int width = 24, fill = static_cast<int>(frac * width);
      l << std::left << std::setw(28) << p->ns.substr(0, 27) << " [" << std::string(fill, '#')
        << std::string(width - fill, '.') << "] ";
    } else {
      if (finished && !final_report && done_reported_.count(p->ns)) continue;
      if (finished) done_reported_.insert(p->ns);
      l << "snapshot: " << p->ns << " ";
    }
    l << std::right << std::setw(3) << static_cast<int>(frac * 100) << "% " << docs << "/" << est
      << " docs, " << HumanBytes(bytes) << ", " << static_cast<uint64_t>(rate) << " docs/s";
    if (finished) {
      l << ", done";
    } else if (rate > 0 && est > docs) {
      l << ", ETA " << HumanSeconds((est - docs) / rate);
    }
    l << " (ranges " << done << "/" << p->ranges_total << ")";
    lines.push_back(l.str());
  }
  if (limit_.limited()) lines.push_back("snapshot: load " + limit_.Describe("docs"));
  if (opts_.progress_bars) {
    if (bar_lines_ > 0) out << "\033[" << bar_lines_ << "A";
    for (const auto& l : lines) out << "\r\033[K" << l << "\n";
    bar_lines_ = static_cast<int>(lines.size());
  } else {
    for (const auto& l : lines) out << l << "\n";
  }
  out.flush();
}

StatusOr<SnapshotResult> Copier::Run() {
  SnapshotResult res;
  for (int ci = 0; ci < state_->collections_size(); ++ci) {
    const auto& c = state_->collections(ci);
    RETURN_IF_ERROR(CopyOptionsFor(ci));
    if (opts_.indexes == "before") RETURN_IF_ERROR(CopyIndexesFor(ci));
    if (claimer_ != nullptr) continue;  // ranges come from the claimer
    bool all_done = true;
    for (int ri = 0; ri < c.ranges_size(); ++ri) {
      ++res.ranges;
      if (c.ranges(ri).done()) {
        ++res.ranges_skipped;
        continue;
      }
      all_done = false;
      queue_.push_back(Task{ci, ri});
    }
    // Finished by an earlier run that stopped before its indexes.
    if (all_done && opts_.indexes == "after") RETURN_IF_ERROR(CopyIndexesFor(ci));
  }
  RETURN_IF_ERROR(SaveState());
  // Largest collections first, so the long ones start early; ranges of one collection
  // interleave with others (the queue is in collection order, range by range).
  std::vector<std::thread> workers;
  const int n = claimer_ != nullptr ? std::max(1, opts_.parallel)
                                    : std::max(1, std::min<int>(opts_.parallel, static_cast<int>(queue_.size())));
  for (int i = 0; i < n; ++i) workers.emplace_back([this] { Worker(); });
  const int64_t tick = opts_.progress_bars ? 500 : opts_.progress_interval_ms;
  int64_t next_report = NowMs() + tick;
  for (;;) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, std::chrono::milliseconds(200));
    const bool over = claimer_ != nullptr ? exited_ == n
                                          : (queue_.empty() && active_ == 0) || !error_.ok() ||
                                                (Stopped(opts_) && active_ == 0);
    if (over) break;
    if (NowMs() >= next_report) {
      l.unlock();
      Report(false);
      next_report = NowMs() + tick;
    }
  }
  for (auto& w : workers) w.join();
  Report(true);
  RETURN_IF_ERROR(error_);
  if (Stopped(opts_)) return Status::Aborted("snapshot stopped; run it again to continue");
  res.collections = state_->collections_size();
  res.docs = docs_this_run_;
  res.bytes = bytes_this_run_;
  res.docs_rejected = rejected_;
  res.rejected_indexes = rejected_indexes_;
  res.indexes_created = indexes_created_;
  res.load = limit_.Describe("docs");
  res.throttled = throttled_;
  return res;
}

// The plan: every selected collection with its ranges (the source's), each target
// collection empty (or emptied on request).
Status Plan(const SnapshotOptions& opts, SnapshotSource* src, mongoc_client_pool_t* dst,
            const apply::NamespaceMap& map, pb::SnapshotState* state) {
  RETURN_IF_ERROR(src->Plan(opts, map, state));
  mongo::PooledClient d(dst);
  std::vector<std::string> nonempty;
  for (const pb::SnapshotCollection& c : state->collections()) {
    const std::string& tdb = c.target_db();
    const std::string& tcoll = c.target_coll();
    // The target side must start empty (or be emptied on request).
    mongo::CollPtr out(mongoc_client_get_collection(d.get(), tdb.c_str(), tcoll.c_str()));
    bson_error_t err;
    BsonPtr empty(bson_new());
    BsonPtr one(BCON_NEW("limit", BCON_INT64(1)));
    int64_t n = mongoc_collection_count_documents(out.get(), empty.get(), one.get(), nullptr, nullptr, &err);
    if (n < 0) return mongo::FromBsonError(err, "counting " + tdb + "." + tcoll + " on the target");
    if (n > 0) {
      if (opts.drop_target) {
        if (!mongoc_collection_drop(out.get(), &err)) {
          return mongo::FromBsonError(err, "dropping " + tdb + "." + tcoll + " on the target");
        }
        LOG(WARNING) << "snapshot: dropped the target collection " << tdb << "." << tcoll
                     << " (--drop_target)";
      } else if (!opts.allow_nonempty_target) {
        nonempty.push_back(tdb + "." + tcoll);
      }
    }
  }
  if (!nonempty.empty()) {
    std::string list;
    for (size_t i = 0; i < nonempty.size() && i < 5; ++i) list += (i ? ", " : "") + nonempty[i];
    if (nonempty.size() > 5) list += ", ... (" + std::to_string(nonempty.size()) + " in all)";
    return Status::FailedPrecondition(
        "target collections already hold documents: " + list +
        "; a snapshot copies into empty collections. Use --drop_target to drop them first, "
        "or --allow_nonempty_target to keep what is there (documents already on the target "
        "with the same _id are left as they are)");
  }
  // Largest first: the long copies start early.
  std::stable_sort(state->mutable_collections()->begin(), state->mutable_collections()->end(),
                   [](const pb::SnapshotCollection& a, const pb::SnapshotCollection& b) {
                     return a.estimated_docs() > b.estimated_docs();
                   });
  return Status::OK();
}

}  // namespace

namespace internal {

Status PlanSnapshot(const SnapshotOptions& opts, SnapshotSource* src, mongoc_client_pool_t* dst,
                    const apply::NamespaceMap& map, pb::SnapshotState* state) {
  return Plan(opts, src, dst, map, state);
}

StatusOr<SnapshotResult> CopyClaimedRanges(const SnapshotOptions& opts, SnapshotSource* src,
                                           mongoc_client_pool_t* dst, pb::SnapshotState* plan,
                                           spool::DeadLetterWriter* dlq, const apply::Transforms* transforms,
                                           RangeClaimer* claimer) {
  Copier copier(opts, Env::Default(), src, dst, plan, dlq, transforms);
  copier.set_claimer(claimer);
  return copier.Run();
}

}  // namespace internal

StatusOr<std::unique_ptr<SnapshotSource>> NewSnapshotSource(const SnapshotOptions& opts) {
  if (aws::IsDynamoUri(opts.source_uri)) return NewDynamoSnapshotSource(opts);
  return NewMongoSnapshotSource(opts);
}

StatusOr<SnapshotResult> RunSnapshot(const SnapshotOptions& opts) {
  Env* env = Env::Default();
  const int64_t t0 = NowMs();
  if (opts.source_uri.empty()) return Status::InvalidArgument("--source is required: the source's connection string");
  if (opts.target_uri.empty()) return Status::InvalidArgument("--target is required: the target's connection string");
  if (opts.spool_dir.empty()) {
    return Status::InvalidArgument("--spool is required: the spool `docshift capture` writes, so "
                                   "that changes made during the copy are replayed");
  }
  if (opts.indexes != "before" && opts.indexes != "after" && opts.indexes != "none") {
    return Status::InvalidArgument("--indexes '" + opts.indexes + "' is not one of before, after, none");
  }
  if (!aws::ParseNumberMode(opts.dynamodb_numbers).ok() || opts.dynamodb_numbers.empty()) {
    return Status::InvalidArgument("--dynamodb_numbers '" + opts.dynamodb_numbers +
                                   "' is not one of decimal, string, double");
  }
  if (opts.parallel < 1 || opts.parallel > 64) return Status::InvalidArgument("--parallel must be between 1 and 64");
  if (opts.batch_docs < 1) return Status::InvalidArgument("--batch_docs must be at least 1");
  if (opts.docs_per_range < 1) return Status::InvalidArgument("--docs_per_range must be at least 1");
  apply::NamespaceMap map;
  for (const auto& m : opts.maps) RETURN_IF_ERROR(map.Add(m));

  std::optional<apply::Transforms> transforms;
  if (!opts.transforms_file.empty()) {
    ASSIGN_OR_RETURN(transforms, apply::Transforms::Load(opts.transforms_file));
  }
  // The spool: capture must have recorded its start position, or changes made while we
  // copy could be missed.
  spool::SpoolView view;
  Status vs = spool::OpenSpoolView(env, opts.spool_dir, &view);
  if (vs.IsNotFound()) {
    return Status::FailedPrecondition(
        "no spool at " + opts.spool_dir + ": start `docshift capture --spool " + opts.spool_dir +
        "` first and wait for \"capture: ready\", so changes made during the copy are captured");
  }
  RETURN_IF_ERROR(vs);
  ASSIGN_OR_RETURN(std::unique_ptr<SnapshotSource> src, NewSnapshotSource(opts));
  if (opts.max_rcu > 0 && !aws::IsDynamoUri(opts.source_uri)) {
    LOG(WARNING) << "snapshot: --max_rcu limits DynamoDB sources only; ignored";
  }
  ASSIGN_OR_RETURN(auto dst_uri, mongo::ParseUri(opts.target_uri, "--target"));
  const auto& created = view.manifest.created;
  const std::string source_id = src->Identity(created.source_kind());
  if (source_id != created.source_id()) {
    return Status::FailedPrecondition("the spool " + opts.spool_dir + " captures " +
                                      created.source_id() + ", not the --source " + source_id +
                                      "; point --source at the server capture reads");
  }
  if (aws::IsDynamoUri(opts.source_uri)) {
    // The copy and the replayed changes must convert numbers alike: the spool's events
    // were converted with the mode capture recorded.
    const std::string recorded = created.dynamodb_numbers().empty() ? "decimal" : created.dynamodb_numbers();
    if (recorded != opts.dynamodb_numbers) {
      return Status::FailedPrecondition("the spool " + opts.spool_dir + " was captured with --dynamodb_numbers=" +
                                        recorded + ", not " + opts.dynamodb_numbers +
                                        "; give snapshot the mode capture runs with");
    }
  }
  const std::string target_id = mongo::EndpointIdentity(dst_uri.get(), "mongo");
  ASSIGN_OR_RETURN(auto dst, mongo::NewPool(dst_uri.get(), opts.parallel + 2));
  RETURN_IF_ERROR(src->Check());
  {
    mongo::PooledClient d(dst.get());
    RETURN_IF_ERROR(mongo::PingAtStart(d.get(), "target " + mongo::RedactUri(opts.target_uri)));
  }

  SnapshotResult res;
  pb::SnapshotState state;
  Status ss = spool::ReadSnapshotState(env, opts.spool_dir, &state);
  if (!ss.ok() && !ss.IsNotFound()) return ss;
  bool fresh = ss.IsNotFound() || opts.restart;
  if (!fresh) {
    if (state.target_id() != target_id) {
      return Status::FailedPrecondition(
          "the snapshot in " + opts.spool_dir + " copies to " + state.target_id() + ", not " +
          target_id + "; use the same --target, or --restart to start a new snapshot");
    }
    if (state.finished_wall_ms() != 0) {
      res.snapshot_id = state.snapshot_id();
      res.start_seq = state.start_seq();
      res.already_finished = true;
      res.collections = state.collections_size();
      return res;
    }
    res.resumed = true;
    LOG(INFO) << "snapshot: resuming " << state.snapshot_id() << " (started "
              << state.started_wall_ms() << "), start_seq " << state.start_seq();
  }
  if (fresh) {
    if (std::string a = RunningApply(env, opts.spool_dir); !a.empty()) {
      return Status::FailedPrecondition(
          "apply " + a + " is running on " + opts.spool_dir + "; stop it before starting a "
          "snapshot (started again afterwards, it waits for the snapshot and replays every "
          "change from its start)");
    }
    int pid = 0;
    if (!CaptureRunning(env, opts.spool_dir, &pid)) {
      LOG(WARNING) << "snapshot: no capture is running on " << opts.spool_dir
                   << "; changes are replayed only once it runs again (it resumes where it "
                   << "stopped, if the source still holds that position)";
    }
    ASSIGN_OR_RETURN(spool::SpoolEnd end, spool::ReadSpoolEnd(env, opts.spool_dir));
    if (!end.has_position) {
      return Status::FailedPrecondition(
          "capture has not recorded its start position in " + opts.spool_dir +
          " yet; wait for \"capture: ready\" in its log, then start the snapshot");
    }
    state.Clear();
    state.set_snapshot_id(NewSnapshotId(t0));
    state.set_source_id(source_id);
    state.set_target_id(target_id);
    // Everything before next_seq was durable before any document is read.
    state.set_start_seq(end.next_seq - 1);
    state.set_started_wall_ms(t0);
    state.set_indexes_mode(opts.indexes);
    RETURN_IF_ERROR(Plan(opts, src.get(), dst.get(), map, &state));
    LOG(INFO) << "snapshot: " << state.snapshot_id() << " starts after spool sequence "
              << state.start_seq() << "; apply will replay from " << state.start_seq() + 1;
  }
  spool::DeadLetterWriter dlq(env, opts.spool_dir, kDeadLetterName);
  RETURN_IF_ERROR(dlq.Open());
  Copier copier(opts, env, src.get(), dst.get(), &state, &dlq, transforms ? &*transforms : nullptr);
  ASSIGN_OR_RETURN(SnapshotResult run, copier.Run());
  run.snapshot_id = state.snapshot_id();
  run.start_seq = state.start_seq();
  run.resumed = res.resumed;
  state.set_finished_wall_ms(NowMs());
  state.set_updated_wall_ms(state.finished_wall_ms());
  RETURN_IF_ERROR(spool::WriteSnapshotState(env, opts.spool_dir, state));
  run.elapsed_ms = NowMs() - t0;
  for (const auto& r : state.rejected_indexes()) {
    if (std::find(run.rejected_indexes.begin(), run.rejected_indexes.end(), r) == run.rejected_indexes.end()) {
      run.rejected_indexes.push_back(r);
    }
  }
  return run;
}

}  // namespace docshift::snapshot
