#include "snapshot/bucket_snapshot.h"

#include <glog/logging.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <optional>
#include <thread>

#include "apply/transform.h"
#include "apply/translate.h"
#include "aws/dynamodb_types.h"
#include "aws/dynamodb_uri.h"
#include "aws/s3_client.h"
#include "bucket/checkpoint_store.h"
#include "bucket/log.h"
#include "bucket/shipper.h"
#include "mongo/mongo_util.h"
#include "snapshot/snapshot_internal.h"
#include "snapshot/source.h"
#include "spool/checkpoint.h"
#include "spool/dead_letter.h"
#include "spool/format.h"
#include "util/backoff.h"
#include "util/duration.h"
#include "util/env.h"

namespace docshift::snapshot {

namespace {

constexpr char kPlanClaimId[] = "plan";  // claims/plan: who plans (never a range id)

bool Lost(const aws::S3Error& err, const aws::PutOptions& po) {
  // If-Match on a key that is gone: S3 says 404, gofakes3 412. Both: not current.
  return err.kind == aws::S3ErrorKind::kPreconditionFailed ||
         (err.kind == aws::S3ErrorKind::kNotFound && po.condition == aws::PutOptions::Condition::kIfMatch &&
          err.code != "NoSuchBucket");
}

bool StoppedFlag(const std::atomic<bool>* stop) { return stop != nullptr && stop->load(); }

}  // namespace

BucketSnapshotStore::BucketSnapshotStore(std::unique_ptr<aws::S3Client> s3, bucket::BucketLocation loc,
                                         WorkerIdentity me)
    : s3_(std::move(s3)), loc_(std::move(loc)), me_(std::move(me)) {}
BucketSnapshotStore::~BucketSnapshotStore() = default;

std::string BucketSnapshotStore::Key(const std::string& name) const { return loc_.Key("snapshot/" + name); }

Status BucketSnapshotStore::ReadPlan(pb::SnapshotState* plan) {
  std::lock_guard<std::mutex> l(mu_);
  aws::S3Error err;
  auto got = s3_->GetObject(loc_.bucket, Key("PLAN"), {}, &err);
  if (!got.ok()) {
    if (err.kind == aws::S3ErrorKind::kNotFound && err.code != "NoSuchBucket") {
      return Status::NotFound(loc_.Url("snapshot/PLAN"));
    }
    return got.status();
  }
  RETURN_IF_ERROR(spool::DecodeStateFile(got->body, loc_.Url("snapshot/PLAN"), spool::kSnapshotMagic,
                                         spool::kRecordSnapshotState, plan));
  snapshot_id_ = plan->snapshot_id();
  return Status::OK();
}

Status BucketSnapshotStore::CreatePlan(pb::SnapshotState* plan, bool* won) {
  {
    std::lock_guard<std::mutex> l(mu_);
    const std::string body = bucket::EncodeStateObject(spool::kSnapshotMagic, spool::kRecordSnapshotState, *plan);
    aws::S3Error err;
    auto put = s3_->CreateObject(loc_.bucket, Key("PLAN"), body, me_.id + ".plan", &err);
    *won = put.ok();
    if (put.ok()) {
      snapshot_id_ = plan->snapshot_id();
      return Status::OK();
    }
    if (err.kind != aws::S3ErrorKind::kPreconditionFailed) return put.status();
  }
  return ReadPlan(plan);
}

Status BucketSnapshotStore::ReadState(pb::SnapshotState* state, std::string* etag) {
  std::lock_guard<std::mutex> l(mu_);
  aws::S3Error err;
  auto got = s3_->GetObject(loc_.bucket, loc_.SnapshotStateKey(), {}, &err);
  if (!got.ok()) {
    if (err.kind == aws::S3ErrorKind::kNotFound && err.code != "NoSuchBucket") {
      return Status::NotFound(loc_.Url("snapshot/STATE"));
    }
    return got.status();
  }
  if (etag != nullptr) *etag = got->info.etag;
  return spool::DecodeStateFile(got->body, loc_.Url("snapshot/STATE"), spool::kSnapshotMagic,
                                spool::kRecordSnapshotState, state);
}

Status BucketSnapshotStore::EnsureStateStarted(const pb::SnapshotState& plan) {
  pb::SnapshotState cur;
  Status s = ReadState(&cur, nullptr);
  if (s.IsNotFound()) {
    pb::SnapshotState st = plan;
    st.set_updated_wall_ms(NowMs());
    std::lock_guard<std::mutex> l(mu_);
    const std::string body = bucket::EncodeStateObject(spool::kSnapshotMagic, spool::kRecordSnapshotState, st);
    aws::S3Error err;
    auto put = s3_->CreateObject(loc_.bucket, loc_.SnapshotStateKey(), body, me_.id + ".state", &err);
    if (put.ok()) return Status::OK();
    if (err.kind != aws::S3ErrorKind::kPreconditionFailed) return put.status();
    // Another worker created it meanwhile: check whose below.
  } else if (!s.ok()) {
    return s;
  }
  RETURN_IF_ERROR(ReadState(&cur, nullptr));
  if (cur.snapshot_id() != plan.snapshot_id()) {
    return Status::FailedPrecondition(
        loc_.Url("snapshot/STATE") + " belongs to snapshot " + cur.snapshot_id() + ", not to this prefix's PLAN (" +
        plan.snapshot_id() + "): a local `docshift snapshot` shipped its state here. Run the snapshot one way "
        "or the other: locally on the capture machine, or from the bucket, not both");
  }
  return Status::OK();
}

Status BucketSnapshotStore::FinishState(const pb::SnapshotState& plan, const std::vector<std::string>& rejected) {
  pb::SnapshotState cur;
  std::string etag;
  RETURN_IF_ERROR(ReadState(&cur, &etag));
  if (cur.snapshot_id() != plan.snapshot_id()) {
    return Status::FailedPrecondition(loc_.Url("snapshot/STATE") + " now belongs to snapshot " + cur.snapshot_id() +
                                      ", not " + plan.snapshot_id() + "; not marking it finished");
  }
  if (cur.finished_wall_ms() != 0) return Status::OK();  // another finisher was first
  for (const auto& r : rejected) cur.add_rejected_indexes(r);
  // Every range is done: STATE says so too, for `status` and inspect.
  for (auto& c : *cur.mutable_collections()) {
    for (auto& r : *c.mutable_ranges()) r.set_done(true);
  }
  cur.set_finished_wall_ms(NowMs());
  cur.set_updated_wall_ms(cur.finished_wall_ms());
  std::lock_guard<std::mutex> l(mu_);
  aws::PutOptions po;
  po.condition = aws::PutOptions::Condition::kIfMatch;
  po.if_match_etag = etag;
  po.writer_id = me_.id + ".finish." + std::to_string(++attempts_);
  aws::S3Error err;
  const std::string body = bucket::EncodeStateObject(spool::kSnapshotMagic, spool::kRecordSnapshotState, cur);
  auto put = s3_->PutObject(loc_.bucket, loc_.SnapshotStateKey(), body, po, &err);
  if (!put.ok() && Lost(err, po)) {
    return Status::FailedPrecondition(loc_.Url("snapshot/STATE") + " changed while this worker finished the "
                                      "snapshot; another worker finishes it");
  }
  return put.status();
}

Status BucketSnapshotStore::PutClaimLocked(const std::string& key, const pb::SnapshotClaim& c,
                                           const std::string& if_match, std::string* etag) {
  aws::PutOptions po;
  po.condition = if_match.empty() ? aws::PutOptions::Condition::kIfNoneMatch : aws::PutOptions::Condition::kIfMatch;
  po.if_match_etag = if_match;
  // Unique per attempt (aws/s3_client.h): a lost response to this very write resolves as ours.
  po.writer_id = me_.id + "." + std::to_string(++attempts_);
  const std::string body = bucket::EncodeStateObject(spool::kSnapshotClaimMagic, spool::kRecordSnapshotClaim, c);
  aws::S3Error err;
  auto put = s3_->PutObject(loc_.bucket, key, body, po, &err);
  if (!put.ok()) {
    if (Lost(err, po)) {
      return Status::FailedPrecondition("s3://" + loc_.bucket + "/" + key + ": another worker holds it");
    }
    return put.status();
  }
  *etag = put->etag;
  return Status::OK();
}

StatusOr<ClaimsView> BucketSnapshotStore::ReadClaims() {
  std::lock_guard<std::mutex> l(mu_);
  ClaimsView view;
  for (const char* dir : {"claims/", "done/"}) {
    const bool done = std::string(dir) == "done/";
    aws::ListOptions lo;
    lo.prefix = Key(dir);
    ASSIGN_OR_RETURN(auto objs, s3_->ListObjectsV2(loc_.bucket, lo));
    for (const auto& o : objs) {
      const std::string id = o.key.substr(lo.prefix.size());
      if (done) {
        auto it = done_.find(id);
        if (it == done_.end()) {
          aws::S3Error err;
          auto got = s3_->GetObject(loc_.bucket, o.key, {}, &err);
          if (!got.ok()) return got.status();
          pb::SnapshotClaim d;
          RETURN_IF_ERROR(spool::DecodeStateFile(got->body, "s3://" + loc_.bucket + "/" + o.key,
                                                 spool::kSnapshotClaimMagic, spool::kRecordSnapshotClaim, &d));
          if (!snapshot_id_.empty() && d.snapshot_id() != snapshot_id_) continue;  // another plan's
          it = done_.emplace(id, d).first;
        }
        view.done[id] = it->second;
        continue;
      }
      auto s = seen_.find(o.key);
      if (s == seen_.end() || s->second.first != o.etag) {
        aws::S3Error err;
        auto got = s3_->GetObject(loc_.bucket, o.key, {}, &err);
        if (!got.ok()) {
          if (err.kind == aws::S3ErrorKind::kNotFound) continue;
          return got.status();
        }
        pb::SnapshotClaim c;
        RETURN_IF_ERROR(spool::DecodeStateFile(got->body, "s3://" + loc_.bucket + "/" + o.key,
                                               spool::kSnapshotClaimMagic, spool::kRecordSnapshotClaim, &c));
        seen_[o.key] = {got->info.etag, ClaimSeen{c.writer_id(), c.updated_wall_ms(), got->info.etag}};
        s = seen_.find(o.key);
      }
      view.claims[id] = s->second.second;
    }
  }
  return view;
}

// A claim (or done) record of range_id by this worker at now_ms.
pb::SnapshotClaim BucketSnapshotStore::ClaimRecord(const std::string& range_id, int64_t now_ms) const {
  pb::SnapshotClaim c;
  c.set_snapshot_id(snapshot_id_);
  c.set_range_id(range_id);
  c.set_writer_id(me_.id);
  c.set_writer_host(me_.host);
  c.set_writer_pid(me_.pid);
  c.set_updated_wall_ms(now_ms);
  return c;
}

Status BucketSnapshotStore::Claim(const std::string& range_id, const std::string& etag, int64_t now_ms) {
  std::lock_guard<std::mutex> l(mu_);
  pb::SnapshotClaim c = ClaimRecord(range_id, now_ms);
  std::string new_etag;
  RETURN_IF_ERROR(PutClaimLocked(Key("claims/" + range_id), c, etag, &new_etag));
  held_[range_id] = new_etag;
  return Status::OK();
}

Status BucketSnapshotStore::Renew(const std::string& range_id, int64_t now_ms) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = held_.find(range_id);
  if (it == held_.end()) return Status::OK();
  pb::SnapshotClaim c = ClaimRecord(range_id, now_ms);
  std::string new_etag;
  Status s = PutClaimLocked(Key("claims/" + range_id), c, it->second, &new_etag);
  if (s.IsFailedPrecondition()) {
    held_.erase(it);
    return Status::FailedPrecondition("range " + range_id + " of the snapshot in " + loc_.ToString() +
                                      " was taken over by another worker");
  }
  RETURN_IF_ERROR(s);
  it->second = new_etag;
  return Status::OK();
}

Status BucketSnapshotStore::MarkDone(const std::string& range_id, uint64_t docs, uint64_t bytes, int64_t now_ms) {
  std::lock_guard<std::mutex> l(mu_);
  pb::SnapshotClaim d = ClaimRecord(range_id, now_ms);
  d.set_docs(docs);
  d.set_bytes(bytes);
  const std::string body = bucket::EncodeStateObject(spool::kSnapshotClaimMagic, spool::kRecordSnapshotClaim, d);
  aws::S3Error err;
  auto put = s3_->CreateObject(loc_.bucket, Key("done/" + range_id), body, me_.id + ".done." + range_id, &err);
  // Done by another worker as well (it took the range over while this one finished): fine.
  if (!put.ok() && err.kind != aws::S3ErrorKind::kPreconditionFailed) return put.status();
  held_.erase(range_id);
  return Status::OK();
}

void BucketSnapshotStore::Release(const std::string& range_id) {
  std::lock_guard<std::mutex> l(mu_);
  held_.erase(range_id);
}

std::set<std::string> BucketSnapshotStore::Held() {
  std::lock_guard<std::mutex> l(mu_);
  std::set<std::string> out;
  for (const auto& [id, etag] : held_) out.insert(id);
  return out;
}

Status BucketSnapshotStore::PutFile(const std::string& name, const std::string& body) {
  std::lock_guard<std::mutex> l(mu_);
  aws::PutOptions po;
  po.writer_id = me_.id + "." + std::to_string(++attempts_);
  return s3_->PutObject(loc_.bucket, loc_.Key(name), body, po).status();
}

StatusOr<SnapshotProgress> ReadBucketSnapshotProgress(BucketSnapshotStore* store, int64_t lease_ms) {
  pb::SnapshotState plan;
  RETURN_IF_ERROR(store->ReadPlan(&plan));
  ASSIGN_OR_RETURN(ClaimsView view, store->ReadClaims());
  return ComputeProgress(plan, view, NowMs(), lease_ms);
}

namespace {

// Renews this worker's claims every lease/3 and logs the whole snapshot's progress, on a
// thread of its own; lost claims are remembered for Held().
class Claimer final : public RangeClaimer {
 public:
  Claimer(BucketSnapshotStore* store, const pb::SnapshotState* plan, const SnapshotOptions& opts,
          const BucketSnapshotOptions& b, Env* env, std::string dlq_path)
      : store_(store), plan_(plan), opts_(opts), b_(b), env_(env), dlq_path_(std::move(dlq_path)),
        ids_() {}
  // Once the plan is known (read or made).
  void SetPlan() { ids_ = PlanRangeIds(*plan_); }
  ~Claimer() override { StopHeart(); }

  void StartHeart() {
    if (heart_.joinable()) return;
    heart_ = std::thread([this] { Heart(); });
  }
  void StopHeart() {
    {
      std::lock_guard<std::mutex> l(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    if (heart_.joinable()) heart_.join();
  }

  StatusOr<bool> Next(int* coll, int* range) override {
    for (;;) {
      if (StoppedFlag(opts_.stop) || aborted_) return false;
      ASSIGN_OR_RETURN(ClaimsView view, store_->ReadClaims());
      const std::set<std::string> skip = store_->Held();
      NextRange n = ChooseNextRange(ids_, view, store_->me().id, NowMs(), b_.lease_ms, skip);
      if (n.kind == NextRange::Kind::kAllDone || n.range_id == kFinishRangeId) return false;
      if (n.kind == NextRange::Kind::kWait) {
        // Every range left is held by a live worker: one of them may die.
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait_for(l, std::chrono::milliseconds(b_.poll_ms), [this] { return quit_ || aborted_.load(); });
        continue;
      }
      Status s = store_->Claim(n.range_id, n.etag, NowMs());
      if (s.IsFailedPrecondition()) continue;  // another worker was first: pick again
      RETURN_IF_ERROR(s);
      if (n.kind == NextRange::Kind::kTakeOver) {
        LOG(WARNING) << "snapshot: took over range " << n.range_id << " from worker " << n.from_holder
                     << ", silent for over " << b_.lease_ms / 1000.0 << " s";
        takeovers_++;
      }
      {
        std::lock_guard<std::mutex> l(mu_);
        lost_.erase(n.range_id);
        renewed_ms_[n.range_id] = NowMs();
      }
      ParseRangeId(n.range_id, coll, range);
      return true;
    }
  }

  // Not lost, and renewed within the lease by this worker's clock: a worker cut off from
  // the bucket stops writing before another may take the range over.
  bool Held(int coll, int range) override {
    const std::string id = RangeId(coll, range);
    std::lock_guard<std::mutex> l(mu_);
    if (lost_.count(id)) return false;
    auto it = renewed_ms_.find(id);
    if (it == renewed_ms_.end() || NowMs() - it->second < b_.lease_ms) return true;
    // Its lease ran out here: stop renewing it too, so it can be taken over (by this
    // worker as well, once it reads the claims again).
    LOG(WARNING) << "snapshot: the claim on range " << id << " was not renewed for " << b_.lease_ms
                 << " ms; this worker stops copying it";
    lost_.insert(id);
    store_->Release(id);
    return false;
  }

  Status Done(int coll, int range, uint64_t docs, uint64_t bytes) override {
    RETURN_IF_ERROR(UploadDeadLetters());
    return store_->MarkDone(RangeId(coll, range), docs, bytes, NowMs());
  }

  void Abort() override {
    aborted_ = true;
    cv_.notify_all();
  }
  int takeovers() const { return takeovers_; }

  // The dead letters this worker wrote, to deadletter/snapshot-<worker id>.dlq, when they
  // changed: before a range they belong to is marked done.
  Status UploadDeadLetters() {
    std::lock_guard<std::mutex> l(dlq_mu_);
    if (!env_->FileExists(dlq_path_)) return Status::OK();
    ASSIGN_OR_RETURN(uint64_t size, env_->GetFileSize(dlq_path_));
    if (size == dlq_uploaded_) return Status::OK();
    std::string body;
    RETURN_IF_ERROR(env_->ReadFileToString(dlq_path_, &body, 1ull << 30));
    RETURN_IF_ERROR(store_->PutFile("deadletter/snapshot-" + store_->me().id + ".dlq", body));
    dlq_uploaded_ = body.size();
    return Status::OK();
  }

  void LogProgress() {
    auto p = ReadBucketSnapshotProgress(store_, b_.lease_ms);
    if (p.status().IsNotFound()) return;  // still planning
    if (!p.ok()) {
      LOG(WARNING) << "snapshot: cannot read the snapshot's progress: " << p.status().ToString();
      return;
    }
    if (opts_.progress_out != nullptr) {
      *opts_.progress_out << "snapshot: " << p->ToString() << std::endl;
    }
  }

 private:
  void Heart() {
    const int64_t renew_every = std::max<int64_t>(b_.lease_ms / 3, 1);
    int64_t next_report = NowMs() + opts_.progress_interval_ms;
    std::unique_lock<std::mutex> l(mu_);
    while (!quit_) {
      cv_.wait_for(l, std::chrono::milliseconds(renew_every), [this] { return quit_; });
      if (quit_) break;
      l.unlock();
      if (!aborted_) {
        for (const auto& id : store_->Held()) {
          const int64_t at = NowMs();
          Status s = store_->Renew(id, at);
          if (s.ok()) {
            std::lock_guard<std::mutex> g(mu_);
            renewed_ms_[id] = at;
          } else if (s.IsFailedPrecondition()) {
            LOG(WARNING) << "snapshot: " << s.message() << "; this worker stops copying it";
            std::lock_guard<std::mutex> g(mu_);
            lost_.insert(id);
          } else if (!s.ok()) {
            LOG(WARNING) << "snapshot: renewing the claim on range " << id << ": " << s.ToString()
                         << "; trying again in " << renew_every << " ms";
          }
        }
      }
      if (NowMs() >= next_report) {
        LogProgress();
        next_report = NowMs() + opts_.progress_interval_ms;
      }
      l.lock();
    }
  }

  BucketSnapshotStore* store_;
  const pb::SnapshotState* plan_;
  const SnapshotOptions& opts_;
  const BucketSnapshotOptions& b_;
  Env* env_;
  std::string dlq_path_;
  std::vector<std::string> ids_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool quit_ = false;
  std::set<std::string> lost_;  // guarded by mu_
  std::map<std::string, int64_t> renewed_ms_;  // range id -> last claim or renewal; guarded by mu_
  std::atomic<bool> aborted_{false};
  std::atomic<int> takeovers_{0};
  std::thread heart_;
  std::mutex dlq_mu_;
  uint64_t dlq_uploaded_ = 0;
};

// Waits for the PLAN, or plans (holding claims/plan) when there is none.
Status GetOrMakePlan(BucketSnapshotStore* store, Claimer* claimer, const SnapshotOptions& opts,
                     const BucketSnapshotOptions& b, const std::function<Status(pb::SnapshotState*)>& plan_fn,
                     pb::SnapshotState* plan, bool* planned) {
  *planned = false;
  for (;;) {
    if (StoppedFlag(opts.stop)) return Status::Aborted("snapshot stopped");
    Status s = store->ReadPlan(plan);
    if (s.ok()) return Status::OK();
    if (!s.IsNotFound()) return s;
    pb::SnapshotState st;
    Status ss = store->ReadState(&st, nullptr);
    if (ss.ok()) {
      return Status::FailedPrecondition(
          store->location().Url("snapshot/STATE") + " exists without a snapshot/PLAN: a local `docshift snapshot` "
          "(snapshot " + st.snapshot_id() + ") ships its state to this prefix. Run the snapshot one way or the "
          "other: locally on the capture machine, or from the bucket, not both");
    }
    if (!ss.IsNotFound()) return ss;
    ASSIGN_OR_RETURN(ClaimsView view, store->ReadClaims());
    auto it = view.claims.find(kPlanClaimId);
    std::string etag;
    if (it != view.claims.end()) {
      if (it->second.holder != store->me().id && !LeaseExpired(it->second, NowMs(), b.lease_ms)) {
        SleepUnlessStopped(b.poll_ms, opts.stop);  // another worker is planning
        continue;
      }
      etag = it->second.etag;
    }
    Status c = store->Claim(kPlanClaimId, etag, NowMs());
    if (c.IsFailedPrecondition()) continue;
    RETURN_IF_ERROR(c);
    claimer->StartHeart();  // renews claims/plan while the source is split
    RETURN_IF_ERROR(plan_fn(plan));
    bool won = false;
    RETURN_IF_ERROR(store->CreatePlan(plan, &won));
    *planned = won;
    RETURN_IF_ERROR(store->MarkDone(kPlanClaimId, 0, 0, NowMs()));
    return Status::OK();
  }
}

}  // namespace

StatusOr<BucketSnapshotResult> RunBucketSnapshot(const SnapshotOptions& opts_in, const BucketSnapshotOptions& b) {
  Env* env = Env::Default();
  const int64_t t0 = NowMs();
  SnapshotOptions opts = opts_in;
  if (b.lease_ms < 100) return Status::InvalidArgument("--snapshot_lease must be at least 100ms");
  WorkerIdentity me{bucket::NewWriterId(), bucket::HostName(), static_cast<int64_t>(getpid())};
  ASSIGN_OR_RETURN(auto s3, b.new_s3());
  BucketSnapshotStore store(std::move(s3), b.loc, me);
  BucketSnapshotResult res;
  res.worker_id = me.id;
  if (b.progress_only) {
    ASSIGN_OR_RETURN(res.whole, ReadBucketSnapshotProgress(&store, b.lease_ms));
    return res;
  }
  if (opts.source_uri.empty()) return Status::InvalidArgument("--source is required: the source's connection string");
  if (opts.target_uri.empty()) return Status::InvalidArgument("--target is required: the target's connection string");
  if (opts.indexes != "before" && opts.indexes != "after" && opts.indexes != "none") {
    return Status::InvalidArgument("--indexes '" + opts.indexes + "' is not one of before, after, none");
  }
  if (opts.parallel < 1 || opts.parallel > 64) return Status::InvalidArgument("--parallel must be between 1 and 64");
  if (opts.batch_docs < 1) return Status::InvalidArgument("--batch_docs must be at least 1");
  if (opts.docs_per_range < 1) return Status::InvalidArgument("--docs_per_range must be at least 1");
  if (opts.restart) {
    return Status::InvalidArgument("--restart is for a local spool; a snapshot in a bucket starts over in a "
                                   "fresh prefix");
  }
  apply::NamespaceMap map;
  for (const auto& m : opts.maps) RETURN_IF_ERROR(map.Add(m));
  std::optional<apply::Transforms> transforms;
  if (!opts.transforms_file.empty()) {
    ASSIGN_OR_RETURN(transforms, apply::Transforms::Load(opts.transforms_file));
  }

  // The spool in the bucket: its commit log names the source and where it ends.
  ASSIGN_OR_RETURN(auto log_s3, b.new_s3());
  bucket::BucketLog log(log_s3.get(), b.loc);
  bucket::LogState ls;
  RETURN_IF_ERROR(log.Refresh(&ls).WithContext("reading the commit log of " + b.loc.ToString()));
  if (ls.last_number == 0) {
    return Status::FailedPrecondition("no spool in " + b.loc.ToString() + ": start `docshift capture` and `docshift "
                                      "ship --to " + b.loc.ToString() + "` first, and wait for \"capture: ready\"");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<SnapshotSource> src, NewSnapshotSource(opts));
  const std::string source_id = src->Identity(ls.created.source_kind());
  if (source_id != ls.created.source_id()) {
    return Status::FailedPrecondition("the spool " + b.loc.ToString() + " captures " + ls.created.source_id() +
                                      ", not the --source " + source_id + "; point --source at the server capture reads");
  }
  if (aws::IsDynamoUri(opts.source_uri)) {
    const std::string recorded = ls.created.dynamodb_numbers().empty() ? "decimal" : ls.created.dynamodb_numbers();
    if (recorded != opts.dynamodb_numbers) {
      return Status::FailedPrecondition("the spool " + b.loc.ToString() + " was captured with --dynamodb_numbers=" +
                                        recorded + ", not " + opts.dynamodb_numbers +
                                        "; give snapshot the mode capture runs with");
    }
  }
  ASSIGN_OR_RETURN(auto dst_uri, mongo::ParseUri(opts.target_uri, "--target"));
  const std::string target_id = mongo::EndpointIdentity(dst_uri.get(), "mongo");
  ASSIGN_OR_RETURN(auto dst, mongo::NewPool(dst_uri.get(), opts.parallel + 2));
  RETURN_IF_ERROR(src->Check());
  {
    mongo::PooledClient d(dst.get());
    RETURN_IF_ERROR(mongo::PingAtStart(d.get(), "target " + mongo::RedactUri(opts.target_uri)));
  }

  // Dead letters: a local file of this worker, copied to the bucket before each range it
  // covers is marked done.
  char tmpl[] = "/tmp/docshift-snapshot-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return Status::IOError("cannot create a temporary directory in /tmp");
  const std::string local_dir = tmpl;
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{local_dir};
  spool::DeadLetterWriter dlq(env, local_dir, "snapshot");
  RETURN_IF_ERROR(dlq.Open());

  pb::SnapshotState plan;
  Claimer claimer(&store, &plan, opts, b, env, spool::DeadLetterPath(local_dir, "snapshot"));
  bool planned = false;
  auto plan_fn = [&](pb::SnapshotState* p) -> Status {
    p->Clear();
    char id[64];
    snprintf(id, sizeof(id), "snap-%lld-%s", static_cast<long long>(t0), me.id.substr(0, 8).c_str());
    p->set_snapshot_id(id);
    p->set_source_id(source_id);
    p->set_target_id(target_id);
    // Every event committed in the bucket was captured before any document is read; the
    // local spool may hold later ones not shipped yet, which get higher sequences.
    p->set_start_seq(ls.next_seq - 1);
    p->set_started_wall_ms(NowMs());
    p->set_indexes_mode(opts.indexes);
    return internal::PlanSnapshot(opts, src.get(), dst.get(), map, p);
  };
  RETURN_IF_ERROR(GetOrMakePlan(&store, &claimer, opts, b, plan_fn, &plan, &planned));
  if (plan.target_id() != target_id) {
    return Status::FailedPrecondition("the snapshot in " + b.loc.ToString() + " copies to " + plan.target_id() +
                                      ", not " + target_id + "; give every worker the same --target");
  }
  if (plan.source_id() != source_id) {
    return Status::FailedPrecondition("the snapshot in " + b.loc.ToString() + " copies from " + plan.source_id() +
                                      ", not " + source_id + "; give every worker the same --source");
  }
  // Before any range is copied: an apply on the bucket waits for an unfinished STATE.
  RETURN_IF_ERROR(store.EnsureStateStarted(plan));
  LOG(INFO) << "snapshot: worker " << me.id << " (host " << me.host << ", pid " << me.pid << ") "
            << (planned ? "planned" : "joined") << " snapshot " << plan.snapshot_id() << " in " << b.loc.ToString()
            << ": " << PlanRangeIds(plan).size() << " ranges, start_seq " << plan.start_seq();
  if (opts.progress_out != nullptr) {
    *opts.progress_out << "snapshot: worker " << me.id << (planned ? " planned " : " joined ") << plan.snapshot_id()
                       << " (" << PlanRangeIds(plan).size() << " ranges, apply replays from sequence "
                       << plan.start_seq() + 1 << ")" << std::endl;
  }
  claimer.SetPlan();
  claimer.StartHeart();

  SnapshotOptions copy_opts = opts;
  copy_opts.progress_out = nullptr;  // the whole snapshot's progress comes from the claimer
  const std::vector<std::string> ids = PlanRangeIds(plan);
  for (;;) {
    auto run = internal::CopyClaimedRanges(copy_opts, src.get(), dst.get(), &plan, &dlq,
                                           transforms ? &*transforms : nullptr, &claimer);
    if (!run.ok()) {
      claimer.Abort();
      return run.status();
    }
    res.run.docs += run->docs;
    res.run.bytes += run->bytes;
    res.run.docs_rejected += run->docs_rejected;
    res.run.throttled += run->throttled;
    res.run.load = run->load;
    if (StoppedFlag(opts.stop)) return Status::Aborted("snapshot stopped; run it again to continue");
    // Every range is done or held by another worker: finish, or wait for the others, and
    // copy again only once a range is free or its holder went silent.
    NextRange n;
    for (;;) {
      ASSIGN_OR_RETURN(ClaimsView view, store.ReadClaims());
      n = ChooseNextRange(ids, view, me.id, NowMs(), b.lease_ms, store.Held());
      if (n.kind != NextRange::Kind::kWait) break;
      if (SleepUnlessStopped(b.poll_ms, opts.stop)) return Status::Aborted("snapshot stopped; run it again to continue");
    }
    if (n.kind == NextRange::Kind::kAllDone) break;
    if (n.range_id != kFinishRangeId) continue;  // a range to copy (free, or its holder silent)
    Status c = store.Claim(kFinishRangeId, n.etag, NowMs());
    if (c.IsFailedPrecondition()) continue;
    RETURN_IF_ERROR(c);
    // The finish step: indexes, once, then STATE finished, then done/finish.
    std::vector<std::string> rejected;
    int created = 0;
    if (opts.indexes == "after") {
      for (const auto& coll : plan.collections()) {
        IndexCopyResult r;
        Status is;
        for (int attempt = 0; attempt < 8; ++attempt) {
          mongo::PooledClient d(dst.get());
          is = src->CopyIndexes(coll, d.get(), &r);
          if (is.ok() || !is.IsUnavailable()) break;
          SleepUnlessStopped(BackoffDelayMs(attempt), opts.stop);
        }
        RETURN_IF_ERROR(is.WithContext("copying the indexes of " + coll.db() + "." + coll.coll()));
        created += r.created;
        rejected.insert(rejected.end(), r.rejected.begin(), r.rejected.end());
      }
      if (!rejected.empty() && opts.indexes_strict) {
        return Status::FailedPrecondition("the target refused " + std::to_string(rejected.size()) +
                                          " index(es), and --indexes_strict is set: " + rejected[0]);
      }
    }
    RETURN_IF_ERROR(claimer.UploadDeadLetters());
    RETURN_IF_ERROR(store.FinishState(plan, rejected));
    RETURN_IF_ERROR(store.MarkDone(kFinishRangeId, 0, 0, NowMs()));
    res.finished_here = true;
    res.run.indexes_created = created;
    res.run.rejected_indexes = rejected;
  }
  claimer.StopHeart();
  ASSIGN_OR_RETURN(res.whole, ReadBucketSnapshotProgress(&store, b.lease_ms));
  if (opts.progress_out != nullptr) *opts.progress_out << "snapshot: " << res.whole.ToString() << std::endl;
  res.run.snapshot_id = plan.snapshot_id();
  res.run.start_seq = plan.start_seq();
  res.run.collections = plan.collections_size();
  res.run.ranges = static_cast<int>(ids.size());
  res.run.elapsed_ms = NowMs() - t0;
  return res;
}

}  // namespace docshift::snapshot
