// `docshift snapshot --spool s3://BUCKET/PREFIX`: one worker of a snapshot whose plan and
// claims live in the bucket (issue #13; spool/FORMAT.md, "Snapshot by several workers").
// Any number of workers may run, on any machines, with the same flags:
//
//   1. plan once: the first worker plans (as the local snapshot does) and creates
//      snapshot/PLAN create-only; start_seq is the bucket log's committed end. A worker that
//      loses the race reads the winner's plan. Before any range is copied, snapshot/STATE
//      exists unfinished with that start_seq (any worker creates it from the PLAN when
//      missing), so an apply on the bucket waits for the snapshot;
//   2. claims: each range is copied by the worker holding snapshot/claims/<range id>
//      (taken create-only, or with If-Match once its holder's lease expired; renewed with
//      If-Match every lease/3 while copied; a renewal that gets 412 means the range was
//      taken over: the copy of it stops). A finished range gets snapshot/done/<range id>.
//      A range copied twice is harmless: documents already there are duplicate keys, and
//      apply replays every change from start_seq + 1;
//   3. the worker that claims "finish" (claimable once every range is done) copies the
//      indexes, writes snapshot/STATE finished (If-Match) and creates snapshot/done/finish;
//      every worker exits 0 once it exists.
//
// One or the other: a local `docshift snapshot` on the capture machine ships its own
// snapshot/STATE to the same prefix. A bucket snapshot refuses to start when a STATE is
// there without a PLAN, or with another snapshot id.
//
// Thread safety: BucketSnapshotStore serializes its calls (one mutex, one S3 client).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "bucket/location.h"
#include "proto/spool.pb.h"
#include "snapshot/bucket_claims.h"
#include "snapshot/snapshot.h"
#include "util/status.h"

namespace docshift::aws {
class S3Client;
}

namespace docshift::snapshot {

struct WorkerIdentity {
  std::string id;  // random per run (bucket::NewWriterId)
  std::string host;
  int64_t pid = 0;
};

// The objects of a shared snapshot: snapshot/PLAN, snapshot/STATE, snapshot/claims/*,
// snapshot/done/*. Errors: FailedPrecondition for a lost conditional PUT; others as the S3
// client returns them.
class BucketSnapshotStore {
 public:
  BucketSnapshotStore(std::unique_ptr<aws::S3Client> s3, bucket::BucketLocation loc, WorkerIdentity me);
  ~BucketSnapshotStore();

  const bucket::BucketLocation& location() const { return loc_; }
  const WorkerIdentity& me() const { return me_; }

  // NotFound when there is no PLAN.
  Status ReadPlan(pb::SnapshotState* plan);
  // Creates PLAN create-only. *won false: another worker's plan was there first, and
  // *plan now holds it.
  Status CreatePlan(pb::SnapshotState* plan, bool* won);
  // NotFound when there is no STATE.
  Status ReadState(pb::SnapshotState* state, std::string* etag);
  // STATE unfinished from the plan, create-only; fine when STATE of this plan exists.
  // FailedPrecondition when a STATE of another snapshot is there (a local snapshot's).
  Status EnsureStateStarted(const pb::SnapshotState& plan);
  // STATE finished (If-Match on the ETag read): FailedPrecondition when it changed.
  Status FinishState(const pb::SnapshotState& plan, const std::vector<std::string>& rejected_indexes);

  // Every claim and done object of the snapshot (a claim object is read only when its
  // ETag changed since the last call; done objects once).
  StatusOr<ClaimsView> ReadClaims();
  // Takes range_id: create-only when etag is empty, else If-Match etag (a takeover).
  // FailedPrecondition when another worker was first.
  Status Claim(const std::string& range_id, const std::string& etag, int64_t now_ms);
  // Renews a claim this store holds (If-Match on its last write). FailedPrecondition when
  // another worker took it over (the store forgets it then).
  Status Renew(const std::string& range_id, int64_t now_ms);
  // Creates done/<range_id> (create-only; one there already, from a worker that copied it
  // too, is fine) and forgets the claim.
  Status MarkDone(const std::string& range_id, uint64_t docs, uint64_t bytes, int64_t now_ms);
  // Stops renewing range_id (its claim then expires and may be taken over).
  void Release(const std::string& range_id);
  // Range ids this store holds.
  std::set<std::string> Held();
  // Uploads a local file to snapshot/deadletter/<name> (dead letters of this worker).
  Status PutFile(const std::string& name, const std::string& body);

 private:
  std::string Key(const std::string& name) const;
  pb::SnapshotClaim ClaimRecord(const std::string& range_id, int64_t now_ms) const;
  Status PutClaimLocked(const std::string& key, const pb::SnapshotClaim& c, const std::string& if_match,
                        std::string* etag);

  std::unique_ptr<aws::S3Client> s3_;
  bucket::BucketLocation loc_;
  WorkerIdentity me_;
  std::string snapshot_id_;  // of the plan read or created
  std::mutex mu_;
  std::map<std::string, std::string> held_;  // range id -> ETag of this store's last claim write
  std::map<std::string, std::pair<std::string, ClaimSeen>> seen_;  // key -> (etag, claim)
  std::map<std::string, pb::SnapshotClaim> done_;
  uint64_t attempts_ = 0;
};

struct BucketSnapshotOptions {
  bucket::BucketLocation loc;
  std::function<StatusOr<std::unique_ptr<aws::S3Client>>()> new_s3;  // one client per use
  int64_t lease_ms = kDefaultClaimLeaseMs;
  // Where a worker waits between reads of the claims when every range left is held.
  int64_t poll_ms = 1000;
  // Only print the whole snapshot's progress, once, and return.
  bool progress_only = false;
};

struct BucketSnapshotResult {
  SnapshotResult run;      // this worker's part
  SnapshotProgress whole;  // the whole snapshot at the end
  bool finished_here = false;  // this worker ran the finish step
  std::string worker_id;
};

// Runs one worker to the end of the whole snapshot (see the header comment).
StatusOr<BucketSnapshotResult> RunBucketSnapshot(const SnapshotOptions& opts, const BucketSnapshotOptions& b);

// The whole snapshot's progress from the bucket (for `status` and --progress_only).
// NotFound when the prefix has no PLAN.
StatusOr<SnapshotProgress> ReadBucketSnapshotProgress(BucketSnapshotStore* store, int64_t lease_ms);

}  // namespace docshift::snapshot
