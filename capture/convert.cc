#include "capture/convert.h"

#include <chrono>
#include <cstring>

#include "mongo/mongo_util.h"
#include "util/duration.h"

namespace docshift::capture {
namespace {

using mongo::IterUtf8;

void SplitNs(const std::string& ns, std::string* db, std::string* coll) {
  auto dot = ns.find('.');
  if (dot == std::string::npos) {
    *db = ns;
    coll->clear();
  } else {
    *db = ns.substr(0, dot);
    *coll = ns.substr(dot + 1);
  }
}

std::string IdKeyFrom(const std::string& doc_bytes) {
  bson_t doc;
  if (!mongo::ViewBytes(doc_bytes, &doc)) return {};
  bson_iter_t it;
  if (!bson_iter_init_find(&it, &doc, "_id")) return {};
  bson_t key = BSON_INITIALIZER;
  bson_append_iter(&key, "_id", 3, &it);
  std::string out = mongo::Bytes(&key);
  bson_destroy(&key);
  return out;
}

}  // namespace

bool HasId(const std::string& doc_bytes) {
  bson_t doc;
  bson_iter_t it;
  return mongo::ViewBytes(doc_bytes, &doc) && bson_iter_init_find(&it, &doc, "_id");
}

pb::OpType ParseOperationType(const std::string& s) {
  if (s == "insert") return pb::OP_INSERT;
  if (s == "update") return pb::OP_UPDATE;
  if (s == "replace") return pb::OP_REPLACE;
  if (s == "delete") return pb::OP_DELETE;
  if (s == "drop") return pb::OP_DROP;
  if (s == "rename") return pb::OP_RENAME;
  if (s == "dropDatabase") return pb::OP_DROP_DATABASE;
  if (s == "create") return pb::OP_CREATE;
  if (s == "createIndexes") return pb::OP_CREATE_INDEXES;
  if (s == "dropIndexes") return pb::OP_DROP_INDEXES;
  if (s == "invalidate") return pb::OP_INVALIDATE;
  return pb::OP_UNKNOWN;
}

Status ConvertChangeEvent(const bson_t* doc, ConvertContext* ctx, pb::ChangeEvent* out) {
  out->Clear();
  out->set_capture_wall_ms(NowMs());
  bson_iter_t it;
  if (!bson_iter_init(&it, doc)) return Status::InvalidArgument("change event is not BSON");
  bool have_op = false, have_id = false, have_ns = false;
  std::string op_name;
  while (bson_iter_next(&it)) {
    const char* key = bson_iter_key(&it);
    if (std::strcmp(key, "_id") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it)) {
      out->set_resume_token(mongo::SubdocBytes(&it));
      have_id = true;
    } else if (std::strcmp(key, "operationType") == 0 && BSON_ITER_HOLDS_UTF8(&it)) {
      op_name = IterUtf8(&it);
      out->set_op(ParseOperationType(op_name));
      have_op = true;
    } else if (std::strcmp(key, "ns") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it)) {
      bson_iter_t ns;
      bson_iter_recurse(&it, &ns);
      while (bson_iter_next(&ns)) {
        if (std::strcmp(bson_iter_key(&ns), "db") == 0 && BSON_ITER_HOLDS_UTF8(&ns)) out->set_db(IterUtf8(&ns));
        if (std::strcmp(bson_iter_key(&ns), "coll") == 0 && BSON_ITER_HOLDS_UTF8(&ns)) out->set_coll(IterUtf8(&ns));
      }
      have_ns = true;
    } else if (std::strcmp(key, "to") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it)) {
      bson_iter_t to;
      bson_iter_recurse(&it, &to);
      while (bson_iter_next(&to)) {
        if (std::strcmp(bson_iter_key(&to), "db") == 0 && BSON_ITER_HOLDS_UTF8(&to)) out->set_to_db(IterUtf8(&to));
        if (std::strcmp(bson_iter_key(&to), "coll") == 0 && BSON_ITER_HOLDS_UTF8(&to)) out->set_to_coll(IterUtf8(&to));
      }
    } else if (std::strcmp(key, "documentKey") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it)) {
      out->set_document_key(mongo::SubdocBytes(&it));
    } else if (std::strcmp(key, "fullDocument") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it)) {
      out->set_full_document(mongo::SubdocBytes(&it));
    } else if (std::strcmp(key, "updateDescription") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it)) {
      out->set_update_description(mongo::SubdocBytes(&it));
    } else if (std::strcmp(key, "clusterTime") == 0 && BSON_ITER_HOLDS_TIMESTAMP(&it)) {
      uint32_t t, i;
      bson_iter_timestamp(&it, &t, &i);
      out->set_cluster_time((static_cast<uint64_t>(t) << 32) | i);
    } else if (std::strcmp(key, "wallTime") == 0 && BSON_ITER_HOLDS_DATE_TIME(&it)) {
      out->set_wall_time_ms(bson_iter_date_time(&it));
    } else if (std::strcmp(key, "lsid") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it)) {
      out->set_lsid(mongo::SubdocBytes(&it));
    } else if (std::strcmp(key, "txnNumber") == 0) {
      out->set_txn_number(bson_iter_as_int64(&it));
    }
  }
  if (!have_id) return Status::InvalidArgument("change event has no _id (resume token)");
  if (!have_op && ctx->cosmos_projection && !out->full_document().empty()) {
    out->set_op(pb::OP_REPLACE);
    if (out->document_key().empty() || !HasId(out->document_key())) {
      std::string key = IdKeyFrom(out->full_document());
      if (!key.empty()) out->set_document_key(key);
    }
    ctx->untyped_as_replace++;
    have_op = true;
  }
  if (!have_op) {
    return Status::InvalidArgument(ctx->cosmos_projection
                                       ? "change event has neither an operationType nor a fullDocument"
                                       : "change event has no operationType");
  }
  ctx->ns_from_stream = !have_ns || out->db().empty();
  if (ctx->ns_from_stream) {
    out->set_db(ctx->stream_db);
    if (out->coll().empty()) out->set_coll(ctx->stream_coll);
  }
  // Workaround, named: mongo-java-server sends an update's operators ({"$set": ...}) as
  // its documentKey (tests/README.md). A documentKey without _id is useless to any
  // applier, so take _id from the full document when there is one.
  if (!out->document_key().empty() && !HasId(out->document_key()) && !out->full_document().empty()) {
    std::string key = IdKeyFrom(out->full_document());
    if (!key.empty()) {
      out->set_document_key(key);
      ctx->rebuilt_document_keys++;
    }
  }
  switch (out->op()) {
    case pb::OP_INSERT:
    case pb::OP_UPDATE:
    case pb::OP_REPLACE:
    case pb::OP_DELETE:
      break;
    default:
      out->set_ddl(mongo::Bytes(doc));  // keep everything a DDL or unknown event carried
  }
  return Status::OK();
}

namespace {

// {"$set": {...}, "$unset": {...}} (oplog $v:1) → {updatedFields, removedFields}.
bool ModifierToDescription(const bson_t* o, std::string* desc_bytes) {
  bson_iter_t it;
  bson_t desc = BSON_INITIALIZER;
  bool ok = true;
  bool any_set = false;
  bson_t removed;
  if (bson_iter_init_find(&it, o, "$set") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
    uint32_t len;
    const uint8_t* data;
    bson_iter_document(&it, &len, &data);
    bson_t set;
    bson_init_static(&set, data, len);
    BSON_APPEND_DOCUMENT(&desc, "updatedFields", &set);
    any_set = true;
  }
  if (!any_set) {
    bson_t empty = BSON_INITIALIZER;
    BSON_APPEND_DOCUMENT(&desc, "updatedFields", &empty);
    bson_destroy(&empty);
  }
  BSON_APPEND_ARRAY_BEGIN(&desc, "removedFields", &removed);
  if (bson_iter_init_find(&it, o, "$unset") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
    bson_iter_t u;
    bson_iter_recurse(&it, &u);
    int n = 0;
    while (bson_iter_next(&u)) {
      char idx[16];
      const char* k;
      bson_uint32_to_string(static_cast<uint32_t>(n++), &k, idx, sizeof idx);
      BSON_APPEND_UTF8(&removed, k, bson_iter_key(&u));
    }
  }
  bson_append_array_end(&desc, &removed);
  // Any other operator ($v:2 "diff", $push, ...) cannot be expressed this way.
  bson_iter_init(&it, o);
  while (bson_iter_next(&it)) {
    const char* k = bson_iter_key(&it);
    if (std::strcmp(k, "$set") && std::strcmp(k, "$unset") && std::strcmp(k, "$v")) ok = false;
  }
  *desc_bytes = mongo::Bytes(&desc);
  bson_destroy(&desc);
  return ok;
}

// MongoDB 5.0+ logs updates as {"$v": 2, "diff": D}. A document diff D has "u" (updated
// fields), "i" (inserted fields), "d" (deleted fields) and "s<field>" (a sub-diff); an
// array diff has "a": true, "l" (new length after truncation), "u<index>" and "s<index>".
// The result is a change stream update description: dotted paths in updatedFields and
// removedFields, truncations in truncatedArrays. false on anything else (the entry is then
// kept verbatim and apply dead-letters it).
struct DiffDescription {
  bson_t updated = BSON_INITIALIZER;
  bson_t removed = BSON_INITIALIZER;
  bson_t truncated = BSON_INITIALIZER;
  int n_removed = 0, n_truncated = 0;
  DiffDescription() = default;
  DiffDescription(const DiffDescription&) = delete;
  DiffDescription& operator=(const DiffDescription&) = delete;
  ~DiffDescription() {
    bson_destroy(&updated);
    bson_destroy(&removed);
    bson_destroy(&truncated);
  }
};

bool WalkDiff(const bson_t* diff, const std::string& path, bool is_array, DiffDescription* out);

bool WalkSubDiff(bson_iter_t* it, const std::string& path, DiffDescription* out) {
  if (!BSON_ITER_HOLDS_DOCUMENT(it)) return false;
  uint32_t len;
  const uint8_t* data;
  bson_iter_document(it, &len, &data);
  bson_t sub;
  if (!bson_init_static(&sub, data, len)) return false;
  bson_iter_t a;
  const bool is_array = bson_iter_init_find(&a, &sub, "a") && bson_iter_as_bool(&a);
  return WalkDiff(&sub, path, is_array, out);
}

bool WalkDiff(const bson_t* diff, const std::string& path, bool is_array, DiffDescription* out) {
  const std::string prefix = path.empty() ? "" : path + ".";
  bson_iter_t it;
  if (!bson_iter_init(&it, diff)) return false;
  while (bson_iter_next(&it)) {
    const std::string key = bson_iter_key(&it);
    if (is_array) {
      if (key == "a") continue;
      if (key == "l" && BSON_ITER_HOLDS_NUMBER(&it)) {
        bson_t t;
        const std::string idx = std::to_string(out->n_truncated++);
        BSON_APPEND_DOCUMENT_BEGIN(&out->truncated, idx.c_str(), &t);
        BSON_APPEND_UTF8(&t, "field", path.c_str());
        BSON_APPEND_INT32(&t, "newSize", static_cast<int32_t>(bson_iter_as_int64(&it)));
        bson_append_document_end(&out->truncated, &t);
        continue;
      }
      if (key.size() < 2 || key.find_first_not_of("0123456789", 1) != std::string::npos) return false;
      const std::string elem = prefix + key.substr(1);
      if (key[0] == 'u') {
        bson_append_iter(&out->updated, elem.c_str(), -1, &it);
      } else if (key[0] == 's') {
        if (!WalkSubDiff(&it, elem, out)) return false;
      } else {
        return false;
      }
      continue;
    }
    if (key == "u" || key == "i" || key == "d") {
      if (!BSON_ITER_HOLDS_DOCUMENT(&it)) return false;
      bson_iter_t f;
      bson_iter_recurse(&it, &f);
      while (bson_iter_next(&f)) {
        const std::string field = prefix + bson_iter_key(&f);
        if (key == "d") {
          const std::string idx = std::to_string(out->n_removed++);
          BSON_APPEND_UTF8(&out->removed, idx.c_str(), field.c_str());
        } else {
          bson_append_iter(&out->updated, field.c_str(), -1, &f);
        }
      }
    } else if (key.size() > 1 && key[0] == 's') {
      if (!WalkSubDiff(&it, prefix + key.substr(1), out)) return false;
    } else {
      return false;
    }
  }
  return true;
}

bool DiffToDescription(const bson_t* o, std::string* desc_bytes) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, o, "diff") || !BSON_ITER_HOLDS_DOCUMENT(&it)) return false;
  uint32_t len;
  const uint8_t* data;
  bson_iter_document(&it, &len, &data);
  bson_t diff;
  if (!bson_init_static(&diff, data, len)) return false;
  DiffDescription d;
  if (!WalkDiff(&diff, "", false, &d)) return false;
  bson_t desc = BSON_INITIALIZER;
  BSON_APPEND_DOCUMENT(&desc, "updatedFields", &d.updated);
  BSON_APPEND_ARRAY(&desc, "removedFields", &d.removed);
  BSON_APPEND_ARRAY(&desc, "truncatedArrays", &d.truncated);
  *desc_bytes = mongo::Bytes(&desc);
  bson_destroy(&desc);
  return true;
}

Status ConvertOne(const bson_t* entry, const OplogOptions& opts, uint64_t ct, int64_t wall,
                  std::vector<pb::ChangeEvent>* out) {
  bson_iter_t it;
  std::string op, ns;
  std::string o, o2;
  bson_t o_doc;
  bool have_o = false;
  if (bson_iter_init_find(&it, entry, "op") && BSON_ITER_HOLDS_UTF8(&it)) op = IterUtf8(&it);
  if (bson_iter_init_find(&it, entry, "ns") && BSON_ITER_HOLDS_UTF8(&it)) ns = IterUtf8(&it);
  if (bson_iter_init_find(&it, entry, "o") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
    o = mongo::SubdocBytes(&it);
    have_o = mongo::ViewBytes(o, &o_doc);
  }
  if (bson_iter_init_find(&it, entry, "o2") && BSON_ITER_HOLDS_DOCUMENT(&it)) o2 = mongo::SubdocBytes(&it);
  if (op == "n" || op.empty()) return Status::OK();
  // A chunk migration's copy or clean-up on a shard (the write was captured where the
  // application made it): documented as to be ignored by oplog readers.
  if (bson_iter_init_find(&it, entry, "fromMigrate") && bson_iter_as_bool(&it)) return Status::OK();
  pb::ChangeEvent e;
  e.set_cluster_time(ct);
  e.set_wall_time_ms(wall);
  e.set_capture_wall_ms(NowMs());
  if (bson_iter_init_find(&it, entry, "lsid") && BSON_ITER_HOLDS_DOCUMENT(&it)) e.set_lsid(mongo::SubdocBytes(&it));
  if (bson_iter_init_find(&it, entry, "txnNumber")) e.set_txn_number(bson_iter_as_int64(&it));
  std::string db, coll;
  SplitNs(ns, &db, &coll);
  e.set_db(db);
  e.set_coll(coll);
  if (op == "i") {
    e.set_op(pb::OP_INSERT);
    e.set_full_document(o);
    e.set_document_key(IdKeyFrom(o));
  } else if (op == "d") {
    e.set_op(pb::OP_DELETE);
    e.set_document_key(IdKeyFrom(o));
  } else if (op == "u") {
    e.set_document_key(o2.empty() ? IdKeyFrom(o) : o2);
    bool is_modifier = false;
    if (have_o) {
      bson_iter_t k;
      if (bson_iter_init(&k, &o_doc) && bson_iter_next(&k)) is_modifier = bson_iter_key(&k)[0] == '$';
    }
    if (!is_modifier) {
      e.set_op(pb::OP_REPLACE);
      e.set_full_document(o);
    } else if (opts.updates_are_post_images && have_o && bson_iter_init_find(&it, &o_doc, "$set") &&
               BSON_ITER_HOLDS_DOCUMENT(&it)) {
      e.set_op(pb::OP_REPLACE);
      e.set_full_document(mongo::SubdocBytes(&it));
    } else {
      e.set_op(pb::OP_UPDATE);
      std::string desc;
      if (have_o && (DiffToDescription(&o_doc, &desc) || ModifierToDescription(&o_doc, &desc))) {
        e.set_update_description(desc);
      } else {
        // Anything else is kept verbatim (ddl holds the entry); apply dead-letters it, so
        // nothing is lost silently.
        e.set_ddl(mongo::Bytes(entry));
      }
    }
  } else if (op == "c") {
    e.set_ddl(mongo::Bytes(entry));
    bson_iter_t k;
    std::string cmd;
    if (have_o && bson_iter_init(&k, &o_doc) && bson_iter_next(&k)) cmd = bson_iter_key(&k);
    if (cmd == "applyOps" && bson_iter_init_find(&it, &o_doc, "applyOps") && BSON_ITER_HOLDS_ARRAY(&it)) {
      bson_iter_t ops;
      bson_iter_recurse(&it, &ops);
      while (bson_iter_next(&ops)) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&ops)) continue;
        uint32_t len;
        const uint8_t* data;
        bson_iter_document(&ops, &len, &data);
        bson_t inner;
        bson_init_static(&inner, data, len);
        const size_t first = out->size();
        RETURN_IF_ERROR(ConvertOne(&inner, opts, ct, wall, out));
        // A transaction's operations carry its identity (the entry's lsid and txnNumber),
        // so they stay recognisably together in the spool.
        for (size_t k = first; k < out->size(); ++k) {
          pb::ChangeEvent& inner_ev = (*out)[k];
          if (inner_ev.txn_number() == 0 && inner_ev.lsid().empty()) {
            inner_ev.set_txn_number(e.txn_number());
            inner_ev.set_lsid(e.lsid());
          }
        }
      }
      return Status::OK();
    }
    const std::string arg = have_o && BSON_ITER_HOLDS_UTF8(&k) ? IterUtf8(&k) : std::string();
    if (cmd == "create") {
      e.set_op(pb::OP_CREATE);
      e.set_coll(arg);
    } else if (cmd == "drop") {
      e.set_op(pb::OP_DROP);
      e.set_coll(arg);
    } else if (cmd == "dropDatabase") {
      e.set_op(pb::OP_DROP_DATABASE);
      e.set_coll("");
    } else if (cmd == "renameCollection") {
      e.set_op(pb::OP_RENAME);
      std::string from_db, from_coll, to_db, to_coll;
      SplitNs(arg, &from_db, &from_coll);
      e.set_db(from_db);
      e.set_coll(from_coll);
      if (bson_iter_init_find(&it, &o_doc, "to") && BSON_ITER_HOLDS_UTF8(&it)) {
        SplitNs(IterUtf8(&it), &to_db, &to_coll);
        e.set_to_db(to_db);
        e.set_to_coll(to_coll);
      }
    } else if (cmd == "createIndexes" || cmd == "commitIndexBuild") {
      // 4.4+ builds indexes in two phases: startIndexBuild, then commitIndexBuild with
      // the finished specs ("indexes"); createIndexes only for an empty collection.
      e.set_op(pb::OP_CREATE_INDEXES);
      e.set_coll(arg);
    } else if (cmd == "dropIndexes" || cmd == "deleteIndexes") {
      e.set_op(pb::OP_DROP_INDEXES);
      e.set_coll(arg);
    } else {
      e.set_op(pb::OP_UNKNOWN);
    }
  } else {
    e.set_op(pb::OP_UNKNOWN);
    e.set_ddl(mongo::Bytes(entry));
  }
  out->push_back(std::move(e));
  return Status::OK();
}

}  // namespace

Status ConvertOplogEntry(const bson_t* entry, const OplogOptions& opts,
                         std::vector<pb::ChangeEvent>* out, uint32_t* ts_t, uint32_t* ts_i) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, entry, "ts") || !BSON_ITER_HOLDS_TIMESTAMP(&it)) {
    return Status::InvalidArgument("oplog entry has no ts: " + mongo::ToJson(entry));
  }
  bson_iter_timestamp(&it, ts_t, ts_i);
  const uint64_t ct = (static_cast<uint64_t>(*ts_t) << 32) | *ts_i;
  int64_t wall = 0;
  if (bson_iter_init_find(&it, entry, "wall") && BSON_ITER_HOLDS_DATE_TIME(&it)) wall = bson_iter_date_time(&it);
  const size_t before = out->size();
  RETURN_IF_ERROR(ConvertOne(entry, opts, ct, wall, out));
  // The position after each event: the entry's ts.
  bson_t tok = BSON_INITIALIZER;
  bson_append_timestamp(&tok, "ts", 2, *ts_t, *ts_i);
  const std::string token = mongo::Bytes(&tok);
  bson_destroy(&tok);
  for (size_t k = before; k < out->size(); ++k) (*out)[k].set_resume_token(token);
  return Status::OK();
}

Status RepairKeyFromOplogEntry(const bson_t* oplog_entry, pb::ChangeEvent* ev) {
  std::vector<pb::ChangeEvent> from_oplog;
  uint32_t t = 0, i = 0;
  RETURN_IF_ERROR(ConvertOplogEntry(oplog_entry, OplogOptions{}, &from_oplog, &t, &i));
  if (from_oplog.size() != 1) {
    return Status::InvalidArgument("the oplog entry holds " + std::to_string(from_oplog.size()) + " writes");
  }
  const pb::ChangeEvent& o = from_oplog[0];
  if (o.cluster_time() != ev->cluster_time() || o.db() != ev->db() || o.coll() != ev->coll()) {
    return Status::InvalidArgument("the oplog entry at that time is for " + o.db() + "." + o.coll());
  }
  if (!HasId(o.document_key())) return Status::InvalidArgument("the oplog entry names no _id");
  ev->set_document_key(o.document_key());
  if (!HasId(ev->full_document())) ev->clear_full_document();
  if (o.op() == pb::OP_UPDATE) ev->set_update_description(o.update_description());
  if (o.op() == pb::OP_REPLACE) {
    ev->set_op(pb::OP_REPLACE);
    ev->set_full_document(o.full_document());
  }
  return Status::OK();
}

}  // namespace docshift::capture
