// Locks that keep applies apart from each other and from prune (spool/FORMAT.md, "Locks"):
//
//   locks/apply-<name>.lock  flock'ed by the running apply of that name for its lifetime:
//                            a second apply of the name is refused with the holder's pid.
//                            Holds "<pid>\n", then "<pid>\nstart <seq>\n" once the apply
//                            knows where it starts reading.
//   locks/prune.lock         flock'ed by prune while it decides what to delete and deletes
//                            it, and by an apply while it takes its lock and while it
//                            decides and records its start.
//
// The rule: prune never deletes a segment holding a sequence >= the recorded start of a
// running apply (one whose lock is held), and deletes nothing while a running apply has
// not recorded its start yet. Race-free because an apply takes its lock, and decides and
// records its start, only while holding prune.lock, and prune reads the apply locks only
// while holding it: a prune sees every running apply, each with its start or without one.
// A lock file whose flock nobody holds is stale (its process died) and ignored.
//
// Thread safety: one thread per object.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "util/env.h"
#include "util/status.h"

namespace docshift::spool {

std::string ApplyLockPath(const std::string& spool_dir, const std::string& name);

// Takes locks/prune.lock, waiting (polling) while another process holds it for up to
// timeout_ms; then Busy naming the holder's pid.
StatusOr<std::unique_ptr<FileLock>> LockPrune(Env* env, const std::string& spool_dir,
                                              int64_t timeout_ms = 60'000);

class ApplyLock {
 public:
  // Takes locks/apply-NAME.lock (and prune.lock while doing so). Busy naming the running
  // apply's pid if another process holds it.
  static StatusOr<std::unique_ptr<ApplyLock>> Acquire(Env* env, const std::string& spool_dir,
                                                      const std::string& name);
  // Records where this apply starts reading. REQUIRES: the caller holds LockPrune and
  // decided start_seq while holding it (from the checkpoint or --from, checked against the
  // spool as it is under that lock).
  Status RecordStart(uint64_t start_seq);

 private:
  explicit ApplyLock(std::unique_ptr<FileLock> lock) : lock_(std::move(lock)) {}
  std::unique_ptr<FileLock> lock_;
};

// The running applies, as prune sees them. REQUIRES: the caller holds LockPrune.
struct LiveApplies {
  int running = 0;                 // apply locks held
  uint64_t lowest_start = UINT64_MAX;  // lowest recorded start; 0 if one has none yet
};
StatusOr<LiveApplies> ReadLiveApplies(Env* env, const std::string& spool_dir);

}  // namespace docshift::spool
