// Which range a snapshot worker copies next, when several workers share one snapshot
// through a bucket (issue #13; spool/FORMAT.md, "Snapshot by several workers"), and how
// far the whole snapshot is. Pure functions over what a worker read from the bucket
// (snapshot/PLAN, snapshot/claims/, snapshot/done/): no I/O, unit-tested without a server.
// snapshot/bucket_snapshot.h does the reads and the conditional PUTs.
//
// Rules:
//   - a range with a done object is finished, whoever holds a claim on it;
//   - an unclaimed range is taken with a create-only PUT (If-None-Match: *);
//   - a claim whose holder has not renewed it for lease_ms (its updated_wall_ms, the
//     holder's clock) is taken over with If-Match on the ETag read; a live one is left;
//   - "finish" (indexes, snapshot/STATE finished) is claimable only once every range is
//     done; the snapshot is over when "finish" is done.
// Workers that race for one range: one PUT wins, the others read again and pick anew.
// To make such races rare, each worker starts its pick at a place in the first few free
// ranges that depends on its id.
//
// Thread safety: plain functions and values.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "proto/spool.pb.h"

namespace docshift::snapshot {

inline constexpr char kFinishRangeId[] = "finish";
// --snapshot_lease's default; `status` judges claims by it (it cannot know a worker's flag).
inline constexpr int64_t kDefaultClaimLeaseMs = 30'000;

// "0003-000017": collection 3, range 17 of the plan (its order in SnapshotState).
std::string RangeId(int coll, int range);
// The inverse; false for anything else (including "finish").
bool ParseRangeId(const std::string& id, int* coll, int* range);
// Every range id of the plan, in plan order (without "finish").
std::vector<std::string> PlanRangeIds(const pb::SnapshotState& plan);

struct ClaimSeen {
  std::string holder;           // writer_id
  int64_t updated_wall_ms = 0;
  std::string etag;             // for the If-Match of a takeover
};

// What one read of the bucket found.
struct ClaimsView {
  std::map<std::string, ClaimSeen> claims;            // by range id
  std::map<std::string, pb::SnapshotClaim> done;      // by range id
};

bool LeaseExpired(const ClaimSeen& c, int64_t now_ms, int64_t lease_ms);

struct NextRange {
  enum class Kind {
    kTake,      // create snapshot/claims/<range_id>
    kTakeOver,  // overwrite it with If-Match: etag (its holder's lease expired)
    kWait,      // every range left is held by a live worker: read again later
    kAllDone,   // "finish" is done: the snapshot is over
  };
  Kind kind = Kind::kWait;
  std::string range_id;
  std::string etag;         // kTakeOver
  std::string from_holder;  // kTakeOver: whose claim
};

// The next step of worker `self`. `skip` holds the ranges this worker holds (it renews
// them); an expired claim of its own that it no longer holds (it gave the range up when
// it could not renew it in time) is taken over like any other.
NextRange ChooseNextRange(const std::vector<std::string>& range_ids, const ClaimsView& view,
                          const std::string& self, int64_t now_ms, int64_t lease_ms,
                          const std::set<std::string>& skip = {});

// The whole snapshot, for any worker's progress line and for `status`.
struct SnapshotProgress {
  int ranges_total = 0;
  int ranges_done = 0;
  int ranges_claimed = 0;      // held by a live worker and not done
  int ranges_stale = 0;        // claimed, lease expired, not done (a worker died)
  int workers = 0;             // distinct live holders
  uint64_t docs_done = 0;      // documents of the done ranges
  uint64_t bytes_done = 0;
  uint64_t docs_estimated = 0; // the plan's estimate for every collection
  bool finished = false;       // "finish" is done
  double eta_s = -1;           // -1: unknown (nothing done yet)
  // Per collection, in the plan's order: ranges done and their documents.
  std::vector<int> collection_ranges_done;
  std::vector<uint64_t> collection_docs_done;
  std::string ToString() const;  // "ranges 12/40 done, 3 copying (3 workers), 120000 docs, ETA 0:42"
};

// From the plan and one read of claims and done objects, at now_ms. The ETA extrapolates
// the rate of done ranges since the plan's started_wall_ms: by documents when the plan
// estimates them, else by ranges.
SnapshotProgress ComputeProgress(const pb::SnapshotState& plan, const ClaimsView& view, int64_t now_ms,
                                 int64_t lease_ms);

}  // namespace docshift::snapshot
