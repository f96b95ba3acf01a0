#include "apply/translate.h"

namespace docshift::apply {
namespace {

using mongo::BsonPtr;

BsonPtr Copy(const std::string& bytes) {
  return BsonPtr(bson_new_from_data(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

bool ValidDoc(const std::string& bytes) {
  bson_t b;
  if (!mongo::ViewBytes(bytes, &b)) return false;
  size_t off;
  return bson_validate(&b, BSON_VALIDATE_NONE, &off);
}

}  // namespace

Status NamespaceMap::Add(const std::string& spec) {
  auto eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
    return Status::InvalidArgument("--map '" + spec +
                                   "' must be src_db.coll=dst_db.coll or src_db=dst_db");
  }
  std::string from = spec.substr(0, eq), to = spec.substr(eq + 1);
  const bool from_coll = from.find('.') != std::string::npos;
  const bool to_coll = to.find('.') != std::string::npos;
  if (from_coll != to_coll) {
    return Status::InvalidArgument("--map '" + spec +
                                   "' maps a collection to a database (or back); both sides "
                                   "must be db.coll, or both db");
  }
  (from_coll ? colls_ : dbs_).emplace_back(from, to);
  return Status::OK();
}

std::pair<std::string, std::string> NamespaceMap::Map(const std::string& db,
                                                      const std::string& coll) const {
  const std::string ns = db + "." + coll;
  for (const auto& [from, to] : colls_) {
    if (from == ns) {
      auto dot = to.find('.');
      return {to.substr(0, dot), to.substr(dot + 1)};
    }
  }
  for (const auto& [from, to] : dbs_)
    if (from == db) return {to, coll};
  return {db, coll};
}

bool IsDocumentOp(int op) {
  return op == pb::OP_INSERT || op == pb::OP_UPDATE || op == pb::OP_REPLACE ||
         op == pb::OP_DELETE;
}

bool IsDdlOp(int op) {
  return op == pb::OP_DROP || op == pb::OP_RENAME || op == pb::OP_DROP_DATABASE ||
         op == pb::OP_CREATE || op == pb::OP_CREATE_INDEXES || op == pb::OP_DROP_INDEXES ||
         op == pb::OP_UNKNOWN;  // replayed or dead-lettered (apply/ddl.h), never skipped
}

namespace {

void AppendCanonical(bson_iter_t* it, std::string* out) {
  while (bson_iter_next(it)) {
    out->append(bson_iter_key(it));
    out->push_back('\0');
    switch (bson_iter_type(it)) {
      case BSON_TYPE_INT32:
      case BSON_TYPE_INT64:
      case BSON_TYPE_DOUBLE: {
        const double d = bson_iter_as_double(it);
        const int64_t i = bson_iter_as_int64(it);
        out->push_back('n');
        out->append(static_cast<double>(i) == d ? std::to_string(i) : std::to_string(d));
        break;
      }
      case BSON_TYPE_DOCUMENT:
      case BSON_TYPE_ARRAY: {
        bson_iter_t child;
        out->push_back(bson_iter_type(it) == BSON_TYPE_DOCUMENT ? '{' : '[');
        if (bson_iter_recurse(it, &child)) AppendCanonical(&child, out);
        out->push_back('}');
        break;
      }
      default: {
        out->push_back(static_cast<char>(bson_iter_type(it)));
        // Any other type: its value re-encoded under an empty key.
        bson_t tmp = BSON_INITIALIZER;
        bson_append_value(&tmp, "", 0, bson_iter_value(it));
        out->append(reinterpret_cast<const char*>(bson_get_data(&tmp)), tmp.len);
        bson_destroy(&tmp);
      }
    }
    out->push_back('\1');
  }
}

mongo::BsonPtr IdOnly(const std::string& key_bytes) {
  bson_t key;
  bson_iter_t it;
  mongo::BsonPtr out(bson_new());
  if (mongo::ViewBytes(key_bytes, &key) && bson_iter_init_find(&it, &key, "_id")) {
    bson_append_iter(out.get(), "_id", 3, &it);
  }
  return out;
}

bool HasId(const bson_t* b) {
  bson_iter_t it;
  return bson_iter_init_find(&it, b, "_id");
}

}  // namespace

std::string CanonicalKey(const std::string& document_key_bytes) {
  bson_t b;
  if (!mongo::ViewBytes(document_key_bytes, &b)) return document_key_bytes;
  mongo::BsonPtr id = IdOnly(document_key_bytes);
  bson_iter_t it;
  std::string out;
  if (bson_iter_init(&it, id.get())) AppendCanonical(&it, &out);
  return out;
}

Status Translate(const pb::ChangeEvent& e, DocWrite* out, bool prefer_update_description) {
  if (!e.conversion_error().empty()) return Status::InvalidArgument(e.conversion_error());
  if (!ValidDoc(e.document_key())) {
    return Status::InvalidArgument("event has no valid document key");
  }
  {
    bson_t key;
    mongo::ViewBytes(e.document_key(), &key);
    if (!HasId(&key)) {
      return Status::InvalidArgument("document key " + mongo::ToJson(&key) +
                                     " has no _id; the source sent no usable key");
    }
  }
  // The filter is {_id} alone: _id identifies a document within its collection. Other
  // document-key fields (a sharded source's shard key) are not needed by an unsharded
  // target, and some servers put more there than a key (mongo-java-server sends the
  // update spec, for a replace the whole new document: tests/README.md).
  out->filter = IdOnly(e.document_key());
  out->pre_updates.clear();
  out->doc.reset();
  switch (e.op()) {
    case pb::OP_INSERT:
    case pb::OP_REPLACE:
      if (!ValidDoc(e.full_document())) {
        return Status::InvalidArgument("insert/replace event has no valid full document");
      }
      out->kind = DocWrite::Kind::kReplace;
      out->doc = Copy(e.full_document());
      return Status::OK();
    case pb::OP_DELETE:
      out->kind = DocWrite::Kind::kDelete;
      return Status::OK();
    case pb::OP_UPDATE:
      if (ValidDoc(e.full_document()) &&
          !(prefer_update_description && ValidDoc(e.update_description()))) {
        out->kind = DocWrite::Kind::kReplace;
        out->doc = Copy(e.full_document());
        return Status::OK();
      }
      break;
    default:
      return Status::InvalidArgument("not a document event");
  }
  // Update from its description.
  bson_t desc;
  if (!mongo::ViewBytes(e.update_description(), &desc)) {
    return Status::InvalidArgument(
        "update event carries neither a full document nor an update description");
  }
  out->kind = DocWrite::Kind::kUpdate;
  BsonPtr spec(bson_new());
  bson_iter_t it;
  if (bson_iter_init_find(&it, &desc, "updatedFields") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
    uint32_t len;
    const uint8_t* data;
    bson_iter_document(&it, &len, &data);
    bson_t set;
    if (bson_init_static(&set, data, len) && !bson_empty(&set)) BSON_APPEND_DOCUMENT(spec.get(), "$set", &set);
  }
  if (bson_iter_init_find(&it, &desc, "removedFields") && BSON_ITER_HOLDS_ARRAY(&it)) {
    bson_iter_t f;
    bson_t unset;
    bool any = false;
    if (bson_iter_recurse(&it, &f)) {
      while (bson_iter_next(&f)) {
        if (!BSON_ITER_HOLDS_UTF8(&f)) continue;
        if (!any) {
          BSON_APPEND_DOCUMENT_BEGIN(spec.get(), "$unset", &unset);
          any = true;
        }
        BSON_APPEND_UTF8(&unset, bson_iter_utf8(&f, nullptr), "");
      }
    }
    if (any) bson_append_document_end(spec.get(), &unset);
  }
  if (bson_iter_init_find(&it, &desc, "truncatedArrays") && BSON_ITER_HOLDS_ARRAY(&it)) {
    bson_iter_t a;
    if (bson_iter_recurse(&it, &a)) {
      while (bson_iter_next(&a)) {
        bson_iter_t fld;
        std::string field;
        int64_t size = -1;
        if (!BSON_ITER_HOLDS_DOCUMENT(&a) || !bson_iter_recurse(&a, &fld)) continue;
        while (bson_iter_next(&fld)) {
          if (std::string(bson_iter_key(&fld)) == "field" && BSON_ITER_HOLDS_UTF8(&fld))
            field = bson_iter_utf8(&fld, nullptr);
          if (std::string(bson_iter_key(&fld)) == "newSize") size = bson_iter_as_int64(&fld);
        }
        if (field.empty() || size < 0) continue;
        BsonPtr push(bson_new());
        bson_t p, f, each;
        BSON_APPEND_DOCUMENT_BEGIN(push.get(), "$push", &p);
        BSON_APPEND_DOCUMENT_BEGIN(&p, field.c_str(), &f);
        BSON_APPEND_ARRAY_BEGIN(&f, "$each", &each);
        bson_append_array_end(&f, &each);
        BSON_APPEND_INT64(&f, "$slice", size);
        bson_append_document_end(&p, &f);
        bson_append_document_end(push.get(), &p);
        out->pre_updates.push_back(std::move(push));
      }
    }
  }
  if (bson_empty(spec.get()) && out->pre_updates.empty()) {
    return Status::InvalidArgument("update description changes nothing");
  }
  if (bson_empty(spec.get())) {
    out->doc = std::move(out->pre_updates.back());
    out->pre_updates.pop_back();
  } else {
    out->doc = std::move(spec);
  }
  return Status::OK();
}

std::string DescribeWrite(const std::string& ns, const DocWrite& w) {
  std::string s = "{\"ns\": \"" + ns + "\", ";
  switch (w.kind) {
    case DocWrite::Kind::kReplace:
      s += "\"replaceOne\": {\"filter\": " + mongo::ToJson(w.filter.get()) +
           ", \"replacement\": " + mongo::ToJson(w.doc.get()) + ", \"upsert\": true}";
      break;
    case DocWrite::Kind::kUpdate:
      s += "\"updateOne\": {\"filter\": " + mongo::ToJson(w.filter.get());
      for (const auto& p : w.pre_updates) s += ", \"preUpdate\": " + mongo::ToJson(p.get());
      s += ", \"update\": " + mongo::ToJson(w.doc.get()) + "}";
      break;
    case DocWrite::Kind::kDelete:
      s += "\"deleteOne\": {\"filter\": " + mongo::ToJson(w.filter.get()) + "}";
      break;
  }
  return s + "}";
}

}  // namespace docshift::apply
