#include "spool/apply_lock.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "spool/format.h"
#include "util/duration.h"

namespace docshift::spool {
namespace {

constexpr std::string_view kApplyLockPrefix = "apply-";
constexpr std::string_view kLockSuffix = ".lock";

std::string LocksDir(const std::string& spool_dir) { return JoinPath(spool_dir, kLocksDir); }

// "start <seq>" on the lock file's second line; 0 when absent or not a number.
uint64_t RecordedStart(const std::string& contents) {
  const size_t at = contents.find("\nstart ");
  if (at == std::string::npos) return 0;
  const std::string digits = contents.substr(at + 7, contents.find('\n', at + 7) - (at + 7));
  auto seq = ParseUint64(digits);
  return seq.ok() ? seq.value() : 0;
}

}  // namespace

std::string ApplyLockPath(const std::string& spool_dir, const std::string& name) {
  return JoinPath(LocksDir(spool_dir), std::string(kApplyLockPrefix) + name + std::string(kLockSuffix));
}

StatusOr<std::unique_ptr<FileLock>> LockPrune(Env* env, const std::string& spool_dir,
                                              int64_t timeout_ms) {
  RETURN_IF_ERROR(env->CreateDirIfMissing(LocksDir(spool_dir)));
  const std::string path = JoinPath(LocksDir(spool_dir), kPruneLockFile);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto lock = env->LockFile(path);
    // Held only while a prune deletes or an apply records its start: retry until free.
    if (lock.ok() || !lock.status().IsBusy() || std::chrono::steady_clock::now() >= deadline) {
      if (!lock.ok() && lock.status().IsBusy()) {
        return Status::Busy(lock.status().message() + " for more than " +
                            std::to_string(timeout_ms / 1000) +
                            " s (a prune, or an apply starting); try again");
      }
      return lock;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

StatusOr<std::unique_ptr<ApplyLock>> ApplyLock::Acquire(Env* env, const std::string& spool_dir,
                                                        const std::string& name) {
  ASSIGN_OR_RETURN(auto prune, LockPrune(env, spool_dir));
  const std::string path = ApplyLockPath(spool_dir, name);
  auto lock = env->LockFile(path);
  if (!lock.ok()) {
    if (lock.status().IsBusy()) {
      return Status::Busy("apply '" + name + "' is already running on " + spool_dir + " (" +
                          lock.status().message() +
                          "); stop that process, or give this one another --name");
    }
    return lock.status();
  }
  return std::unique_ptr<ApplyLock>(new ApplyLock(std::move(lock).value()));
}

Status ApplyLock::RecordStart(uint64_t start_seq) {
  return lock_->Rewrite(std::to_string(::getpid()) + "\nstart " + std::to_string(start_seq) + "\n");
}

StatusOr<LiveApplies> ReadLiveApplies(Env* env, const std::string& spool_dir) {
  LiveApplies live;
  const std::string dir = LocksDir(spool_dir);
  if (!env->FileExists(dir)) return live;
  ASSIGN_OR_RETURN(auto names, env->GetChildren(dir));
  for (const std::string& n : names) {
    if (n.rfind(kApplyLockPrefix, 0) != 0 || n.size() <= kLockSuffix.size() ||
        n.compare(n.size() - kLockSuffix.size(), kLockSuffix.size(), kLockSuffix) != 0) {
      continue;
    }
    const std::string path = JoinPath(dir, n);
    {
      // Free: its apply is gone (no apply takes its lock while we hold prune.lock).
      auto probe = env->LockFile(path);
      if (probe.ok()) continue;
      if (!probe.status().IsBusy()) return probe.status();
    }
    std::string contents;
    Status s = env->ReadFileToString(path, &contents, 256);
    if (!s.ok()) return s;
    live.running++;
    live.lowest_start = std::min(live.lowest_start, RecordedStart(contents));
  }
  return live;
}

}  // namespace docshift::spool
