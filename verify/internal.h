// Pieces shared by verify.cc and reconcile.cc; not an interface for other modules.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "apply/transform.h"
#include "mongo/mongo_util.h"
#include "mongo/namespaces.h"
#include "proto/spool.pb.h"
#include "spool/inspect.h"
#include "util/status.h"
#include "verify/compare.h"
#include "verify/source.h"

namespace docshift::verify::internal {

int64_t NowMs();

// One endpoint: its client pool, the redacted URI for messages, a credential-free id.
struct Side {
  mongo::UriPtr uri;
  mongo::PoolPtr pool;
  std::string redacted;
  std::string identity;
};
// Parses, makes a pool of max_size clients and pings. `what`: "source" or "target".
Status Connect(const std::string& uri, const char* what, int max_size, Side* side);

mongo::CollPtr Collection(mongoc_client_t* c, const std::string& db, const std::string& coll);
std::pair<std::string, std::string> SplitNs(const std::string& ns);  // at the first dot

struct NsPair {
  std::string source;  // "db.coll"
  std::string target;  // after --map
  bool source_exists = true;
  bool target_exists = true;
};
// The selected source namespaces (VerifySource::ListNamespaces) with their target names
// and whether each exists on the target; with include_target_only and a complete source
// listing, also the target collections whose (inversely mapped) source name the filter
// selects but the source lacks.
StatusOr<std::vector<NsPair>> PlanNamespaces(const std::vector<std::string>& sources, bool complete,
                                             mongoc_client_t* tgt, const mongo::NamespaceFilter& filter,
                                             const std::vector<std::string>& maps,
                                             bool include_target_only);

StatusOr<uint64_t> CountDocs(mongoc_client_t* c, const std::string& ns);

// The source collection's _id ranges (unbounded in number, docs_per_range each), plus,
// when split, the `outside` range for _ids of other type brackets.
StatusOr<std::vector<pb::VerifyRange>> SplitRanges(mongoc_client_t* src, const std::string& ns,
                                                   uint64_t docs_per_range, bool* mixed);
mongo::BsonPtr RangeFilterOf(const pb::VerifyRange& r);
std::string DescribeVerifyRange(const pb::VerifyRange& r);

// Streams the target's documents matching filter into cmp (the target side).
// ids_only: projection {_id: 1}, every hash 0 (presence only).
Status ReadTarget(mongoc_client_t* c, const std::string& ns, const bson_t* filter, bool ids_only,
                  bool strict_order, RangeComparer* cmp, uint64_t* docs);

// Adds the source documents `read` delivers to its sink to cmp (the source side).
// ids_only: every hash 0 (presence only). rule: each document as the transform rule
// makes it (as it is when the rule cannot transform it). keep: only documents whose
// (transformed) _id's apply::CanonicalKey is in it.
Status ReadSource(const std::function<Status(const DocSink&)>& read, bool ids_only, bool strict_order,
                  RangeComparer* cmp, uint64_t* docs, const apply::TransformRule* rule = nullptr,
                  const std::unordered_set<std::string>* keep = nullptr);

// {_id: {$in: [values of the {_id: v} documents]}}.
mongo::BsonPtr IdInFilter(const std::vector<const std::string*>& ids);

// Runs fn(i, target client) for every i < n on up to `parallel` threads, each holding
// one client of the target's pool. The first error (or *stop: Aborted) ends it.
Status ParallelFor(Side* tgt, int parallel, size_t n, const std::atomic<bool>* stop,
                   const std::function<Status(size_t, mongoc_client_t*)>& fn);

using spool::JsonString;  // a JSON string literal

}  // namespace docshift::verify::internal
