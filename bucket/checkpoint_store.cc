#include "bucket/checkpoint_store.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "aws/s3_client.h"
#include "bucket/log.h"
#include "spool/checkpoint.h"
#include "spool/dead_letter.h"
#include "spool/format.h"
#include "util/duration.h"

namespace docshift::bucket {
namespace {

constexpr std::string_view kCkptSuffix = ".ckpt";

Status ReadLocalFile(Env* env, const std::string& path, std::string* out) {
  ASSIGN_OR_RETURN(auto f, env->NewRandomAccessFile(path));
  ASSIGN_OR_RETURN(uint64_t size, f->Size());
  return f->Read(0, static_cast<size_t>(size), out);
}

}  // namespace

std::string HostName() {
  char host[256] = {};
  return gethostname(host, sizeof(host) - 1) == 0 ? std::string(host) : std::string();
}

BucketCheckpointStore::BucketCheckpointStore(BucketCheckpointStoreOptions opts) : opts_(std::move(opts)) {}
BucketCheckpointStore::~BucketCheckpointStore() = default;

std::string BucketCheckpointStore::Describe() const {
  std::string d = opts_.loc.Url("checkpoints");
  return d;
}

std::string BucketCheckpointStore::DescribeWriter(const pb::ApplyCheckpoint& c) const {
  if (c.writer_id().empty()) return "a writer that did not record itself";
  return "host " + (c.writer_host().empty() ? std::string("?") : c.writer_host()) + ", pid " +
         std::to_string(c.writer_pid()) + ", run " + c.writer_id();
}

Status BucketCheckpointStore::ReadLocked(const std::string& name, pb::ApplyCheckpoint* out, std::string* etag) {
  RETURN_IF_ERROR(spool::CheckApplyName(name, "apply name"));
  const std::string key = opts_.loc.CheckpointKey(name);
  aws::S3Error err;
  auto got = opts_.s3->GetObject(opts_.loc.bucket, key, {}, &err);
  if (!got.ok()) {
    if (err.kind == aws::S3ErrorKind::kNotFound && err.code != "NoSuchBucket") {
      return Status::NotFound(opts_.loc.Url("checkpoints/" + name + std::string(kCkptSuffix)));
    }
    return got.status();
  }
  if (etag != nullptr) *etag = got->info.etag;
  return spool::DecodeStateFile(got->body, "s3://" + opts_.loc.bucket + "/" + key, spool::kCheckpointMagic,
                           spool::kRecordCheckpoint, out);
}

Status BucketCheckpointStore::Read(const std::string& name, pb::ApplyCheckpoint* out) {
  std::lock_guard<std::mutex> l(mu_);
  return ReadLocked(name, out, nullptr);
}

Status BucketCheckpointStore::CopyDeadLettersLocked(const std::string& name) {
  if (opts_.local_dir.empty()) return Status::OK();
  const std::string path = spool::DeadLetterPath(opts_.local_dir, name);
  if (!opts_.env->FileExists(path)) return Status::OK();
  ASSIGN_OR_RETURN(uint64_t size, opts_.env->GetFileSize(path));
  auto it = dlq_bytes_.find(name);
  if (it != dlq_bytes_.end() && it->second == static_cast<int64_t>(size)) return Status::OK();
  std::string body;
  RETURN_IF_ERROR(ReadLocalFile(opts_.env, path, &body));
  aws::PutOptions po;
  po.writer_id = opts_.writer_id;
  auto put = opts_.s3->PutObject(opts_.loc.bucket, opts_.loc.DeadLetterKey(name), body, po);
  if (!put.ok()) return put.status().WithContext("copying the dead letters of apply '" + name + "' to the bucket");
  dlq_bytes_[name] = static_cast<int64_t>(body.size());
  return Status::OK();
}

Status BucketCheckpointStore::PutLocked(const std::string& name, pb::ApplyCheckpoint ckpt, int64_t now_ms,
                                        bool from_write) {
  ckpt.set_writer_id(opts_.writer_id);
  ckpt.set_writer_host(opts_.writer_host);
  ckpt.set_writer_pid(opts_.writer_pid);
  if (ckpt.updated_wall_ms() == 0) ckpt.set_updated_wall_ms(now_ms);
  aws::PutOptions po;
  // Unique per attempt (aws/s3_client.h): a lost response to this very write resolves as ours.
  po.writer_id = opts_.writer_id + "." + std::to_string(++attempts_);
  auto w = written_.find(name);
  auto c = claimed_.find(name);
  if (w != written_.end()) {
    po.condition = aws::PutOptions::Condition::kIfMatch;
    po.if_match_etag = w->second.etag;
  } else if (c != claimed_.end() && !c->second.empty()) {
    po.condition = aws::PutOptions::Condition::kIfMatch;
    po.if_match_etag = c->second;
  } else {
    po.condition = aws::PutOptions::Condition::kIfNoneMatch;
  }
  const std::string body = EncodeStateObject(spool::kCheckpointMagic, spool::kRecordCheckpoint, ckpt);
  aws::S3Error err;
  auto put = opts_.s3->PutObject(opts_.loc.bucket, opts_.loc.CheckpointKey(name), body, po, &err);
  if (!put.ok()) {
    // If-Match on a key that is gone: S3 says 404, gofakes3 412. Both: not ours any more.
    const bool lost = err.kind == aws::S3ErrorKind::kPreconditionFailed ||
                      (err.kind == aws::S3ErrorKind::kNotFound && po.condition == aws::PutOptions::Condition::kIfMatch &&
                       err.code != "NoSuchBucket");
    if (!lost) return put.status();
    if (opts_.fenced != nullptr) *opts_.fenced = true;
    pb::ApplyCheckpoint now;
    std::string who = "(its checkpoint object is gone)";
    if (ReadLocked(name, &now, nullptr).ok()) who = "(" + DescribeWriter(now) + ")";
    return Status::FailedPrecondition("checkpoint '" + name + "' in " + Describe() + ": another apply named '" + name +
                                      "' took it over " + who + "; this one stops");
  }
  Written& rec = written_[name];
  if (from_write) rec.written_seq = ckpt.applied_seq();
  rec.etag = put->etag;
  rec.ckpt = std::move(ckpt);
  rec.wall_ms = now_ms;
  claimed_.erase(name);
  return Status::OK();
}

Status BucketCheckpointStore::Write(const std::string& name, const pb::ApplyCheckpoint& ckpt) {
  RETURN_IF_ERROR(spool::CheckApplyName(name, "apply name"));
  std::lock_guard<std::mutex> l(mu_);
  // Dead letters the checkpoint passes are in the bucket before it is.
  RETURN_IF_ERROR(CopyDeadLettersLocked(name));
  return PutLocked(name, ckpt, NowMs(), /*from_write=*/true);
}

Status BucketCheckpointStore::Claim(const std::string& name, int64_t now_ms, pb::ApplyCheckpoint* out, bool* found) {
  std::lock_guard<std::mutex> l(mu_);
  std::string etag;
  pb::ApplyCheckpoint cur;
  Status s = ReadLocked(name, &cur, &etag);
  if (!s.ok() && !s.IsNotFound()) return s;
  *found = s.ok();
  if (*found) {
    const int64_t age = now_ms - cur.updated_wall_ms();
    // A writer on this host whose process is gone (a crash, SIGKILL) holds no lease: its
    // successor need not wait. (A pid reused meanwhile only makes this one wait.)
    const bool dead_here = !cur.writer_host().empty() && cur.writer_host() == opts_.writer_host &&
                           cur.writer_pid() > 0 && kill(static_cast<pid_t>(cur.writer_pid()), 0) != 0 &&
                           errno == ESRCH;
    if (!cur.writer_id().empty() && cur.writer_id() != opts_.writer_id && age < opts_.lease_ms && !dead_here) {
      return Status::FailedPrecondition(
          "checkpoint '" + name + "' in " + Describe() + " is held by another apply named '" + name + "' (" +
          DescribeWriter(cur) + "), which wrote it " + std::to_string(std::max<int64_t>(age, 0) / 1000) +
          " s ago; one apply per name: stop that one first (if it died, this one may start once it has been "
          "silent for " + std::to_string(opts_.lease_ms / 1000) + " s), or use --name for a separate apply");
    }
    *out = cur;
  } else {
    out->Clear();
  }
  claimed_[name] = *found ? etag : std::string();
  // The bucket's dead letters (they cover everything its checkpoint passed) replace a
  // local copy before apply opens the file.
  if (!opts_.local_dir.empty()) {
    aws::S3Error err;
    auto dlq = opts_.s3->GetObject(opts_.loc.bucket, opts_.loc.DeadLetterKey(name), {}, &err);
    if (dlq.ok()) {
      const std::string path = spool::DeadLetterPath(opts_.local_dir, name);
      RETURN_IF_ERROR(opts_.env->CreateDirIfMissing(DirName(path)));
      RETURN_IF_ERROR(opts_.env->WriteFileAtomic(path, dlq->body));
      dlq_bytes_[name] = static_cast<int64_t>(dlq->body.size());
    } else if (err.kind != aws::S3ErrorKind::kNotFound || err.code == "NoSuchBucket") {
      return dlq.status();
    }
  }
  pb::ApplyCheckpoint take = *found ? cur : pb::ApplyCheckpoint();
  take.set_updated_wall_ms(now_ms);
  return PutLocked(name, take, now_ms);
}

Status BucketCheckpointStore::Heartbeat(const std::string& name, int64_t now_ms, int64_t interval_ms) {
  std::lock_guard<std::mutex> l(mu_);
  auto w = written_.find(name);
  if (w == written_.end() || now_ms - w->second.wall_ms < interval_ms) return Status::OK();
  pb::ApplyCheckpoint c = w->second.ckpt;
  c.set_updated_wall_ms(now_ms);
  return PutLocked(name, c, now_ms);
}

uint64_t BucketCheckpointStore::LastWrittenSeq(const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  auto w = written_.find(name);
  return w == written_.end() ? 0 : w->second.written_seq;
}

StatusOr<std::vector<spool::NamedCheckpoint>> BucketCheckpointStore::List() {
  std::lock_guard<std::mutex> l(mu_);
  aws::ListOptions lo;
  lo.prefix = opts_.loc.CheckpointsDir();
  ASSIGN_OR_RETURN(auto objs, opts_.s3->ListObjectsV2(opts_.loc.bucket, lo));
  std::vector<spool::NamedCheckpoint> out;
  for (const auto& o : objs) {
    std::string n = o.key.substr(lo.prefix.size());
    if (n.size() <= kCkptSuffix.size() || n.compare(n.size() - kCkptSuffix.size(), std::string::npos, kCkptSuffix) != 0) {
      continue;
    }
    n.resize(n.size() - kCkptSuffix.size());
    if (!spool::CheckApplyName(n).ok()) continue;  // not one of ours (n/x.ckpt, .hidden.ckpt)
    spool::NamedCheckpoint c;
    c.name = n;
    Status s = ReadLocked(n, &c.ckpt, nullptr);
    if (s.IsNotFound()) continue;  // deleted between list and read
    RETURN_IF_ERROR(s);
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace docshift::bucket
