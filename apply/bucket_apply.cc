#include "apply/bucket_apply.h"

#include <glog/logging.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include "bucket/cache.h"
#include "bucket/checkpoint_store.h"
#include "bucket/log.h"
#include "bucket/shipper.h"
#include "spool/checkpoint.h"
#include "spool/slot_name.h"
#include "spool/spool.h"
#include "util/duration.h"

namespace docshift::apply {

using bucket::LogState;

StatusOr<std::string> DefaultCacheDir(const bucket::BucketLocation& loc, const std::string& name) {
  std::string base;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x == '/') {
    base = x;
  } else if (const char* h = std::getenv("HOME"); h != nullptr && *h == '/') {
    base = std::string(h) + "/.cache";
  } else {
    return Status::InvalidArgument("no --cache_dir given and neither XDG_CACHE_HOME nor HOME is set: pass "
                                   "--cache_dir DIR (a local directory for this apply's copy of the bucket spool)");
  }
  std::string dir = base + "/docshift/s3/" + loc.bucket;
  if (!loc.prefix.empty()) dir += "/" + loc.prefix;
  return dir + "/@" + name;
}

namespace {

// An apply that would start at a sequence retention deleted from the bucket (ship
// --bucket_retention) stops: it cannot skip the events in between.
Status RefuseDeletedStart(const std::string& name, uint64_t start, const bucket::LogState& log,
                          const bucket::BucketLocation& loc) {
  if (start > log.deleted_through_seq) return Status::OK();
  const uint64_t oldest = log.segments.empty() ? log.next_seq : log.segments.front().first_seq();
  return Status::FailedPrecondition(
      "apply '" + name + "' starts at seq " + std::to_string(start) + ", but retention (ship --bucket_retention) "
      "deleted seq 1.." + std::to_string(log.deleted_through_seq) + " from " + loc.ToString() +
      ": the oldest replayable seq is " + std::to_string(oldest) + "; apply never skips events: load the target "
      "again from a new snapshot, or apply from a spool that still holds seq " + std::to_string(start));
}

}  // namespace

Status CheckReplayStart(const bucket::LogState& st, const bucket::BucketLocation& loc, uint64_t from) {
  if (st.last_number == 0) return Status::OK();  // no spool: the cache says so
  const uint64_t last = st.next_seq - 1;
  const uint64_t oldest = st.segments.empty() ? st.next_seq : st.segments.front().first_seq();
  const std::string url = loc.ToString();
  if (oldest > last) {
    return Status::InvalidArgument("--from " + std::to_string(from) + ": " + url + " holds no committed event to replay" +
                                   (last > 0 ? " (every sequence up to " + std::to_string(last) + " was deleted)" : "") +
                                   "; run apply without --from");
  }
  if (from < oldest) {
    return Status::InvalidArgument(
        "--from " + std::to_string(from) + ": " +
        (from == 0 ? std::string("is not a sequence number (they start at 1)")
                   : "sequence " + std::to_string(from) + " is no longer in " + url + " (its log deleted every sequence up to " +
                         std::to_string(oldest - 1) + ")") +
        "; the oldest replayable sequence is " + std::to_string(oldest) + ": give --from " + std::to_string(oldest) +
        " to " + std::to_string(last));
  }
  if (from > last) {
    return Status::InvalidArgument("--from " + std::to_string(from) + " is past the end of " + url + " (committed up to seq " +
                                   std::to_string(last) + "); give --from " + std::to_string(oldest) + " to " +
                                   std::to_string(last));
  }
  return Status::OK();
}

StatusOr<ApplyResult> RunBucketApply(BucketApplyOptions o) {
  ApplyOptions& a = o.apply;
  const bool replay = a.from.set;
  if (replay && a.from.is_time) {
    return Status::InvalidArgument("--from TIME on a bucket spool is not supported; give a sequence number (`docshift "
                                   "inspect dump --spool " + o.loc.ToString() + " --from_time T --limit 1` shows the "
                                   "first one at or after T)");
  }
  RETURN_IF_ERROR(spool::CheckApplyName(a.name));
  // The name this process writes its checkpoint under (a slot's: NAME.slot-I-of-N).
  const std::string name = a.slot_count > 0 ? spool::SlotName(a.name, a.slot_index, a.slot_count) : a.name;
  RETURN_IF_ERROR(spool::CheckApplyName(name));
  // A replay reads from --from on, which must still be in the bucket: checked first.
  if (replay) {
    aws::S3ClientOptions so = o.s3;
    ASSIGN_OR_RETURN(auto client, aws::S3Client::New(std::move(so)));
    bucket::BucketLog log(client.get(), o.loc);
    LogState st;
    RETURN_IF_ERROR(log.Refresh(&st));
    RETURN_IF_ERROR(CheckReplayStart(st, o.loc, a.from.seq));
  }
  // A replay without --cache_dir gets a fresh cache of its own, removed afterwards: the
  // apply's cache has evicted what its checkpoint passed, and holds its lock.
  std::string temp_cache;
  struct RemoveTemp {
    std::string* dir;
    ~RemoveTemp() {
      std::error_code ec;
      if (!dir->empty()) std::filesystem::remove_all(*dir, ec);
    }
  } remove_temp{&temp_cache};
  if (o.cache_dir.empty() && replay) {
    ASSIGN_OR_RETURN(std::string base, DefaultCacheDir(o.loc, name));
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(base).parent_path(), ec);
    std::string tmpl = base + "+replay.XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      return Status::IOError("cannot create a cache dir " + tmpl + " for the replay; pass --cache_dir (an empty directory)");
    }
    temp_cache = o.cache_dir = tmpl;
  }
  if (o.cache_dir.empty()) {
    ASSIGN_OR_RETURN(o.cache_dir, DefaultCacheDir(o.loc, name));
    std::error_code ec;
    std::filesystem::create_directories(o.cache_dir, ec);
    if (ec) return Status::IOError("creating cache dir " + o.cache_dir + ": " + ec.message());
  }
  // The cache's client stops retrying on the caller's stop; the checkpoint's does not:
  // the final checkpoint after a stop must still be written (retry_for_ms bounds it).
  auto new_client = [&](const std::atomic<bool>* stop) {
    aws::S3ClientOptions so = o.s3;
    so.stop = stop;
    return aws::S3Client::New(std::move(so));
  };

  // The checkpoint first: a second apply of the name stops here, before touching the cache.
  bucket::BucketCheckpointStoreOptions so;
  so.loc = o.loc;
  ASSIGN_OR_RETURN(so.s3, new_client(nullptr));
  so.local_dir = o.cache_dir;
  so.writer_id = bucket::NewWriterId();
  so.writer_host = bucket::HostName();
  so.writer_pid = getpid();
  so.lease_ms = o.lease_ms;
  // Fenced (another apply of the name holds the checkpoint now): not one more write to
  // the target, whichever thread's checkpoint write found out.
  std::atomic<bool> abort_writes{false};
  so.fenced = &abort_writes;
  bucket::BucketCheckpointStore store(std::move(so));
  pb::ApplyCheckpoint ckpt;
  bool have_ckpt = false;
  {
    // A start retention deleted is refused before the claim: the refusal leaves no new
    // checkpoint at seq 0 behind, which would hold the bucket's retention back.
    Status rs = store.Read(name, &ckpt);
    if (!rs.ok() && !rs.IsNotFound()) return rs;
    ASSIGN_OR_RETURN(auto log_s3, new_client(a.stop));
    bucket::BucketLog log(log_s3.get(), o.loc);
    bucket::LogState log_state;
    RETURN_IF_ERROR(log.Refresh(&log_state));
    RETURN_IF_ERROR(RefuseDeletedStart(name, replay ? a.from.seq : rs.ok() ? ckpt.applied_seq() + 1 : 1, log_state, o.loc));
    ckpt.Clear();
  }
  if (a.dry_run) {
    Status s = store.Read(name, &ckpt);
    if (!s.ok() && !s.IsNotFound()) return s;
    have_ckpt = s.ok();
  } else {
    RETURN_IF_ERROR(store.Claim(name, NowMs(), &ckpt, &have_ckpt));
  }

  bucket::BucketSpoolCacheOptions co;
  co.loc = o.loc;
  ASSIGN_OR_RETURN(co.s3, new_client(a.stop));
  co.dir = o.cache_dir;
  co.max_bytes = o.cache_max_bytes;
  ASSIGN_OR_RETURN(auto cache, bucket::BucketSpoolCache::Open(std::move(co)));
  // What apply will need first: its checkpoint's next event, or just after the snapshot's
  // start when it restarts from a snapshot (applier.cc decides the same way).
  RETURN_IF_ERROR(cache->SyncSnapshot());
  uint64_t start = have_ckpt ? ckpt.applied_seq() + 1 : 1;
  pb::SnapshotState snap;
  if (replay) {
    start = a.from.seq;
  } else if (spool::ReadSnapshotState(Env::Default(), o.cache_dir, &snap).ok() &&
             (!have_ckpt || ckpt.snapshot_id() != snap.snapshot_id())) {
    start = std::min(start, snap.start_seq() + 1);
  }
  RETURN_IF_ERROR(cache->Sync(start));
  RETURN_IF_ERROR(RefuseDeletedStart(name, start, cache->log_state(), o.loc));
  if (replay) {
    // A --cache_dir an earlier apply used may have evicted the start already.
    spool::SpoolView held;
    RETURN_IF_ERROR(spool::OpenSpoolView(Env::Default(), o.cache_dir, &held));
    if (held.segments.empty() || held.segments.front().first_seq > start) {
      return Status::FailedPrecondition(
          "cache dir " + o.cache_dir + " no longer holds seq " + std::to_string(start) +
          (held.segments.empty() ? std::string(" (it holds no segment)")
                                 : " (its oldest segment starts at " + std::to_string(held.segments.front().first_seq) + ")") +
          ": give the replay an empty --cache_dir, or none (a temporary one)");
    }
  }
  const uint64_t end_at_start = cache->bucket_next_seq();
  std::cerr << "docshift apply: bucket spool " << o.loc.ToString() << " (committed up to seq " << end_at_start - 1
            << "), cache dir " << o.cache_dir << ", checkpoint " << o.loc.Url("checkpoints/" + name + ".ckpt")
            << (have_ckpt ? " at seq " + std::to_string(ckpt.applied_seq()) : std::string(" (new)")) << std::endl;

  // The background thread; it mirrors the caller's stop into `stop`, and sets `stop` with
  // `failure` when it fails.
  std::atomic<bool> stop{false}, complete{false}, done{false};
  std::atomic<uint64_t> replay_applied{start - 1};  // a replay's progress: what the cache may evict
  Status failure;
  std::mutex mu;
  std::condition_variable cv;
  const std::atomic<bool>* outer_stop = a.stop;
  auto step = [&]() -> Status {
    RETURN_IF_ERROR(cache->Sync(start));
    if (cache->local_next_seq() >= end_at_start) complete = true;
    if (!a.dry_run) {
      RETURN_IF_ERROR(store.Heartbeat(name, NowMs(), o.heartbeat_interval_ms));
      RETURN_IF_ERROR(cache->Evict(replay ? replay_applied.load() : store.LastWrittenSeq(name)));
    }
    return Status::OK();
  };
  if (cache->local_next_seq() >= end_at_start) complete = true;
  std::thread bg([&] {
    auto next = std::chrono::steady_clock::now() + std::chrono::milliseconds(o.poll_interval_ms);
    for (;;) {
      {
        std::unique_lock<std::mutex> l(mu);
        // Wakes every 50 ms to pass on the caller's stop (a signal) promptly.
        while (!done && std::chrono::steady_clock::now() < next) {
          if (outer_stop != nullptr && outer_stop->load()) stop = true;
          cv.wait_for(l, std::chrono::milliseconds(50));
        }
        if (done) return;
      }
      Status s = step();
      if (s.IsAborted() && outer_stop != nullptr && outer_stop->load()) {
        stop = true;  // a download cut short by the caller's stop: not a failure
        return;
      }
      if (!s.ok()) {
        std::lock_guard<std::mutex> l(mu);
        failure = s;
        stop = true;
        LOG(ERROR) << "apply: stopping: " << s.ToString();
        return;
      }
      next = std::chrono::steady_clock::now() + std::chrono::milliseconds(o.poll_interval_ms);
    }
  });

  a.spool_dir = o.cache_dir;
  a.checkpoints = &store;
  a.source_complete = &complete;
  a.abort_writes = &abort_writes;
  if (replay) a.replay_applied_seq = &replay_applied;
  a.stop = &stop;
  auto r = RunApply(a);
  {
    std::lock_guard<std::mutex> l(mu);
    done = true;
  }
  cv.notify_all();
  bg.join();
  if (!failure.ok()) return failure;  // the cause; apply only stopped because of it
  return r;
}

}  // namespace docshift::apply
