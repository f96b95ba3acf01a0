#include "bucket/shipper.h"

#include <glog/logging.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "bucket/log.h"
#include "spool/checkpoint.h"
#include "spool/format.h"
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
