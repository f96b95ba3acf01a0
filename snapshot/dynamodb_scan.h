// The pure parts of the DynamoDB snapshot source (snapshot/dynamodb_source.cc), apart so
// they are unit-tested without a server: how many parallel Scan segments a table gets,
// and how a Scan page's items become documents (or dead letters).
//
// Thread safety: pure functions.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <string>
#include <vector>

#include "aws/dynamodb_types.h"
#include "mongo/mongo_util.h"
#include "snapshot/source.h"

namespace docshift::snapshot {

// Bytes of table data one Scan segment is planned for.
inline constexpr int64_t kDynamoBytesPerSegment = int64_t{256} << 20;

// TotalSegments of the parallel Scan of a table of size_bytes (DescribeTable's
// TableSizeBytes): ceil(size_bytes / 256 MiB), at least `parallel` when the table has
// items, within [1, max_ranges]. Why (dynamodb_scan.cc has the long form): one segment is
// read by one thread, page after page, so segments are the unit of parallelism, of
// progress and of restart; at least `parallel` of them keeps every worker busy even on a
// small table, 256 MiB keeps a segment to well under a minute of reading at the speed of
// one sequential Scan, and max_ranges bounds snapshot/STATE.
// REQUIRES: parallel >= 1, max_ranges >= 1.
int DynamoSegmentCount(int64_t size_bytes, bool has_items, int parallel, int max_ranges);

// "segment 3/16" (segments counted from 0, as DynamoDB's Segment parameter).
std::string DescribeSegment(int segment, int total_segments);

// Converts every item of a Scan page's Items array (aws::ItemToBson) onto the end of
// *docs, adding their BSON sizes to *bytes. An item that does not convert (a number
// Decimal128 cannot hold, a missing key attribute) is not a document: it goes to
// *unreadable as UnreadableItem describes it, with ItemToBson's message (which names the
// attribute). A non-array `items` is one unreadable record. Items are converted with
// `convert` (--dynamodb_numbers).
void ConvertScanItems(const rapidjson::Value& items, const aws::KeySchema& keys,
                      std::vector<mongo::BsonPtr>* docs, uint64_t* bytes,
                      std::vector<UnreadableRecord>* unreadable, const aws::ConvertOptions& convert = {});

// What the dead-letter file keeps of an item that does not convert:
// {_id: as ItemToBson makes it from the key attributes (absent when they do not convert
// either), <key attributes>, _dynamodb_item: the item's AttributeValue JSON as read}.
mongo::BsonPtr UnreadableItem(const rapidjson::Value& item, const aws::KeySchema& keys,
                              const aws::ConvertOptions& convert = {});

}  // namespace docshift::snapshot
