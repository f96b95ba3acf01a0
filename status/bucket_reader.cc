#include "status/bucket_reader.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "aws/credentials.h"
#include "aws/s3_client.h"
#include "bucket/cache.h"
#include "spool/checkpoint.h"

namespace docshift::status {

StatusOr<std::unique_ptr<BucketStatusReader>> BucketStatusReader::Open(const bucket::BucketLocation& loc,
                                                                       std::unique_ptr<aws::S3Client> s3, Env* env,
                                                                       const std::string& dir) {
  std::unique_ptr<BucketStatusReader> r(new BucketStatusReader());
  r->env_ = env;
  r->loc_ = loc;
  bucket::BucketSpoolCacheOptions co;
  co.loc = loc;
  co.s3 = std::move(s3);
  co.env = env;
  co.max_bytes = 0;  // never downloads: Sync is called past every segment
  co.dir = dir;
  if (co.dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp != nullptr ? tmp : "/tmp") + "/docshift-status.XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      return Status::IOError("cannot create a temporary directory " + tmpl + " for reading " + loc.ToString() +
                             " (set TMPDIR)");
    }
    r->temp_dir_ = co.dir = tmpl;
  }
  auto c = bucket::BucketSpoolCache::Open(std::move(co));
  if (!c.ok()) return c.status();  // the destructor removes the temporary directory
  r->cache_ = std::move(c).value();
  return r;
}

BucketStatusReader::~BucketStatusReader() {
  cache_.reset();  // releases its lock before the directory goes
  if (!temp_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(temp_dir_, ec);
  }
}

Status BucketStatusReader::Refresh() {
  // Every committed segment is recorded sealed and deleted without a download: the log's
  // records carry what status needs (bounds, bytes, capture times).
  RETURN_IF_ERROR(cache_->Sync(UINT64_MAX));
  RETURN_IF_ERROR(cache_->CopyCheckpointsAndDeadLetters());
  bool found = false;
  RETURN_IF_ERROR(cache_->CopyCaptureStatus(&found));
  if (!found) {
    const std::string local = JoinPath(JoinPath(cache_->dir(), spool::kStatusDir), "capture.status");
    if (env_->FileExists(local)) RETURN_IF_ERROR(env_->DeleteFile(local));
  }
  return Status::OK();
}

StatusOr<MigrationStatus> BucketStatusReader::Collect(int64_t now_ms, const std::string& apply_name) {
  RETURN_IF_ERROR(Refresh());
  const bucket::LogState& ls = cache_->log_state();
  BucketLogInput in;
  in.url = loc_.ToString();
  in.log_number = ls.last_number;
  in.created = ls.created;
  in.segments = ls.segments;
  in.next_seq = ls.next_seq;
  in.deleted_through_seq = ls.deleted_through_seq;
  in.writer_id = ls.writer_id;
  in.shipper = ls.shipper;
  in.last_written_wall_ms = ls.last_written_wall_ms;
  ASSIGN_OR_RETURN(MigrationStatus out, CollectBucketStatus(env_, cache_->dir(), in, now_ms, apply_name));
  if (out.snapshot.present && shared_progress_) {
    SnapshotView::Shared sh;
    Status ps = shared_progress_(&sh);
    if (ps.ok()) {
      out.snapshot.shared = sh;
      auto& colls = out.snapshot.collections;
      if (sh.collection_ranges_done.size() == colls.size() && sh.collection_docs_done.size() == colls.size()) {
        for (size_t i = 0; i < colls.size(); ++i) {
          colls[i].ranges_done = static_cast<uint64_t>(sh.collection_ranges_done[i]);
          colls[i].docs_copied = sh.collection_docs_done[i];
        }
      }
      if (out.state == "snapshotting") out.state_reason = "snapshot " + out.snapshot.snapshot_id + ": " + sh.line;
    } else if (!ps.IsNotFound()) {
      out.warnings.push_back("the snapshot's progress (claims and done objects) is unreadable: " + ps.ToString());
    }
  }
  return out;
}

Status BucketStatusReader::Positions(uint64_t* committed_seq, uint64_t* min_applied, bool* any) {
  RETURN_IF_ERROR(Refresh());
  *committed_seq = cache_->log_state().next_seq - 1;
  ASSIGN_OR_RETURN(auto ckpts, spool::ListCheckpoints(env_, cache_->dir()));
  *any = !ckpts.empty();
  *min_applied = 0;
  if (*any) {
    uint64_t low = UINT64_MAX;
    for (const auto& c : ckpts) low = std::min<uint64_t>(low, c.ckpt.applied_seq());
    *min_applied = low;
  }
  return Status::OK();
}

StatusOr<std::unique_ptr<BucketStatusReader>> OpenBucketStatusReader(const std::string& url, const std::string& flag,
                                                                     const std::string& region) {
  ASSIGN_OR_RETURN(auto loc, bucket::ParseBucketUrl(url, flag));
  auto s3o = aws::S3ClientOptionsFromEnv(aws::ProcessEnv(), region);
  if (!s3o.ok()) return s3o.status().WithContext(flag + " " + loc.ToString());
  ASSIGN_OR_RETURN(auto client, aws::S3Client::New(std::move(s3o).value()));
  return BucketStatusReader::Open(loc, std::move(client), Env::Default());
}

}  // namespace docshift::status
