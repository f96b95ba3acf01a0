// `docshift snapshot`: the initial load, coordinated with capture (seed 001: start
// capture just before the snapshot, apply just after it).
//
// Order of events that makes the copy plus replay exact:
//   1. capture is running on the spool and has recorded its start position;
//   2. the snapshot notes the spool's end (start_seq) in snapshot/STATE, durably, before
//      it reads any document: every event <= start_seq is already reflected in what it
//      will read, every change made while it copies gets a seq > start_seq;
//   3. it copies every collection, in _id ranges, with unordered bulk inserts (a
//      document already on the target is a duplicate key and left alone);
//   4. apply, started after the snapshot finished, replays from start_seq + 1; its writes
//      are idempotent, so changes that the copy already saw are harmless.
// Apply refuses to run alongside an unfinished snapshot (it waits), because a stale
// document the snapshot inserts after apply deleted it would never be removed.
//
// Resumable: the plan (collections and _id ranges) is written before the copy starts and
// each finished range is recorded; after a crash, a restart copies only unfinished
// ranges again (their documents already on the target are duplicate keys, skipped).
//
// Documents the target refuses for a permanent reason go to the dead-letter file
// deadletter/snapshot.dlq (`docshift inspect deadletters`), and the copy continues.
#pragma once

#include <atomic>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "mongo/namespaces.h"
#include "util/status.h"

namespace docshift::snapshot {

struct SnapshotOptions {
  std::string source_uri;
  std::string target_uri;
  std::string spool_dir;
  mongo::NamespaceFilter namespaces;
  std::vector<std::string> maps;  // as apply's --map
  // --transforms (apply/transform.h): each document as the rule for its source namespace
  // makes it; one a rule cannot transform goes to the dead-letter file. Empty = none.
  std::string transforms_file;
  int parallel = 4;               // ranges copied at once
  uint64_t docs_per_range = 100'000;
  int max_ranges = 64;            // per collection
  int batch_docs = 1000;           // also the Limit of a DynamoDB Scan page
  uint64_t batch_bytes = 8ull << 20;
  std::string indexes = "after";  // before | after | none
  bool indexes_strict = false;    // an index the target refuses fails the snapshot
  // A new snapshot refuses target collections that already hold documents, unless one of:
  bool drop_target = false;       // drop them first
  bool allow_nonempty_target = false;
  bool restart = false;           // start over even if a snapshot exists in the spool
  // DynamoDB sources: read capacity units per second shared by every segment reader
  // (charged with what each Scan page consumed). 0: unlimited.
  double max_rcu = 0;
  // Load control (issue #14): documents and MB (10^6 bytes of BSON) written to the target
  // per second by the whole snapshot, every range together (one LoadLimit); 0 = no limit.
  // A batch then holds at most a quarter of a second's budget, so the load stays smooth.
  double max_docs_per_s = 0;
  double max_mb_per_s = 0;
  // DynamoDB sources: a number no exact BSON type holds is dead-lettered ("decimal"),
  // stored as its decimal text ("string") or as the nearest double ("double")
  // (aws/dynamodb_types.h). It must be the mode capture records in the spool.
  std::string dynamodb_numbers = "decimal";
  int64_t progress_interval_ms = 10'000;
  bool progress_bars = false;     // redraw a bar per collection (a terminal)
  std::ostream* progress_out = nullptr;  // bars and progress lines (stderr)
  const std::atomic<bool>* stop = nullptr;
};

struct SnapshotResult {
  std::string snapshot_id;
  uint64_t start_seq = 0;
  bool resumed = false;
  bool already_finished = false;
  int collections = 0;
  int ranges = 0;
  int ranges_skipped = 0;      // finished by an earlier run
  uint64_t docs = 0;           // written by this run (inserted or already there)
  uint64_t bytes = 0;
  uint64_t docs_rejected = 0;  // dead-lettered
  std::vector<std::string> rejected_indexes;
  int indexes_created = 0;
  int64_t elapsed_ms = 0;
  // The load this run put on the target: "N docs/s (limit L), M MB/s" (LoadLimit::Describe).
  std::string load;
  uint64_t throttled = 0;  // writes the target pushed back (mongo::IsThrottled), each retried
};

// Runs (or resumes) the snapshot to the end. Cancelled (with the state saved) when
// *stop becomes true.
StatusOr<SnapshotResult> RunSnapshot(const SnapshotOptions& opts);

// Hands out the ranges of a plan shared by several workers (snapshot/bucket_snapshot.h):
// the copier then copies the ranges it gets instead of every unfinished one, saves no
// local STATE and copies no indexes (the worker that finishes the snapshot does).
// Thread safety: called from every copier thread at once.
class RangeClaimer {
 public:
  virtual ~RangeClaimer() = default;
  // The next range for this worker (plan indexes). false: nothing is left for it (every
  // range is done, or the snapshot stops). Waits while the ranges left are held by live
  // workers.
  virtual StatusOr<bool> Next(int* coll, int* range) = 0;
  // False once another worker took the range over: stop copying it (harmless either way).
  virtual bool Held(int coll, int range) = 0;
  // The range is on the target (dead letters synced): record it, release it.
  virtual Status Done(int coll, int range, uint64_t docs, uint64_t bytes) = 0;
  // The copy failed: a Next() waiting for ranges returns false at once.
  virtual void Abort() {}
};


}  // namespace docshift::snapshot
