// Splitting a collection into _id ranges, for the parallel snapshot and for verify.
//
// A range is [min_id, max_id) in the server's _id order, each bound a BSON {_id: value}
// document (empty = unbounded). Its query filter is {_id: {$gte: min, $lt: max}}.
//
// Range queries only match values of one type bracket (numbers, strings, ObjectIds, ...),
// so a collection is split only when its smallest and largest _id share a bracket (then,
// the server's sort order being by bracket first, every _id between them does too).
// Otherwise the collection is one unbounded range, which matches every document.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mongo/mongo_util.h"
#include "util/status.h"

namespace docshift::mongo {

struct IdRange {
  std::string min_id;  // BSON {_id: v}, inclusive; empty = from the first document
  std::string max_id;  // BSON {_id: v}, exclusive; empty = to the last document
};

// {_id: {$gte: min, $lt: max}}, omitting an unbounded side; {} for an unbounded range.
BsonPtr RangeFilter(const IdRange& r);
// "[{_id: 1}, {_id: 500})" for logs and reports.
std::string DescribeRange(const IdRange& r);

struct SplitOptions {
  uint64_t docs_per_range = 100'000;
  int max_ranges = 64;
};

struct SplitResult {
  std::vector<IdRange> ranges;  // contiguous, ascending, covering every document
  uint64_t docs = 0;            // documents counted while splitting
  uint64_t bytes = 0;           // their size, from the collection's stats where known
  bool mixed_id_types = false;  // not split because _ids span several type brackets
};

// Reads the collection's _ids in order (projection {_id: 1}) and cuts a range every
// docs_per_range documents (more per range if max_ranges would be exceeded).
StatusOr<SplitResult> SplitIdRanges(mongoc_collection_t* coll, const SplitOptions& opts);

// The BSON comparison bracket of a type (numbers share one); see the header comment.
int TypeBracket(bson_type_t t);

}  // namespace docshift::mongo
