// `docshift verify` and `docshift reconcile` as a library, so that `docshift cutover` can
// run the final comparison itself. Never reads flags; never prints: progress goes to
// VerifyOptions::progress.
//
// Verify compares source and target collection by collection:
//   1. counts: countDocuments on both sides, and the delta (a DynamoDB table: a full
//      consistent Scan, never DynamoDB's ItemCount estimate);
//   2. content (unless counts_only): the source collection is split into _id ranges
//      (mongo::SplitIdRanges); each range is read from both sides with the same filter
//      and every document reduced to (canonical _id key, 64-bit content hash)
//      (verify/compare.h); ranges run in parallel across collections. A source that
//      cannot be read by _id range (DynamoDB: verify/source.h) is one range per
//      namespace, read whole; its count is what that read found;
//   3. re-check: documents that differed are read again by _id from both sides, after
//      apply has caught up with the spool (spool_dir set) or after recheck_delay_ms;
//      only differences that persist through every round are reported.
// A collection present on one side only is reported as such (with its count), its
// documents are not listed.
//
// Memory: one range's (key, hash, _id) entries per worker, never document bodies, except
// that a collection whose _ids span several BSON type brackets is one range (see
// mongo/id_ranges.h), and so is a DynamoDB table.
//
// Sources: source_uri is a MongoDB connection string or dynamodb://REGION/TABLE[,...]
// (aws/dynamodb_uri.h; each table is namespace dynamodb.TABLE, converted as capture and
// snapshot convert it). The target is always MongoDB-API.
//
// Resumable: with state_path set, each collection plan and each finished range is
// appended (and synced) to that file; a run with the same fingerprint (endpoints,
// filters, maps, options) continues after the last finished range. A completed run marks
// the file finished, so the next run starts over.
//
// Errors: InvalidArgument for bad options (a malformed URI or --map); NotFound for a
// DynamoDB table that does not exist; Unavailable when a server cannot be reached or
// refuses the credentials; Internal for a server error, naming the collection; Aborted
// when *stop was set. Differences are not an error: see VerifyResult::identical.
//
// Thread safety: RunVerify / RunReconcile may be called from any thread; `progress` is
// called from several threads, one call at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mongo/namespaces.h"
#include "util/status.h"
#include "verify/compare.h"

namespace docshift::verify {

struct VerifyOptions {
  std::string source_uri;
  std::string target_uri;
  mongo::NamespaceFilter filter;   // applied to source namespaces
  std::vector<std::string> maps;   // apply::NamespaceMap specs: db.c=db2.c2 or db=db2
  // --transforms (apply/transform.h): each source document is compared as the rule for
  // its source namespace makes it (a document the rule cannot transform as it is: apply
  // dead-lettered it, so it differs). A namespace whose rule makes _id is compared as one
  // range (its source and target _ids differ, so no _id range fits both sides), and its
  // re-check reads the source collection whole. Empty = none.
  std::string transforms_file;
  // DynamoDB sources: how a number no exact BSON type holds is converted: "decimal" (a
  // difference naming the attribute), "string" or "double" (aws/dynamodb_types.h); give
  // the mode capture and snapshot used.
  std::string dynamodb_numbers = "decimal";
  int parallel = 4;                // ranges compared at once
  // Load control (issue #14): source documents and MB (10^6 bytes of BSON) read per second
  // by the whole process (verify/limited_source.h); 0 = no limit.
  double max_docs_per_s = 0;
  double max_mb_per_s = 0;
  bool counts_only = false;
  bool strict_order = false;       // field order counts (default: ignored)
  uint64_t docs_per_range = 100'000;
  // Re-check.
  int recheck_rounds = 2;          // 0 = report first-pass differences as they are
  std::string spool_dir;           // wait for apply to reach the spool's end before each round
  // A spool in a bucket (--spool s3://...; spool_dir is then its URL, for the report): its
  // committed end and lowest apply checkpoint (*any: there is one) are read through this
  // (status::BucketStatusReader::Positions) instead of from spool_dir.
  std::function<Status(uint64_t* end, uint64_t* min_applied, bool* any)> spool_positions;
  int64_t recheck_timeout_ms = 120'000;  // longest wait for apply per round
  int64_t recheck_delay_ms = 2'000;      // wait before each round when no spool is given
  // Files; empty = none.
  std::string report_path;         // JSON report, written atomically at the end
  std::string state_path;          // resumable progress
  const std::atomic<bool>* stop = nullptr;
  std::function<void(const std::string&)> progress;  // one line, no newline
};

struct Difference {
  DiffKind kind = DiffKind::kMissing;
  std::string id;       // BSON {_id: value}
  std::string id_json;  // relaxed Extended JSON of the value
  // Why the source document could not be converted (a DynamoDB number no BSON type
  // holds: the attribute is named), or "".
  std::string problem;
};

struct CollectionResult {
  std::string source_ns;
  std::string target_ns;
  bool source_exists = true;
  bool target_exists = true;
  uint64_t source_count = 0;
  uint64_t target_count = 0;
  int64_t delta() const { return static_cast<int64_t>(target_count) - static_cast<int64_t>(source_count); }
  bool mixed_id_types = false;       // compared as one range
  uint64_t ranges = 0;
  uint64_t source_docs_read = 0;     // first pass
  uint64_t target_docs_read = 0;
  uint64_t first_pass_differences = 0;
  std::vector<Difference> differences;  // persisted through every re-check; sorted by kind
  uint64_t missing = 0, extra = 0, changed = 0;
  // Whether this collection is in order: both sides exist and (content compared) no
  // difference persisted, or (counts_only) the counts are equal.
  bool ok() const;
};

struct VerifyResult {
  std::vector<CollectionResult> collections;
  bool counts_only = false;
  bool identical = false;           // every collection ok()
  uint64_t differences = 0;         // persisting differences over all collections
  uint64_t first_pass_differences = 0;
  int recheck_rounds_run = 0;
  bool apply_caught_up = true;      // every spool wait reached its sequence in time
  uint64_t waited_for_seq = 0;      // last spool sequence the re-check waited for
  bool resumed = false;             // continued from the state file
  int64_t started_wall_ms = 0;
  int64_t finished_wall_ms = 0;
  // Under a load limit: "N docs/s (limit L), M MB/s" of source documents read; else empty.
  std::string load;
};

StatusOr<VerifyResult> RunVerify(const VerifyOptions& opts);

// The JSON report (README.md: "Report format"). URIs are printed redacted.
std::string ReportJson(const VerifyOptions& opts, const VerifyResult& r);

struct ReconcileOptions {
  std::string source_uri;
  std::string target_uri;
  mongo::NamespaceFilter filter;
  std::vector<std::string> maps;
  std::string dynamodb_numbers = "decimal";  // as VerifyOptions::dynamodb_numbers
  int parallel = 4;
  double max_docs_per_s = 0, max_mb_per_s = 0;  // as VerifyOptions
  uint64_t docs_per_range = 100'000;
  bool dry_run = false;             // list what would be deleted, delete nothing
  int64_t interval_ms = 0;          // 0 = one pass; else repeat until *stop
  const std::atomic<bool>* stop = nullptr;
  std::function<void(const std::string&)> progress;
  // Called for each document deleted (or, dry run, that would be deleted).
  std::function<void(const std::string& target_ns, const std::string& id_json)> on_delete;
};

struct ReconcileResult {
  int passes = 0;
  uint64_t candidates = 0;   // _ids on the target and not on the source in a range read
  uint64_t kept = 0;         // present on the source again at the re-check: not deleted
  uint64_t deleted = 0;      // (dry run: would be deleted)
  uint64_t restored = 0;     // reappeared on the source right after deletion: copied back
  std::string load;          // as VerifyResult::load
};

// Deletes from the target the documents whose _id the source no longer has (a Cosmos DB
// change stream reports no deletes). Each candidate is looked up on the source by _id
// right before its deletion and kept if it is there; after deleting, the source is
// asked once more and a document that appeared meanwhile is copied back to the target.
StatusOr<ReconcileResult> RunReconcile(const ReconcileOptions& opts);

}  // namespace docshift::verify
