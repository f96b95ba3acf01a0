#include "snapshot/dynamodb_scan.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

namespace docshift::snapshot {

// The segment rule, at length. DynamoDB splits a parallel Scan by hash key into
// TotalSegments disjoint segments; each is read sequentially (1 MB pages, each needing
// the previous page's LastEvaluatedKey), so:
//  - throughput comes from reading several segments at once: with fewer segments than
//    --parallel workers some would idle, hence at least `parallel` for any table with
//    items (a one-item table gets `parallel` mostly empty segments: a few cheap calls);
//  - a segment is the unit of restart and progress: ~256 MiB is roughly 256 pages, well
//    under a minute for one reader at the usual 5-20 MB/s of one sequential Scan, so
//    segments finish steadily and the slowest one does not trail the rest by much;
//    more, smaller segments than workers also even out uneven segments (hash
//    partitions are not the same size);
//  - max_ranges (SnapshotOptions.max_ranges, 64) bounds the plan in snapshot/STATE; tables
//    beyond 64 × 256 MiB get proportionally larger segments.
// The value is written into the plan and never recomputed on a resume (see
// SnapshotCollection.total_segments).
int DynamoSegmentCount(int64_t size_bytes, bool has_items, int parallel, int max_ranges) {
  const int64_t by_size = size_bytes <= 0 ? 0 : (size_bytes + kDynamoBytesPerSegment - 1) / kDynamoBytesPerSegment;
  int64_t n = std::max<int64_t>(1, by_size);
  if (has_items) n = std::max<int64_t>(n, parallel);
  return static_cast<int>(std::clamp<int64_t>(n, 1, std::max(1, max_ranges)));
}

std::string DescribeSegment(int segment, int total_segments) {
  return "segment " + std::to_string(segment) + "/" + std::to_string(total_segments);
}

namespace {

std::string ToJson(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return std::string(sb.GetString(), sb.GetSize());
}

}  // namespace

mongo::BsonPtr UnreadableItem(const rapidjson::Value& item, const aws::KeySchema& keys,
                              const aws::ConvertOptions& convert) {
  mongo::BsonPtr out(bson_new());
  if (item.IsObject()) {
    // The key attributes alone: when they convert, the record has the _id the document
    // would have had (inspect and the operator find it by its key).
    rapidjson::Document key_only(rapidjson::kObjectType);
    for (const std::string* name : {&keys.hash_name, &keys.range_name}) {
      if (name->empty()) continue;
      auto m = item.FindMember(name->c_str());
      if (m == item.MemberEnd()) continue;
      key_only.AddMember(rapidjson::Value(name->c_str(), key_only.GetAllocator()),
                         rapidjson::Value(m->value, key_only.GetAllocator()), key_only.GetAllocator());
    }
    bson_t key_doc;
    bson_init(&key_doc);
    if (aws::ItemToBson(key_only, keys, &key_doc, convert).ok()) bson_concat(out.get(), &key_doc);
    bson_destroy(&key_doc);
  }
  const std::string json = ToJson(item);
  BSON_APPEND_UTF8(out.get(), "_dynamodb_item", json.c_str());
  return out;
}

void ConvertScanItems(const rapidjson::Value& items, const aws::KeySchema& keys,
                      std::vector<mongo::BsonPtr>* docs, uint64_t* bytes,
                      std::vector<UnreadableRecord>* unreadable, const aws::ConvertOptions& convert) {
  if (!items.IsArray()) {
    unreadable->push_back({UnreadableItem(items, keys, convert), "the Scan response's Items is not an array"});
    return;
  }
  for (const auto& item : items.GetArray()) {
    mongo::BsonPtr doc(bson_new());
    Status s = aws::ItemToBson(item, keys, doc.get(), convert);
    if (!s.ok()) {
      unreadable->push_back({UnreadableItem(item, keys, convert), s.message() + "; not written"});
      continue;
    }
    *bytes += doc->len;
    docs->push_back(std::move(doc));
  }
}

}  // namespace docshift::snapshot
