#include "mongo/id_ranges.h"

#include <glog/logging.h>

namespace docshift::mongo {

int TypeBracket(bson_type_t t) {
  // MongoDB's comparison/sort order of BSON types.
  switch (t) {
    case BSON_TYPE_MINKEY: return 0;
    case BSON_TYPE_UNDEFINED:
    case BSON_TYPE_NULL: return 1;
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
    case BSON_TYPE_DOUBLE:
    case BSON_TYPE_DECIMAL128: return 2;
    case BSON_TYPE_UTF8:
    case BSON_TYPE_SYMBOL: return 3;
    case BSON_TYPE_DOCUMENT: return 4;
    case BSON_TYPE_ARRAY: return 5;
    case BSON_TYPE_BINARY: return 6;
    case BSON_TYPE_OID: return 7;
    case BSON_TYPE_BOOL: return 8;
    case BSON_TYPE_DATE_TIME: return 9;
    case BSON_TYPE_TIMESTAMP: return 10;
    case BSON_TYPE_REGEX: return 11;
    case BSON_TYPE_MAXKEY: return 100;
    default: return 50 + static_cast<int>(t);  // rare types: each its own bracket
  }
}

BsonPtr RangeFilter(const IdRange& r) {
  BsonPtr f(bson_new());
  if (r.min_id.empty() && r.max_id.empty()) return f;
  bson_t id;
  bson_append_document_begin(f.get(), "_id", 3, &id);
  auto add = [&](const std::string& bound, const char* op) {
    if (bound.empty()) return;
    bson_t b;
    bson_iter_t it;
    if (!ViewBytes(bound, &b) || !bson_iter_init_find(&it, &b, "_id")) return;
    bson_append_iter(&id, op, -1, &it);
  };
  add(r.min_id, "$gte");
  add(r.max_id, "$lt");
  bson_append_document_end(f.get(), &id);
  return f;
}

std::string DescribeRange(const IdRange& r) {
  auto show = [](const std::string& bound, const char* unbounded) -> std::string {
    if (bound.empty()) return unbounded;
    bson_t b;
    if (!ViewBytes(bound, &b)) return "?";
    return ToJson(&b);
  };
  return "[" + show(r.min_id, "start") + ", " + show(r.max_id, "end") + ")";
}

namespace {

// The first document in _id order ({_id: 1} projection), in the given direction.
Status EdgeId(mongoc_collection_t* coll, int direction, std::string* out, bson_type_t* type) {
  out->clear();
  BsonPtr opts(BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}", "sort", "{", "_id",
                        BCON_INT32(direction), "}", "limit", BCON_INT64(1)));
  BsonPtr filter(bson_new());
  CursorPtr cur(mongoc_collection_find_with_opts(coll, filter.get(), opts.get(), nullptr));
  const bson_t* doc;
  if (mongoc_cursor_next(cur.get(), &doc)) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, "_id")) {
      *type = bson_iter_type(&it);
      BsonPtr b(bson_new());
      bson_append_iter(b.get(), "_id", 3, &it);
      *out = Bytes(b.get());
    }
  }
  bson_error_t err;
  if (mongoc_cursor_error(cur.get(), &err)) return FromBsonError(err, "reading the _id range");
  return Status::OK();
}

}  // namespace

StatusOr<SplitResult> SplitIdRanges(mongoc_collection_t* coll, const SplitOptions& opts) {
  SplitResult out;
  std::string lo, hi;
  bson_type_t lo_type = BSON_TYPE_EOD, hi_type = BSON_TYPE_EOD;
  RETURN_IF_ERROR(EdgeId(coll, 1, &lo, &lo_type));
  if (lo.empty()) {  // empty collection
    out.ranges.push_back(IdRange{});
    return out;
  }
  RETURN_IF_ERROR(EdgeId(coll, -1, &hi, &hi_type));
  if (TypeBracket(lo_type) != TypeBracket(hi_type)) out.mixed_id_types = true;

  // One pass over the _ids in order, remembering every docs_per_range-th as a cut.
  std::vector<std::string> cuts;
  uint64_t step = std::max<uint64_t>(1, opts.docs_per_range);
  BsonPtr find_opts(BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}", "sort", "{", "_id",
                             BCON_INT32(1), "}", "batchSize", BCON_INT32(10000)));
  BsonPtr filter(bson_new());
  CursorPtr cur(mongoc_collection_find_with_opts(coll, filter.get(), find_opts.get(), nullptr));
  const bson_t* doc;
  uint64_t n = 0;
  while (mongoc_cursor_next(cur.get(), &doc)) {
    ++n;
    out.bytes += doc->len;
    if (out.mixed_id_types || n % step != 1 || n == 1) continue;
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, "_id")) continue;
    BsonPtr b(bson_new());
    bson_append_iter(b.get(), "_id", 3, &it);
    cuts.push_back(Bytes(b.get()));
  }
  bson_error_t err;
  if (mongoc_cursor_error(cur.get(), &err)) return FromBsonError(err, "reading _ids to split");
  out.docs = n;
  out.bytes = 0;  // the _id-only documents say nothing about document size
  // Too many ranges: keep every k-th cut.
  if (opts.max_ranges > 0 && cuts.size() + 1 > static_cast<size_t>(opts.max_ranges)) {
    size_t k = (cuts.size() + 1 + opts.max_ranges - 1) / opts.max_ranges;
    std::vector<std::string> kept;
    for (size_t i = k - 1; i < cuts.size(); i += k) kept.push_back(cuts[i]);
    cuts.swap(kept);
  }
  std::string prev;
  for (auto& c : cuts) {
    out.ranges.push_back(IdRange{prev, c});
    prev = c;
  }
  out.ranges.push_back(IdRange{prev, ""});
  return out;
}

}  // namespace docshift::mongo
