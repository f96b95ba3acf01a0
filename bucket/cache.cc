#include "bucket/cache.h"

#include <algorithm>
#include <utility>

#include "aws/s3_client.h"
#include "spool/checkpoint.h"
#include "spool/format.h"
#include "spool/segment.h"
#include "util/duration.h"

namespace docshift::bucket {
namespace {

constexpr char kIncomingDir[] = "incoming";

}  // namespace

BucketSpoolCache::BucketSpoolCache(BucketSpoolCacheOptions opts) : opts_(std::move(opts)) {}
BucketSpoolCache::~BucketSpoolCache() = default;

StatusOr<std::unique_ptr<BucketSpoolCache>> BucketSpoolCache::Open(BucketSpoolCacheOptions opts) {
  std::unique_ptr<BucketSpoolCache> c(new BucketSpoolCache(std::move(opts)));
  RETURN_IF_ERROR(c->Init());
  return c;
}

Status BucketSpoolCache::Init() {
  Env* env = opts_.env;
  const std::string& dir = opts_.dir;
  const std::string spool_url = opts_.loc.ToString();
  const std::string rebuild = "; remove it to rebuild it from the bucket, or use another --cache_dir";
  RETURN_IF_ERROR(env->CreateDirIfMissing(dir));
  const std::string marker_path = JoinPath(dir, kCacheMarkerFile);
  if (env->FileExists(marker_path)) {
    std::string marker;
    RETURN_IF_ERROR(env->ReadFileToString(marker_path, &marker, 4096));
    if (marker != spool_url + "\n") {
      while (!marker.empty() && marker.back() == '\n') marker.pop_back();
      return Status::FailedPrecondition("cache dir " + dir + " is the cache of " + marker + ", not of " + spool_url +
                                        rebuild);
    }
  } else {
    ASSIGN_OR_RETURN(auto children, env->GetChildren(dir));
    // deadletter/: the bucket's copy, which the checkpoint store's Claim brings in before
    // the cache opens (apply/bucket_apply.cc) when the cache dir is new.
    std::erase(children, std::string("deadletter"));
    if (!children.empty()) {
      return Status::FailedPrecondition("cache dir " + dir + " is not empty and is not the cache of a bucket spool (no " +
                                        kCacheMarkerFile + "); use an empty or new directory for --cache_dir");
    }
  }
  auto lock = env->LockFile(JoinPath(dir, spool::kLockFile));
  if (!lock.ok()) {
    return Status::FailedPrecondition("cache dir " + dir + " is in use by another process (" +
                                      lock.status().message() + "); one apply per cache dir");
  }
  lock_ = std::move(lock).value();

  log_ = std::make_unique<BucketLog>(opts_.s3.get(), opts_.loc);
  RETURN_IF_ERROR(log_->Refresh(&log_state_));
  if (log_state_.last_number == 0) {
    return Status::NotFound("no spool in " + spool_url + " (its commit log " + opts_.loc.Url("log/") +
                            " is empty): ship one there first (docshift ship --spool DIR --to " + spool_url + ")");
  }
  if (!env->FileExists(marker_path)) RETURN_IF_ERROR(env->WriteFileAtomic(marker_path, spool_url + "\n"));

  for (const char* sub : {spool::kSegmentsDir.data(), spool::kCheckpointsDir.data(), kIncomingDir}) {
    RETURN_IF_ERROR(env->CreateDirIfMissing(JoinPath(dir, sub)));
  }
  // A download cut short by a crash: never recorded, so thrown away.
  const std::string incoming = JoinPath(dir, kIncomingDir);
  ASSIGN_OR_RETURN(auto partial, env->GetChildren(incoming));
  for (const auto& f : partial) RETURN_IF_ERROR(env->DeleteFile(JoinPath(incoming, f)));

  const std::string manifest_path = JoinPath(dir, spool::kManifestFile);
  if (!env->FileExists(manifest_path)) {
    ASSIGN_OR_RETURN(manifest_writer_, spool::ManifestWriter::Create(env, manifest_path, log_state_.created));
    manifest_.created = log_state_.created;
    return Status::OK();
  }
  RETURN_IF_ERROR(spool::ReadManifest(env, manifest_path, &manifest_));
  if (manifest_.created.SerializeAsString() != log_state_.created.SerializeAsString()) {
    return Status::FailedPrecondition("cache dir " + dir + " was made for another spool than the one now in " +
                                      spool_url + " (log record 1 differs: the bucket spool was recreated)" + rebuild);
  }
  if (manifest_.next_seq_after_sealed() > log_state_.next_seq) {
    return Status::FailedPrecondition("cache dir " + dir + " holds sequences up to " +
                                      std::to_string(manifest_.next_seq_after_sealed() - 1) + " but " + spool_url +
                                      " commits only up to " + std::to_string(log_state_.next_seq - 1) + rebuild);
  }
  for (const auto& local : manifest_.segments) {
    for (const auto& remote : log_state_.segments) {
      if (remote.first_seq() == local.first_seq() &&
          (remote.last_seq() != local.last_seq() || remote.file_crc32c() != local.file_crc32c())) {
        return Status::FailedPrecondition("cache dir " + dir + ": segment " + local.file_name() +
                                          " differs from the one " + spool_url + " commits" + rebuild);
      }
    }
    cached_bytes_ += local.file_bytes();
  }
  ASSIGN_OR_RETURN(manifest_writer_, spool::ManifestWriter::Open(env, manifest_path, manifest_));
  return Status::OK();
}

Status BucketSpoolCache::Record(const pb::ManifestRecord& rec) {
  RETURN_IF_ERROR(manifest_writer_->Append(rec));
  if (rec.has_sealed()) {
    manifest_.segments.push_back(rec.sealed());
  } else if (rec.has_deleted()) {
    auto it = std::find_if(manifest_.segments.begin(), manifest_.segments.end(),
                           [&](const pb::SegmentSealed& s) { return s.file_name() == rec.deleted().file_name(); });
    if (it != manifest_.segments.end()) manifest_.segments.erase(it);
    manifest_.deleted.push_back(rec.deleted());
    manifest_.first_seq_after_deleted = std::max(manifest_.first_seq_after_deleted, rec.deleted().last_seq() + 1);
  }
  return Status::OK();
}

Status BucketSpoolCache::SyncSnapshot() {
  const std::string key = opts_.loc.SnapshotStateKey();
  aws::S3Error err;
  auto head = opts_.s3->HeadObject(opts_.loc.bucket, key, &err);
  if (!head.ok()) {
    if (err.kind == aws::S3ErrorKind::kNotFound) return Status::OK();
    return head.status();
  }
  if (head->etag == snapshot_etag_) return Status::OK();
  auto got = opts_.s3->GetObject(opts_.loc.bucket, key, {}, &err);
  if (!got.ok()) return err.kind == aws::S3ErrorKind::kNotFound ? Status::OK() : got.status();
  pb::SnapshotState st;
  RETURN_IF_ERROR(spool::DecodeStateFile(got->body, "s3://" + opts_.loc.bucket + "/" + key, spool::kSnapshotMagic,
                                    spool::kRecordSnapshotState, &st));
  RETURN_IF_ERROR(opts_.env->CreateDirIfMissing(JoinPath(opts_.dir, spool::kSnapshotDir)));
  RETURN_IF_ERROR(opts_.env->WriteFileAtomic(spool::SnapshotStatePath(opts_.dir), got->body));
  snapshot_etag_ = got->info.etag;
  return Status::OK();
}

Status BucketSpoolCache::Download(const pb::SegmentSealed& seg, bool* gone) {
  *gone = false;
  Env* env = opts_.env;
  const std::string key = opts_.loc.SegmentKey(seg.file_name());
  const std::string url = "s3://" + opts_.loc.bucket + "/" + key;
  aws::S3Error err;
  auto got = opts_.s3->GetObject(opts_.loc.bucket, key, {}, &err);
  if (!got.ok()) {
    if (err.kind == aws::S3ErrorKind::kNotFound && err.code != "NoSuchBucket") {
      // Deleted since the log was read? Then the log says so now.
      RETURN_IF_ERROR(log_->Refresh(&log_state_));
      if (log_state_.deleted_through_seq >= seg.last_seq()) {
        *gone = true;
        return Status::OK();
      }
      return Status::Corruption(url + ": a committed segment object is missing (the log commits it and does "
                                "not record its deletion)");
    }
    return got.status();
  }
  const std::string& body = got->body;
  if (body.size() != seg.file_bytes()) {
    return Status::Corruption(url + ": " + std::to_string(body.size()) + " bytes, but its commit record says " +
                              std::to_string(seg.file_bytes()));
  }
  const std::string tmp = JoinPath(JoinPath(opts_.dir, kIncomingDir), seg.file_name());
  {
    ASSIGN_OR_RETURN(auto f, env->NewWritableFile(tmp));
    RETURN_IF_ERROR(f->Append(body));
    RETURN_IF_ERROR(f->Sync());
    RETURN_IF_ERROR(f->Close());
  }
  // Every record's framing, the footer, the sequences and the whole file's CRC.
  Status check = [&]() -> Status {
    ASSIGN_OR_RETURN(auto reader, spool::SegmentReader::Open(env, tmp, /*compute_file_crc=*/true));
    if (!reader->has_header() || reader->header().first_seq() != seg.first_seq()) {
      return Status::Corruption("segment header does not say first sequence " + std::to_string(seg.first_seq()));
    }
    pb::ChangeBatch batch;
    for (;;) {
      Status s = reader->Next(&batch);
      if (s.IsEndOfFile()) break;
      RETURN_IF_ERROR(s);
    }
    if (!reader->sealed()) {
      return Status::Corruption("not a sealed segment (" + reader->stop_reason() + " at offset " +
                                std::to_string(reader->stop_offset()) + ")");
    }
    if (reader->footer().last_seq() != seg.last_seq()) {
      return Status::Corruption("its footer ends at sequence " + std::to_string(reader->footer().last_seq()) +
                                ", its commit record at " + std::to_string(seg.last_seq()));
    }
    if (reader->file_crc() != seg.file_crc32c()) {
      return Status::Corruption("CRC-32C of the object does not match its commit record's file_crc32c");
    }
    return Status::OK();
  }();
  if (!check.ok()) {
    (void)env->DeleteFile(tmp);
    if (check.IsCorruption()) return Status::Corruption(url + ": " + check.message());
    return check;
  }
  const std::string segs = JoinPath(opts_.dir, spool::kSegmentsDir);
  RETURN_IF_ERROR(env->RenameFile(tmp, JoinPath(segs, seg.file_name())));
  RETURN_IF_ERROR(env->SyncDir(segs));
  pb::ManifestRecord rec;
  *rec.mutable_sealed() = seg;
  RETURN_IF_ERROR(Record(rec));
  cached_bytes_ += seg.file_bytes();
  downloaded_++;
  return Status::OK();
}

Status BucketSpoolCache::Sync(uint64_t start_seq) {
  RETURN_IF_ERROR(log_->Refresh(&log_state_));
  RETURN_IF_ERROR(SyncSnapshot());
  while (local_next_seq() < log_state_.next_seq) {
    const uint64_t next = local_next_seq();
    if (next <= log_state_.deleted_through_seq) {
      // Deleted from the bucket before this cache had it: recorded as one segment sealed
      // and deleted, so the MANIFEST stays contiguous; a reader that needs it is told
      // its events were deleted (SpoolTail: NotFound; apply at start: pruned).
      pb::ManifestRecord sealed, deleted;
      auto* s = sealed.mutable_sealed();
      s->set_file_name(spool::SegmentFileName(next));
      s->set_first_seq(next);
      s->set_last_seq(log_state_.deleted_through_seq);
      auto* d = deleted.mutable_deleted();
      d->set_file_name(s->file_name());
      d->set_first_seq(next);
      d->set_last_seq(s->last_seq());
      d->set_deleted_wall_ms(NowMs());
      RETURN_IF_ERROR(Record(sealed));
      RETURN_IF_ERROR(Record(deleted));
      continue;
    }
    const size_t i = FirstSegmentAtOrAfter(log_state_, next);
    if (i >= log_state_.segments.size() || log_state_.segments[i].first_seq() != next) {
      return Status::Corruption(opts_.loc.Url("log/") + ": no committed segment starts at sequence " +
                                std::to_string(next));
    }
    const pb::SegmentSealed seg = log_state_.segments[i];
    if (seg.last_seq() < start_seq) {  // wholly before the reader's start: never needed
      pb::ManifestRecord sealed, deleted;
      *sealed.mutable_sealed() = seg;
      auto* d = deleted.mutable_deleted();
      d->set_file_name(seg.file_name());
      d->set_first_seq(seg.first_seq());
      d->set_last_seq(seg.last_seq());
      d->set_deleted_wall_ms(NowMs());
      RETURN_IF_ERROR(Record(sealed));
      RETURN_IF_ERROR(Record(deleted));
      continue;
    }
    // Full: wait for the reader to pass what is here, but never hold back the next
    // segment it needs (every local one already passed).
    const bool unread = !manifest_.segments.empty() && manifest_.segments.back().last_seq() > passed_seq_;
    if (unread && cached_bytes_ + seg.file_bytes() > opts_.max_bytes) break;
    bool gone = false;
    RETURN_IF_ERROR(Download(seg, &gone));
    if (gone) continue;  // the log now records the deletion
  }
  return Status::OK();
}

Status BucketSpoolCache::CopyCheckpointsAndDeadLetters() {
  struct Kind {
    std::string remote_dir, local_dir, suffix;
  };
  const Kind kinds[] = {{opts_.loc.CheckpointsDir(), std::string(spool::kCheckpointsDir), ".ckpt"},
                        {opts_.loc.Key("deadletter/"), "deadletter", ".dlq"}};
  for (const Kind& k : kinds) {
    aws::ListOptions lo;
    lo.prefix = k.remote_dir;
    ASSIGN_OR_RETURN(auto objs, opts_.s3->ListObjectsV2(opts_.loc.bucket, lo));
    const std::string local = JoinPath(opts_.dir, k.local_dir);
    RETURN_IF_ERROR(opts_.env->CreateDirIfMissing(local));
    for (const auto& obj : objs) {
      const std::string name = obj.key.substr(lo.prefix.size());
      if (name.size() <= k.suffix.size() || name.find('/') != std::string::npos ||
          name.compare(name.size() - k.suffix.size(), std::string::npos, k.suffix) != 0 ||
          !spool::CheckApplyName(name.substr(0, name.size() - k.suffix.size())).ok()) {
        continue;  // not one of ours
      }
      aws::S3Error err;
      auto got = opts_.s3->GetObject(opts_.loc.bucket, obj.key, {}, &err);
      if (!got.ok()) {
        if (err.kind == aws::S3ErrorKind::kNotFound) continue;  // deleted since listed
        return got.status();
      }
      if (k.suffix == ".ckpt") {
        pb::ApplyCheckpoint c;
        RETURN_IF_ERROR(spool::DecodeStateFile(got->body, "s3://" + opts_.loc.bucket + "/" + obj.key,
                                          spool::kCheckpointMagic, spool::kRecordCheckpoint, &c));
      }
      RETURN_IF_ERROR(opts_.env->WriteFileAtomic(JoinPath(local, name), got->body));
    }
  }
  return Status::OK();
}

Status BucketSpoolCache::CopyCaptureStatus(bool* found) {
  *found = false;
  const std::string key = opts_.loc.CaptureStatusKey();
  aws::S3Error err;
  auto got = opts_.s3->GetObject(opts_.loc.bucket, key, {}, &err);
  if (!got.ok()) return err.kind == aws::S3ErrorKind::kNotFound ? Status::OK() : got.status();
  pb::ProcessStatus st;
  RETURN_IF_ERROR(spool::DecodeStateFile(got->body, "s3://" + opts_.loc.bucket + "/" + key, spool::kStatusMagic,
                                         spool::kRecordProcessStatus, &st));
  RETURN_IF_ERROR(opts_.env->CreateDirIfMissing(JoinPath(opts_.dir, spool::kStatusDir)));
  RETURN_IF_ERROR(opts_.env->WriteFileAtomic(JoinPath(JoinPath(opts_.dir, spool::kStatusDir), "capture.status"),
                                             got->body));
  *found = true;
  return Status::OK();
}

Status BucketSpoolCache::Evict(uint64_t applied_seq) {
  passed_seq_ = std::max(passed_seq_, applied_seq);
  while (manifest_.segments.size() > 1 && manifest_.segments.front().last_seq() <= applied_seq) {
    const pb::SegmentSealed seg = manifest_.segments.front();
    pb::ManifestRecord rec;
    auto* d = rec.mutable_deleted();
    d->set_file_name(seg.file_name());
    d->set_first_seq(seg.first_seq());
    d->set_last_seq(seg.last_seq());
    d->set_deleted_wall_ms(NowMs());
    RETURN_IF_ERROR(Record(rec));  // recorded first: a reader never finds a listed segment missing
    const std::string segs = JoinPath(opts_.dir, spool::kSegmentsDir);
    const std::string path = JoinPath(segs, seg.file_name());
    if (opts_.env->FileExists(path)) {
      RETURN_IF_ERROR(opts_.env->DeleteFile(path));
      RETURN_IF_ERROR(opts_.env->SyncDir(segs));
    }
    cached_bytes_ -= std::min<uint64_t>(cached_bytes_, seg.file_bytes());
  }
  return Status::OK();
}

}  // namespace docshift::bucket
