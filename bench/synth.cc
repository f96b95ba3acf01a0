#include "bench/synth.h"

#include <bson/bson.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace docshift::bench {
namespace {

// ---- Deterministic randomness ----

// splitmix64's finalizer: a bijection on uint64, so Mix(a ^ i) is distinct for distinct i.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Independent streams per purpose.
enum Salt : uint64_t {
  kSaltKind = 1,
  kSaltTarget,
  kSaltNamespace,
  kSaltKey,
  kSaltContent,
  kSaltUpdate,
  kSaltTxn,
  kSaltCollUuid,
};

uint64_t Hash(uint64_t seed, uint64_t salt, uint64_t i) {
  return Mix(Mix(seed * 0x100000001b3ull + salt) ^ i);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() { return Mix(s_++); }
  // Uniform-enough in [0, n) for small n.
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>(Next() % n); }
  bool Percent(uint32_t p) { return Below(100) < p; }
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t s_;
};

constexpr const char* kWords[] = {
    "alpha",    "amber",   "anchor",   "apple",    "arrow",    "atlas",    "autumn",
    "bamboo",   "basket",  "beacon",   "berry",    "blue",     "bolt",     "breeze",
    "bridge",   "bright",  "bronze",   "cabin",    "candle",   "canyon",   "carbon",
    "cedar",    "chalk",   "cherry",   "circle",   "cloud",    "cobalt",   "comet",
    "coral",    "cotton",  "crane",    "crystal",  "dawn",     "delta",    "desert",
    "dust",     "eagle",   "echo",     "ember",    "engine",   "falcon",   "feather",
    "fern",     "field",   "flame",    "forest",   "fox",      "frost",    "garden",
    "garnet",   "glacier", "gold",     "granite",  "green",    "harbor",   "hazel",
    "horizon",  "indigo",  "iron",     "island",   "ivory",    "jade",     "jasmine",
    "juniper",  "kernel",  "kettle",   "lagoon",   "lantern",  "lemon",    "linen",
    "lotus",    "maple",   "marble",   "meadow",   "mercury",  "mist",     "moss",
    "nectar",   "needle",  "north",    "oak",      "ocean",    "olive",    "onyx",
    "orbit",    "orchid",  "pebble",   "pepper",   "pine",     "planet",   "plum",
    "prairie",  "quartz",  "quill",    "rain",     "raven",    "reef",     "ridge",
    "river",    "rocket",  "rose",     "ruby",     "saffron",  "sage",     "sand",
    "shadow",   "silver",  "slate",    "snow",     "spark",    "spruce",   "stone",
    "storm",    "summit",  "sun",      "thistle",  "thunder",  "timber",   "topaz",
    "tulip",    "valley",  "velvet",   "violet",   "walnut",   "willow",   "winter",
    "yellow",   "zephyr",
};
constexpr uint32_t kNumWords = sizeof(kWords) / sizeof(kWords[0]);

const char* Word(Rng& r) { return kWords[r.Below(kNumWords)]; }

// Words and numbers separated by spaces, cut to exactly `bytes` (ASCII only).
std::string Text(Rng& r, size_t bytes) {
  std::string s;
  s.reserve(bytes + 16);
  while (s.size() < bytes) {
    if (!s.empty()) s += ' ';
    if (r.Below(6) == 0) {
      s += std::to_string(r.Below(100000));
    } else {
      s += Word(r);
    }
  }
  s.resize(bytes);
  return s;
}

// ---- libbson helpers ----

// Owns a bson_t. Not movable: a bson_t may point into its own inline buffer.
class Bson {
 public:
  Bson() { bson_init(&b_); }
  ~Bson() { bson_destroy(&b_); }
  Bson(const Bson&) = delete;
  Bson& operator=(const Bson&) = delete;
  bson_t* get() { return &b_; }
  std::string_view view() const {
    return {reinterpret_cast<const char*>(bson_get_data(&b_)), b_.len};
  }

 private:
  bson_t b_;
};

void Utf8(bson_t* b, const char* key, std::string_view v) {
  bson_append_utf8(b, key, -1, v.data(), static_cast<int>(v.size()));
}

// Array index keys "0", "1", ...
class ArrayKey {
 public:
  const char* operator()(uint32_t i) {
    const char* key;
    bson_uint32_to_string(i, &key, buf_, sizeof(buf_));
    return key;
  }

 private:
  char buf_[16];
};

// ---- Stream structure ----

enum class Kind { kInsert, kUpdate, kReplace, kDelete };

Kind DrawKind(const SynthConfig& cfg, uint64_t i) {
  const uint32_t p = static_cast<uint32_t>(Hash(cfg.seed, kSaltKind, i) % 100);
  if (p < static_cast<uint32_t>(cfg.insert_pct)) return Kind::kInsert;
  if (p < static_cast<uint32_t>(cfg.insert_pct + cfg.update_pct)) return Kind::kUpdate;
  if (p < static_cast<uint32_t>(cfg.insert_pct + cfg.update_pct + cfg.replace_pct)) {
    return Kind::kReplace;
  }
  return Kind::kDelete;
}

struct Resolved {
  pb::OpType op;
  uint64_t doc;  // index of the event that inserted the document addressed
};

// An insert at j is deleted only at j + W and is alive in (j, j + W); updates at i pick a
// drawn insert in (i - W, i), which is therefore alive.
Resolved Resolve(const SynthConfig& cfg, uint64_t i) {
  const uint64_t w = static_cast<uint64_t>(cfg.live_window);
  Kind k = DrawKind(cfg, i);
  if (k == Kind::kInsert) return {pb::OP_INSERT, i};
  if (k == Kind::kDelete) {
    if (i >= w && DrawKind(cfg, i - w) == Kind::kInsert) return {pb::OP_DELETE, i - w};
    k = Kind::kUpdate;
  }
  const pb::OpType op = k == Kind::kUpdate ? pb::OP_UPDATE : pb::OP_REPLACE;
  if (i == 0) return {pb::OP_INSERT, i};
  const uint64_t lowest = i >= w - 1 ? i - (w - 1) : 0;  // oldest live candidate
  const uint64_t span = i - lowest;                      // candidates lowest..i-1
  const uint64_t start = i - 1 - Hash(cfg.seed, kSaltTarget, i) % span;
  for (uint64_t j = start + 1; j-- > lowest;) {
    if (DrawKind(cfg, j) == Kind::kInsert) return {op, j};
  }
  for (uint64_t j = start + 1; j < i; ++j) {
    if (DrawKind(cfg, j) == Kind::kInsert) return {op, j};
  }
  return {pb::OP_INSERT, i};  // nothing alive nearby (start of the stream)
}

struct Namespace {
  const char* db;
  const char* coll;
};
// Per shape; each has a collection name with a dot in it, on purpose: "db.coll" is
// ambiguous. The first namespace gets 55% of the documents, then 20%, 10%, 15%.
constexpr Namespace kYcsbNamespaces[] = {
    {"ycsb", "usertable"}, {"ycsb", "usertable.archive"}, {"app", "sessions"}, {"app", "users"}};
constexpr Namespace kNestedNamespaces[] = {
    {"shop", "orders"}, {"shop", "orders.archive"}, {"shop", "returns"}, {"crm", "accounts"}};

const Namespace& NamespaceOf(const SynthConfig& cfg, uint64_t doc, int* index) {
  const uint64_t p = Hash(cfg.seed, kSaltNamespace, doc) % 100;
  *index = cfg.single_namespace ? 0 : p < 55 ? 0 : p < 75 ? 1 : p < 85 ? 2 : 3;
  return cfg.shape == DocShape::kYcsb ? kYcsbNamespaces[*index] : kNestedNamespaces[*index];
}

int64_t SourceMs(const SynthConfig& cfg, uint64_t i) {
  const uint64_t eps = static_cast<uint64_t>(cfg.events_per_second);
  return (cfg.start_unix_s + static_cast<int64_t>(i / eps)) * 1000 +
         static_cast<int64_t>((i % eps) * 1000 / eps);
}

uint64_t ClusterTime(const SynthConfig& cfg, uint64_t i) {
  const uint64_t eps = static_cast<uint64_t>(cfg.events_per_second);
  const uint64_t secs = static_cast<uint64_t>(cfg.start_unix_s) + i / eps;
  return (secs << 32) | (i % eps + 1);
}

// ObjectId of document `doc`: 4-byte seconds, 5 "process" bytes from the seed, 3-byte
// counter; (seconds, counter) is distinct per doc while events_per_second < 2^24.
void DocOid(const SynthConfig& cfg, uint64_t doc, bson_oid_t* oid) {
  uint8_t d[12];
  const uint32_t secs = static_cast<uint32_t>(SourceMs(cfg, doc) / 1000);
  const uint64_t proc = Mix(cfg.seed);
  const uint32_t counter = static_cast<uint32_t>(doc & 0xffffff);
  d[0] = static_cast<uint8_t>(secs >> 24);
  d[1] = static_cast<uint8_t>(secs >> 16);
  d[2] = static_cast<uint8_t>(secs >> 8);
  d[3] = static_cast<uint8_t>(secs);
  for (int k = 0; k < 5; ++k) d[4 + k] = static_cast<uint8_t>(proc >> (8 * k));
  d[9] = static_cast<uint8_t>(counter >> 16);
  d[10] = static_cast<uint8_t>(counter >> 8);
  d[11] = static_cast<uint8_t>(counter);
  bson_oid_init_from_data(oid, d);
}

// YCSB key: "user" + a hash of the insert order, distinct per doc (Mix is a bijection).
std::string YcsbKey(const SynthConfig& cfg, uint64_t doc) {
  return "user" + std::to_string(Mix(Hash(cfg.seed, kSaltKey, 0) ^ doc));
}

void AppendId(const SynthConfig& cfg, uint64_t doc, bson_t* b) {
  if (cfg.shape == DocShape::kYcsb) {
    Utf8(b, "_id", YcsbKey(cfg, doc));
  } else {
    bson_oid_t oid;
    DocOid(cfg, doc, &oid);
    bson_append_oid(b, "_id", -1, &oid);
  }
}

// ---- Documents ----

void AppendYcsbDoc(const SynthConfig& cfg, uint64_t doc, uint64_t version, bson_t* b) {
  Rng r(Hash(cfg.seed, kSaltContent, version));
  AppendId(cfg, doc, b);
  char key[24];
  for (int f = 0; f < cfg.ycsb_fields; ++f) {
    std::snprintf(key, sizeof(key), "field%d", f);
    Utf8(b, key, Text(r, static_cast<size_t>(cfg.ycsb_field_bytes)));
  }
}

constexpr const char* kStatuses[] = {"new", "paid", "packed", "shipped", "delivered",
                                     "cancelled"};
constexpr const char* kCurrencies[] = {"EUR", "USD", "GBP", "JPY", "CHF"};
constexpr const char* kCountries[] = {"DE", "US", "FR", "GB", "JP", "BR", "IN", "NL"};
constexpr const char* kTiers[] = {"bronze", "silver", "gold", "platinum"};
constexpr const char* kShipping[] = {"standard", "express", "pickup", "freight"};
constexpr const char* kSizes[] = {"S", "M", "L", "XL"};

template <size_t N>
const char* Pick(Rng& r, const char* const (&a)[N]) {
  return a[r.Below(N)];
}

// An order-like document, ~1.3 KB: subdocuments, arrays of subdocuments and every common
// BSON type. `version` seeds the content; `created_ms` is the insert time of the doc.
void AppendNestedDoc(const SynthConfig& cfg, uint64_t doc, uint64_t version, int64_t created_ms,
                     int64_t now_ms, bson_t* b) {
  Rng r(Hash(cfg.seed, kSaltContent, version));
  ArrayKey ak;
  AppendId(cfg, doc, b);
  bson_append_int64(b, "orderNo", -1, static_cast<int64_t>(1'000'000 + doc));
  bson_t customer, addr, shipping, items, item, tags, attrs, geo, flags, history, h;
  bson_append_document_begin(b, "customer", -1, &customer);
  bson_append_int64(&customer, "id", -1, static_cast<int64_t>(r.Below(5'000'000)));
  std::string first = Word(r), last = Word(r);
  Utf8(&customer, "name", first + " " + last);
  Utf8(&customer, "email", first + "." + last + "@example.com");
  Utf8(&customer, "tier", Pick(r, kTiers));
  bson_append_date_time(&customer, "since", -1,
                        created_ms - static_cast<int64_t>(r.Below(1000)) * 86'400'000);
  bson_append_document_end(b, &customer);
  Utf8(b, "status", Pick(r, kStatuses));
  bson_append_date_time(b, "createdAt", -1, created_ms);
  bson_append_date_time(b, "updatedAt", -1, now_ms);
  Utf8(b, "currency", Pick(r, kCurrencies));
  bson_append_bool(b, "paid", -1, r.Percent(70));

  const uint32_t n_items = 2 + r.Below(4);
  double total = 0;
  bson_append_array_begin(b, "items", -1, &items);
  for (uint32_t k = 0; k < n_items; ++k) {
    bson_append_document_begin(&items, ak(k), -1, &item);
    char sku[24];
    std::snprintf(sku, sizeof(sku), "SKU-%06u", r.Below(200000));
    Utf8(&item, "sku", sku);
    Utf8(&item, "name", Text(r, 16 + r.Below(24)));
    const int32_t qty = 1 + static_cast<int32_t>(r.Below(5));
    const double price = static_cast<double>(100 + r.Below(20000)) / 100.0;
    total += qty * price;
    bson_append_int32(&item, "qty", -1, qty);
    bson_append_double(&item, "price", -1, price);
    bson_append_array_begin(&item, "tags", -1, &tags);
    const uint32_t n_tags = 1 + r.Below(3);
    for (uint32_t t = 0; t < n_tags; ++t) Utf8(&tags, ak(t), Word(r));
    bson_append_array_end(&item, &tags);
    bson_append_document_begin(&item, "attrs", -1, &attrs);
    Utf8(&attrs, "color", Word(r));
    Utf8(&attrs, "size", Pick(r, kSizes));
    bson_append_int32(&attrs, "weightG", -1, static_cast<int32_t>(50 + r.Below(5000)));
    bson_append_document_end(&item, &attrs);
    bson_append_document_end(&items, &item);
  }
  bson_append_array_end(b, &items);
  bson_append_double(b, "total", -1, total);

  bson_append_document_begin(b, "shipping", -1, &shipping);
  Utf8(&shipping, "method", Pick(r, kShipping));
  bson_append_document_begin(&shipping, "address", -1, &addr);
  {
    // One draw per statement: operand order of + is unspecified, the bytes must not be.
    std::string street = std::to_string(1 + r.Below(300));
    street += ' ';
    street += Word(r);
    street += ' ';
    street += Word(r);
    street += " street";
    Utf8(&addr, "street", street);
  }
  Utf8(&addr, "city", Word(r));
  char zip[8];
  std::snprintf(zip, sizeof(zip), "%05u", r.Below(100000));
  Utf8(&addr, "zip", zip);
  Utf8(&addr, "country", Pick(r, kCountries));
  bson_append_document_end(&shipping, &addr);
  bson_append_array_begin(&shipping, "geo", -1, &geo);
  bson_append_double(&geo, "0", -1, r.Unit() * 360.0 - 180.0);
  bson_append_double(&geo, "1", -1, r.Unit() * 180.0 - 90.0);
  bson_append_array_end(&shipping, &geo);
  bson_append_document_end(b, &shipping);

  Utf8(b, "notes", Text(r, 60 + r.Below(200)));
  uint8_t digest[16];
  for (auto& d : digest) d = static_cast<uint8_t>(r.Next());
  bson_append_binary(b, "digest", -1, BSON_SUBTYPE_BINARY, digest, sizeof(digest));
  bson_append_int32(b, "version", -1, static_cast<int32_t>(version % 1'000'000));
  bson_append_document_begin(b, "flags", -1, &flags);
  bson_append_bool(&flags, "gift", -1, r.Percent(10));
  bson_append_bool(&flags, "fragile", -1, r.Percent(20));
  bson_append_int32(&flags, "priority", -1, static_cast<int32_t>(r.Below(5)));
  bson_append_document_end(b, &flags);
  bson_append_array_begin(b, "history", -1, &history);
  const uint32_t n_hist = 1 + r.Below(4);
  for (uint32_t k = 0; k < n_hist; ++k) {
    bson_append_document_begin(&history, ak(k), -1, &h);
    bson_append_date_time(&h, "at", -1, created_ms + static_cast<int64_t>(k) * 3'600'000);
    Utf8(&h, "event", kStatuses[k % 6]);
    Utf8(&h, "by", Word(r));
    bson_append_document_end(&history, &h);
  }
  bson_append_array_end(b, &history);
  bson_append_double(b, "score", -1, r.Unit() * 5.0);
}

void AppendDoc(const SynthConfig& cfg, uint64_t doc, uint64_t version, uint64_t now_event,
               bson_t* b) {
  if (cfg.shape == DocShape::kYcsb) {
    AppendYcsbDoc(cfg, doc, version, b);
  } else {
    AppendNestedDoc(cfg, doc, version, SourceMs(cfg, doc), SourceMs(cfg, now_event), b);
  }
}

// {updatedFields: {...}, removedFields: [...], truncatedArrays: []}, as MongoDB 5+ sends.
void AppendUpdateDescription(const SynthConfig& cfg, uint64_t i, bson_t* b) {
  Rng r(Hash(cfg.seed, kSaltUpdate, i));
  ArrayKey ak;
  bson_t updated, removed, truncated;
  bson_append_document_begin(b, "updatedFields", -1, &updated);
  const char* removed_field = nullptr;
  char key[24], rkey[24];
  if (cfg.shape == DocShape::kYcsb) {
    // YCSB's update workload rewrites one field.
    const int f = static_cast<int>(r.Below(static_cast<uint32_t>(cfg.ycsb_fields)));
    std::snprintf(key, sizeof(key), "field%d", f);
    Utf8(&updated, key, Text(r, static_cast<size_t>(cfg.ycsb_field_bytes)));
    if (cfg.ycsb_fields > 1 && r.Percent(5)) {
      const int g = (f + 1 + static_cast<int>(r.Below(static_cast<uint32_t>(cfg.ycsb_fields - 1)))) %
                    cfg.ycsb_fields;
      std::snprintf(rkey, sizeof(rkey), "field%d", g);
      removed_field = rkey;
    }
  } else {
    Utf8(&updated, "status", Pick(r, kStatuses));
    bson_append_date_time(&updated, "updatedAt", -1, SourceMs(cfg, i));
    bson_append_int32(&updated, "version", -1, static_cast<int32_t>(i % 1'000'000));
    bson_append_int32(&updated, "items.0.qty", -1, static_cast<int32_t>(1 + r.Below(5)));
    if (r.Percent(30)) bson_append_bool(&updated, "paid", -1, true);
    if (r.Percent(10)) removed_field = "notes";
  }
  bson_append_document_end(b, &updated);
  bson_append_array_begin(b, "removedFields", -1, &removed);
  if (removed_field) Utf8(&removed, ak(0), removed_field);
  bson_append_array_end(b, &removed);
  bson_append_array_begin(b, "truncatedArrays", -1, &truncated);
  bson_append_array_end(b, &truncated);
}

// {_data: "<hex>"}: the layout of a MongoDB change stream resume token (KeyString of
// cluster time, collection UUID, documentKey), ~120 hex characters.
void AppendResumeToken(const SynthConfig& cfg, uint64_t i, int ns, uint64_t doc, bson_t* b) {
  const uint64_t ct = ClusterTime(cfg, i);
  const uint64_t u1 = Hash(cfg.seed, kSaltCollUuid, static_cast<uint64_t>(ns));
  const uint64_t u2 = Mix(u1);
  const uint64_t key = Mix(Hash(cfg.seed, kSaltKey, 1) ^ doc);
  char hex[160];
  int n = std::snprintf(hex, sizeof(hex),
                        "82%08" PRIX32 "%08" PRIX32 "2B042C0100296E5A1004%016" PRIX64
                        "%016" PRIX64 "46645F6964006400%016" PRIX64 "%08" PRIX32 "0004",
                        static_cast<uint32_t>(ct >> 32), static_cast<uint32_t>(ct), u1, u2,
                        key, static_cast<uint32_t>(doc));
  Utf8(b, "_data", std::string_view(hex, static_cast<size_t>(n)));
}

void AppendLsid(const SynthConfig& cfg, uint64_t txn, bson_t* b) {
  uint8_t id[16], uid[32];
  Rng r(Hash(cfg.seed, kSaltTxn, txn));
  for (auto& x : id) x = static_cast<uint8_t>(r.Next());
  id[6] = static_cast<uint8_t>((id[6] & 0x0f) | 0x40);  // UUID v4
  id[8] = static_cast<uint8_t>((id[8] & 0x3f) | 0x80);
  Rng u(Hash(cfg.seed, kSaltTxn, ~0ull));  // one user for every session
  for (auto& x : uid) x = static_cast<uint8_t>(u.Next());
  bson_append_binary(b, "id", -1, BSON_SUBTYPE_UUID, id, sizeof(id));
  bson_append_binary(b, "uid", -1, BSON_SUBTYPE_BINARY, uid, sizeof(uid));
}

void SetBson(Bson& b, std::string* out) {
  const std::string_view v = b.view();
  out->assign(v.data(), v.size());
}

}  // namespace

std::string ValidateSynthConfig(const SynthConfig& cfg) {
  if (cfg.insert_pct < 0 || cfg.update_pct < 0 || cfg.replace_pct < 0 || cfg.delete_pct < 0 ||
      cfg.insert_pct + cfg.update_pct + cfg.replace_pct + cfg.delete_pct != 100) {
    return "op percentages must be >= 0 and sum to 100";
  }
  if (cfg.live_window < 2) return "live_window must be >= 2";
  if (cfg.ycsb_fields < 1 || cfg.ycsb_fields > 1000) return "ycsb_fields must be in [1, 1000]";
  if (cfg.ycsb_field_bytes < 1 || cfg.ycsb_field_bytes > (1 << 20)) {
    return "ycsb_field_bytes must be in [1, 1048576]";
  }
  if (cfg.events_per_second < 1 || cfg.events_per_second >= (1 << 24)) {
    return "events_per_second must be in [1, 2^24)";
  }
  if (cfg.start_unix_s < 0 || cfg.start_unix_s > 0xffffffffll / 2) {
    return "start_unix_s must be in [0, 2^31)";
  }
  if (cfg.txn_every < 0) return "txn_every must be >= 0";
  return "";
}

void MakeEvent(const SynthConfig& cfg, uint64_t i, pb::ChangeEvent* e) {
  e->Clear();
  const Resolved res = Resolve(cfg, i);
  int ns = 0;
  const Namespace& nspace = NamespaceOf(cfg, res.doc, &ns);
  e->set_db(nspace.db);
  e->set_coll(nspace.coll);
  e->set_op(res.op);
  {
    Bson key;
    AppendId(cfg, res.doc, key.get());
    SetBson(key, e->mutable_document_key());
  }
  switch (res.op) {
    case pb::OP_INSERT:
    case pb::OP_REPLACE: {
      Bson doc;
      AppendDoc(cfg, res.doc, i, i, doc.get());
      SetBson(doc, e->mutable_full_document());
      break;
    }
    case pb::OP_UPDATE: {
      Bson ud;
      AppendUpdateDescription(cfg, i, ud.get());
      SetBson(ud, e->mutable_update_description());
      if (cfg.update_lookup) {
        // The current document as a later lookup returns it: same _id, fresh content.
        Bson doc;
        AppendDoc(cfg, res.doc, i, i, doc.get());
        SetBson(doc, e->mutable_full_document());
      }
      break;
    }
    default:
      break;
  }
  e->set_cluster_time(ClusterTime(cfg, i));
  e->set_wall_time_ms(SourceMs(cfg, i));
  e->set_capture_wall_ms(SourceMs(cfg, i) + cfg.capture_lag_ms);
  {
    Bson token;
    AppendResumeToken(cfg, i, ns, res.doc, token.get());
    SetBson(token, e->mutable_resume_token());
  }
  if (cfg.txn_every > 0 && (i / 4) % static_cast<uint64_t>(cfg.txn_every) == 0) {
    Bson lsid;
    AppendLsid(cfg, i / 4, lsid.get());
    SetBson(lsid, e->mutable_lsid());
    e->set_txn_number(static_cast<int64_t>(i / 4 + 1));
  }
}

void FillBatch(const SynthConfig& cfg, uint64_t first_event, int events, pb::ChangeBatch* batch) {
  batch->Clear();
  batch->mutable_events()->Reserve(events);
  for (int k = 0; k < events; ++k) {
    MakeEvent(cfg, first_event + static_cast<uint64_t>(k), batch->add_events());
  }
  if (events > 0) {
    const pb::ChangeEvent& last = batch->events(events - 1);
    batch->set_resume_token(last.resume_token());
    batch->set_resume_cluster_time(last.cluster_time());
    batch->set_written_wall_ms(last.capture_wall_ms());
  }
}

const char* OpName(pb::OpType op) {
  switch (op) {
    case pb::OP_INSERT: return "insert";
    case pb::OP_UPDATE: return "update";
    case pb::OP_REPLACE: return "replace";
    case pb::OP_DELETE: return "delete";
    case pb::OP_DROP: return "drop";
    case pb::OP_RENAME: return "rename";
    case pb::OP_DROP_DATABASE: return "dropDatabase";
    case pb::OP_CREATE: return "create";
    case pb::OP_CREATE_INDEXES: return "createIndexes";
    case pb::OP_DROP_INDEXES: return "dropIndexes";
    case pb::OP_INVALIDATE: return "invalidate";
    case pb::OP_NOOP: return "noop";
    default: return "unknown";
  }
}

}  // namespace docshift::bench
