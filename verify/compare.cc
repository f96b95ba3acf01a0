#include "verify/compare.h"

#include <algorithm>

#include "apply/translate.h"

namespace docshift::verify {
namespace {

// FNV-1a over the canonical bytes, finished with murmur3's 64-bit finaliser so that
// nearby inputs spread over all 64 bits.
uint64_t Hash64(const std::string& bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

void AppendLength(size_t v, std::string* out) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void AppendDocument(const bson_t* doc, bool is_array, bool strict_order, bool top_level,
                    std::string* out);

// type | value. Documents and arrays are encoded canonically, every other type as its
// raw value bytes (which the iterator delimits: [d1, next_off)).
void AppendValue(const bson_iter_t* it, bool strict_order, std::string* out) {
  const bson_type_t t = bson_iter_type(it);
  out->push_back(static_cast<char>(t));
  if (t == BSON_TYPE_DOCUMENT || t == BSON_TYPE_ARRAY) {
    uint32_t len = 0;
    const uint8_t* data = nullptr;
    if (t == BSON_TYPE_DOCUMENT) {
      bson_iter_document(it, &len, &data);
    } else {
      bson_iter_array(it, &len, &data);
    }
    bson_t sub;
    if (data != nullptr && bson_init_static(&sub, data, len)) {
      AppendDocument(&sub, t == BSON_TYPE_ARRAY, strict_order, false, out);
    }
    return;
  }
  const size_t n = it->next_off > it->d1 ? it->next_off - it->d1 : 0;
  AppendLength(n, out);
  out->append(reinterpret_cast<const char*>(it->raw + it->d1), n);
}

// Each field as length-prefixed key | value; a document's fields sorted by key unless
// strict_order (arrays keep their order). At the top level the _id is replaced by its
// canonical key, so numeric _id type differences between servers do not count.
void AppendDocument(const bson_t* doc, bool is_array, bool strict_order, bool top_level,
                    std::string* out) {
  std::vector<std::string> fields;
  bson_iter_t it;
  if (!bson_iter_init(&it, doc)) {
    out->append("\xff<invalid>");
    return;
  }
  while (bson_iter_next(&it)) {
    std::string f;
    const uint32_t klen = bson_iter_key_len(&it);
    AppendLength(klen, &f);
    f.append(bson_iter_key(&it), klen);
    if (top_level && klen == 3 && std::string_view(bson_iter_key(&it), 3) == "_id") {
      mongo::BsonPtr id(bson_new());
      bson_append_iter(id.get(), "_id", 3, &it);
      const std::string key = apply::CanonicalKey(mongo::Bytes(id.get()));
      f.push_back('\0');
      AppendLength(key.size(), &f);
      f.append(key);
    } else {
      AppendValue(&it, strict_order, &f);
    }
    fields.push_back(std::move(f));
  }
  if (!is_array && !strict_order) std::sort(fields.begin(), fields.end());
  out->push_back(is_array ? '[' : '{');
  AppendLength(fields.size(), out);
  for (const auto& f : fields) out->append(f);
}

}  // namespace

const char* DiffKindName(DiffKind k) {
  switch (k) {
    case DiffKind::kMissing: return "missing";
    case DiffKind::kExtra: return "extra";
    case DiffKind::kChanged: return "changed";
  }
  return "?";
}

uint64_t HashDocument(const bson_t* doc, bool strict_order) {
  std::string canon;
  canon.reserve(doc->len + 64);
  AppendDocument(doc, false, strict_order, true, &canon);
  return Hash64(canon);
}

std::string IdOf(const bson_t* doc) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, "_id")) return "";
  mongo::BsonPtr id(bson_new());
  bson_append_iter(id.get(), "_id", 3, &it);
  return mongo::Bytes(id.get());
}

bool RangeComparer::AddSource(std::string id, uint64_t hash, std::string problem) {
  std::string key = apply::CanonicalKey(id);
  return source_.emplace(std::move(key), Entry{hash, std::move(id), std::move(problem)}).second;
}

void RangeComparer::AddTarget(const std::string& id, uint64_t hash) {
  std::string key = apply::CanonicalKey(id);
  auto it = source_.find(key);
  if (it == source_.end()) {
    found_.emplace_back(std::move(key), Candidate{DiffKind::kExtra, id, ""});
    return;
  }
  if (it->second.hash != hash || !it->second.problem.empty()) {
    found_.emplace_back(std::move(key), Candidate{DiffKind::kChanged, std::move(it->second.id),
                                                  std::move(it->second.problem)});
  }
  source_.erase(it);
}

std::vector<Candidate> RangeComparer::Finish() {
  for (auto& [key, e] : source_) {
    found_.emplace_back(key, Candidate{DiffKind::kMissing, std::move(e.id), std::move(e.problem)});
  }
  source_.clear();
  std::sort(found_.begin(), found_.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Candidate> out;
  out.reserve(found_.size());
  for (auto& f : found_) out.push_back(std::move(f.second));
  found_.clear();
  return out;
}

std::string IdJson(const std::string& id) {
  bson_t b;
  bson_iter_t it;
  if (!mongo::ViewBytes(id, &b) || !bson_iter_init_find(&it, &b, "_id")) return "null";
  // Relaxed Extended JSON of the one-field document, without the "{ "_id" : " wrapper.
  std::string json = mongo::ToJson(&b);
  const std::string prefix = "{ \"_id\" : ";
  if (json.rfind(prefix, 0) == 0 && json.size() >= prefix.size() + 2 &&
      json.compare(json.size() - 2, 2, " }") == 0) {
    return json.substr(prefix.size(), json.size() - prefix.size() - 2);
  }
  return json;
}

}  // namespace docshift::verify
