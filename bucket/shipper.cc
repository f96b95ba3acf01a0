#include "bucket/shipper.h"

#include <glog/logging.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "bucket/checkpoint_store.h"
#include "bucket/log.h"
#include "bucket/retention.h"
#include "spool/checkpoint.h"
#include "spool/format.h"
#include "spool/segment.h"
#include "spool/shipped_mark.h"
#include "spool/spool.h"
#include "util/crc32c.h"

namespace docshift::bucket {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Hostname() {
  char host[256] = {0};
  return gethostname(host, sizeof(host) - 1) == 0 ? std::string(host) : std::string("unknown");
}

std::string Describe(const pb::SpoolCreated& c) {
  return "source " + c.source_id() + " (" + c.source_kind() + "), created at wall ms " +
         std::to_string(c.created_wall_ms());
}

bool SameSpool(const pb::SpoolCreated& a, const pb::SpoolCreated& b) {
  return a.source_id() == b.source_id() && a.source_kind() == b.source_kind() &&
         a.created_wall_ms() == b.created_wall_ms();
}

// Sleeps up to ms, returning early (true) when stopped.
bool SleepUnlessStopped(int64_t ms, const std::atomic<bool>* stop) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (stop != nullptr && stop->load()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return stop != nullptr && stop->load();
}

class Shipper {
 public:
  explicit Shipper(const ShipperOptions& opts) : opts_(opts), env_(opts.env) {}

  Status Start(std::unique_ptr<aws::S3Client> s3) {
    s3_ = std::move(s3);
    log_ = std::make_unique<BucketLog>(s3_.get(), opts_.to);
    result_.writer_id = NewWriterId();
    spool::SpoolView view;
    RETURN_IF_ERROR(spool::OpenSpoolView(env_, opts_.spool_dir, &view));
    local_created_ = view.manifest.created;
    RETURN_IF_ERROR(log_->Refresh(&state_));
    if (state_.last_number == 0) {
      pb::BucketLogRecord rec;
      *rec.mutable_created() = local_created_;
      Status s = log_->Append(rec, result_.writer_id, NowMs(), &state_);
      if (s.IsFailedPrecondition()) {
        RETURN_IF_ERROR(log_->Refresh(&state_));  // another shipper created it first: compare below
      } else {
        RETURN_IF_ERROR(s);
        LOG(INFO) << "ship: created the spool's commit log at " << opts_.to.Url("log/");
      }
    }
    if (!SameSpool(state_.created, local_created_)) {
      return Status::FailedPrecondition(
          opts_.to.ToString() + " holds another spool (" + Describe(state_.created) + "), not the one in " +
          opts_.spool_dir + " (" + Describe(local_created_) + "); ship it to another prefix");
    }
    // The local spool must still hold what the bucket lacks, and must not be behind it.
    const uint64_t local_next = view.manifest.next_seq_after_sealed();
    if (state_.next_seq > local_next && !view.manifest.segments.empty()) {
      return Status::FailedPrecondition(
          opts_.to.ToString() + " has committed sequences up to " + std::to_string(state_.next_seq - 1) +
          " but " + opts_.spool_dir + " has sealed only up to " + std::to_string(local_next - 1) +
          ": the local spool is older than the bucket (restored from a backup?); do not ship it here");
    }
    pb::BucketLogRecord started;
    auto* ss = started.mutable_shipper_started();
    ss->set_host(opts_.host.empty() ? Hostname() : opts_.host);
    ss->set_pid(opts_.pid != 0 ? opts_.pid : static_cast<int64_t>(getpid()));
    ss->set_next_seq(state_.next_seq);
    RETURN_IF_ERROR(log_->Append(started, result_.writer_id, NowMs(), &state_));
    LOG(INFO) << "ship: " << opts_.spool_dir << " -> " << opts_.to.ToString() << " as writer "
              << result_.writer_id << ", log record " << state_.last_number << ", next sequence "
              << state_.next_seq;
    // What the bucket already holds (maybe committed by a run that died before its mark).
    return WriteMark();
  }

  // Commits every sealed local segment the bucket lacks. *progress: one was committed.
  Status Pass(bool* progress) {
    *progress = false;
    spool::SpoolView view;
    RETURN_IF_ERROR(spool::OpenSpoolView(env_, opts_.spool_dir, &view, /*keep_manifest_entries=*/false));
    for (const pb::SegmentSealed& seg : view.manifest.segments) {
      if (seg.last_seq() < state_.next_seq) continue;
      if (seg.first_seq() != state_.next_seq) {
        return Status::FailedPrecondition(
            opts_.spool_dir + " no longer holds sequence " + std::to_string(state_.next_seq) +
            " (its oldest segment starts at " + std::to_string(seg.first_seq()) +
            "): it was deleted before it was shipped to " + opts_.to.ToString() +
            "; the bucket cannot be completed from this spool");
      }
      RETURN_IF_ERROR(ShipSegment(seg));
      *progress = true;
      if (opts_.stop != nullptr && opts_.stop->load()) return Status::OK();
    }
    RETURN_IF_ERROR(ShipSnapshotState());
    ShipCaptureStatus(/*force=*/false);
    return Status::OK();
  }

  // Uploads the local status/capture.status (advisory: readers of the bucket judge
  // capture from it) when it changed, at most every kCaptureStatusUploadMs unless forced.
  // A failure is logged, never fatal: the file is advisory and the next pass retries.
  void ShipCaptureStatus(bool force) {
    const int64_t now = NowMs();
    if (!force && now - last_status_upload_ms_ < kCaptureStatusUploadMs) return;
    const std::string path = JoinPath(JoinPath(opts_.spool_dir, spool::kStatusDir), "capture.status");
    if (!env_->FileExists(path)) return;
    std::string body;
    if (!env_->ReadFileToString(path, &body, spool::kMaxStateFileBytes).ok() || body == last_status_) return;
    pb::ProcessStatus st;  // only a file that reads back whole (it is replaced by rename)
    if (!spool::DecodeStateFile(body, path, spool::kStatusMagic, spool::kRecordProcessStatus, &st).ok()) return;
    aws::PutOptions po;
    po.writer_id = result_.writer_id;
    Status s = s3_->PutObject(opts_.to.bucket, opts_.to.CaptureStatusKey(), body, po).status();
    if (!s.ok()) {
      LOG(WARNING) << "ship: uploading " << opts_.to.Url("status/capture.status") << " (advisory): " << s.ToString();
      return;
    }
    last_status_ = std::move(body);
    last_status_upload_ms_ = now;
  }

  Status ShipSegment(const pb::SegmentSealed& seg) {
    const std::string path = JoinPath(JoinPath(opts_.spool_dir, spool::kSegmentsDir), seg.file_name());
    std::string body;
    RETURN_IF_ERROR(env_->ReadFileToString(path, &body, seg.file_bytes() + 1));
    if (body.size() != seg.file_bytes()) {
      return Status::Corruption(path + ": " + std::to_string(body.size()) + " bytes, but the manifest says " +
                                std::to_string(seg.file_bytes()) + " (offset " + std::to_string(body.size()) + ")");
    }
    const uint32_t crc = crc32c::Value(body.data(), body.size());
    if (crc != seg.file_crc32c()) {
      return Status::Corruption(path + ": crc32c of the sealed file does not match its manifest entry (offset 0); "
                                "run docshift inspect verify --spool " + opts_.spool_dir);
    }
    aws::PutOptions po;
    po.writer_id = result_.writer_id;
    po.metadata["docshift-crc32c"] = std::to_string(crc);
    RETURN_IF_ERROR(s3_->PutObject(opts_.to.bucket, opts_.to.SegmentKey(seg.file_name()), body, po).status());
    pb::BucketLogRecord rec;
    *rec.mutable_sealed() = seg;
    RETURN_IF_ERROR(log_->Append(rec, result_.writer_id, NowMs(), &state_));
    result_.segments++;
    result_.bytes += seg.file_bytes();
    RETURN_IF_ERROR(WriteMark());
    if (opts_.on_commit) opts_.on_commit(seg, state_.last_number);
    return Status::OK();
  }

  Status ShipSnapshotState() {
    const std::string path = spool::SnapshotStatePath(opts_.spool_dir);
    if (!env_->FileExists(path)) return Status::OK();
    std::string body;
    RETURN_IF_ERROR(env_->ReadFileToString(path, &body, spool::kMaxStateFileBytes));
    if (body == last_snapshot_) return Status::OK();
    // Only a state file that reads back whole (never a torn copy).
    pb::SnapshotState st;
    RETURN_IF_ERROR(spool::ReadSnapshotState(env_, opts_.spool_dir, &st));
    aws::PutOptions po;
    po.writer_id = result_.writer_id;
    RETURN_IF_ERROR(s3_->PutObject(opts_.to.bucket, opts_.to.SnapshotStateKey(), body, po).status());
    last_snapshot_ = std::move(body);
    result_.snapshot_uploads++;
    return Status::OK();
  }

  Status WriteMark() {
    pb::ShippedMark m;
    m.set_to(opts_.to.ToString());
    m.set_shipped_seq(state_.next_seq - 1);
    m.set_log_number(state_.last_number);
    m.set_updated_wall_ms(NowMs());
    result_.shipped_seq = m.shipped_seq();
    result_.log_number = state_.last_number;
    return spool::WriteShippedMark(env_, opts_.spool_dir, m);
  }

  // One retention round (see the header comment); does nothing when retention is off or
  // the last round was less than retention_interval_ms ago.
  Status MaybeRetain() {
    if (opts_.retention_ms <= 0) return Status::OK();
    const int64_t now = NowMs();
    if (retained_once_ && now - last_retention_ms_ < opts_.retention_interval_ms) return Status::OK();
    last_retention_ms_ = now;
    if (retention_s3_ == nullptr) {
      aws::S3ClientOptions so = opts_.s3;
      so.stop = opts_.stop;
      ASSIGN_OR_RETURN(retention_s3_, aws::S3Client::New(so));
      BucketCheckpointStoreOptions co;
      co.loc = opts_.to;
      ASSIGN_OR_RETURN(co.s3, aws::S3Client::New(std::move(so)));
      checkpoints_ = std::make_unique<BucketCheckpointStore>(std::move(co));
    }
    if (!retained_once_) {
      RETURN_IF_ERROR(DeleteOrphans());
      retained_once_ = true;
    }
    RetentionInput in;
    in.log = &state_;
    ASSIGN_OR_RETURN(in.checkpoints, checkpoints_->List());
    RETURN_IF_ERROR(ReadSnapshots(&in.snapshots));
    in.now_ms = now;
    in.retention_ms = opts_.retention_ms;
    const RetentionDecision d = DecideBucketRetention(in);
    if (d.no_checkpoint && !logged_no_checkpoint_) {
      LOG(INFO) << "ship: retention deletes nothing from " << opts_.to.ToString()
                << " while it holds no apply checkpoint (" << opts_.to.Url("checkpoints/") << ")";
      logged_no_checkpoint_ = true;
    }
    if (!d.held_by.empty() && d.held_by != last_held_by_) {
      LOG(INFO) << "ship: retention keeps " << opts_.to.ToString() << " from segment "
                << (d.deletable < state_.segments.size() ? state_.segments[d.deletable].file_name() : "?")
                << " on: " << d.held_by;
    }
    last_held_by_ = d.held_by;
    for (size_t i = 0; i < d.deletable; ++i) {
      if (opts_.stop != nullptr && opts_.stop->load()) break;
      const pb::SegmentSealed seg = state_.segments.front();
      pb::BucketLogRecord rec;
      pb::SegmentDeleted* del = rec.mutable_deleted();
      del->set_file_name(seg.file_name());
      del->set_first_seq(seg.first_seq());
      del->set_last_seq(seg.last_seq());
      del->set_deleted_wall_ms(NowMs());
      // The record first: a reader never finds a committed object missing unless the log says so.
      RETURN_IF_ERROR(log_->Append(rec, result_.writer_id, del->deleted_wall_ms(), &state_));
      RETURN_IF_ERROR(retention_s3_->DeleteObject(opts_.to.bucket, opts_.to.SegmentKey(seg.file_name())));
      result_.segments_deleted++;
      result_.bytes_deleted += seg.file_bytes();
      if (opts_.on_delete) opts_.on_delete(*del, seg.file_bytes(), state_.last_number);
    }
    return Status::OK();
  }

  // Segment objects the log records deleted but that are still there (a run that died
  // between the record and the DELETE).
  Status DeleteOrphans() {
    aws::ListOptions lo;
    lo.prefix = opts_.to.Key(std::string(spool::kSegmentsDir) + "/");
    ASSIGN_OR_RETURN(auto objs, retention_s3_->ListObjectsV2(opts_.to.bucket, lo));
    for (const auto& o : objs) {
      uint64_t first = 0;
      if (!spool::ParseSegmentFileName(o.key.substr(lo.prefix.size()), &first)) continue;
      if (first == 0 || first > state_.deleted_through_seq) break;  // ascending: the rest is live
      LOG(INFO) << "ship: retention deletes s3://" << opts_.to.bucket << "/" << o.key
                << ", which the log already records deleted (an earlier run stopped between the two)";
      RETURN_IF_ERROR(retention_s3_->DeleteObject(opts_.to.bucket, o.key));
      result_.segments_deleted++;
      result_.bytes_deleted += o.size > 0 ? static_cast<uint64_t>(o.size) : 0;
    }
    return Status::OK();
  }

  // snapshot/STATE of the bucket (what readers start from) and of the local spool (which
  // the next pass uploads), each when present.
  Status ReadSnapshots(std::vector<pb::SnapshotState>* out) {
    aws::S3Error err;
    auto got = retention_s3_->GetObject(opts_.to.bucket, opts_.to.SnapshotStateKey(), {}, &err);
    if (got.ok()) {
      pb::SnapshotState st;
      RETURN_IF_ERROR(spool::DecodeStateFile(got->body, opts_.to.Url("snapshot/STATE"), spool::kSnapshotMagic,
                                             spool::kRecordSnapshotState, &st));
      out->push_back(std::move(st));
    } else if (err.kind != aws::S3ErrorKind::kNotFound || err.code == "NoSuchBucket") {
      return got.status();
    }
    pb::SnapshotState local;
    Status s = spool::ReadSnapshotState(env_, opts_.spool_dir, &local);
    if (s.ok()) {
      out->push_back(std::move(local));
    } else if (!s.IsNotFound()) {
      return s;
    }
    return Status::OK();
  }

  const ShipResult& result() const { return result_; }

 private:
  const ShipperOptions& opts_;
  Env* env_;
  std::unique_ptr<aws::S3Client> s3_;
  std::unique_ptr<BucketLog> log_;
  LogState state_;
  pb::SpoolCreated local_created_;
  std::string last_snapshot_;
  std::string last_status_;
  int64_t last_status_upload_ms_ = 0;
  ShipResult result_;
  // Retention (MaybeRetain).
  std::unique_ptr<aws::S3Client> retention_s3_;
  std::unique_ptr<BucketCheckpointStore> checkpoints_;
  bool retained_once_ = false;
  bool logged_no_checkpoint_ = false;
  int64_t last_retention_ms_ = 0;
  std::string last_held_by_;
};

}  // namespace

std::string NewWriterId() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd() ^
                      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

StatusOr<ShipResult> RunShipper(const ShipperOptions& opts) {
  aws::S3ClientOptions s3o = opts.s3;
  s3o.stop = opts.stop;
  ASSIGN_OR_RETURN(auto s3, aws::S3Client::New(std::move(s3o)));
  if (opts.wait_for_spool) {
    const std::string manifest = JoinPath(opts.spool_dir, spool::kManifestFile);
    while (!opts.env->FileExists(manifest)) {
      if (opts.drain != nullptr && opts.drain->load()) return ShipResult{};  // capture never created it
      if (SleepUnlessStopped(100, opts.stop)) return ShipResult{};
    }
  }
  Shipper shipper(opts);
  RETURN_IF_ERROR(shipper.Start(std::move(s3)));
  while (true) {
    // Read before the pass: a drain request covers everything sealed before it was made.
    const bool draining = opts.stop_when_drained || (opts.drain != nullptr && opts.drain->load());
    bool progress = false;
    RETURN_IF_ERROR(shipper.Pass(&progress));
    if (opts.stop != nullptr && opts.stop->load()) break;
    RETURN_IF_ERROR(shipper.MaybeRetain());
    if (progress) continue;
    if (draining) break;
    if (SleepUnlessStopped(opts.poll_interval_ms, opts.stop)) break;
  }
  // The last word (capture's exit, when it has written it); not after a stop signal,
  // which also stops the S3 client.
  if (opts.stop == nullptr || !opts.stop->load()) shipper.ShipCaptureStatus(/*force=*/true);
  return shipper.result();
}

}  // namespace docshift::bucket
