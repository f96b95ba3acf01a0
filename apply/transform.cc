#include "apply/transform.h"

#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <unordered_set>

namespace docshift::apply {
namespace {

using mongo::BsonPtr;

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

const std::string* RenamedTo(const TransformRule& r, const std::string& from) {
  for (const auto& [f, t] : r.rename)
    if (f == from) return &t;
  return nullptr;
}

const std::string* RenamedFrom(const TransformRule& r, const std::string& to) {
  for (const auto& [f, t] : r.rename)
    if (t == to) return &f;
  return nullptr;
}

const EpochUnit* DateUnit(const TransformRule& r, const std::string& field) {
  for (const auto& [f, u] : r.dates)
    if (f == field) return &u;
  return nullptr;
}

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

const char* TypeName(bson_type_t t) {
  switch (t) {
    case BSON_TYPE_DOUBLE: return "a double";
    case BSON_TYPE_UTF8: return "a string";
    case BSON_TYPE_DOCUMENT: return "a document";
    case BSON_TYPE_ARRAY: return "an array";
    case BSON_TYPE_BINARY: return "binary data";
    case BSON_TYPE_OID: return "an ObjectId";
    case BSON_TYPE_BOOL: return "a boolean";
    case BSON_TYPE_DATE_TIME: return "a date";
    case BSON_TYPE_NULL: return "null";
    case BSON_TYPE_REGEX: return "a regular expression";
    case BSON_TYPE_INT32: return "an int32";
    case BSON_TYPE_TIMESTAMP: return "a timestamp";
    case BSON_TYPE_INT64: return "an int64";
    case BSON_TYPE_DECIMAL128: return "a decimal128";
    default: return "an unsupported type";
  }
}

// A field name a rule may use: top-level, so no '.', no leading '$', not _id.
std::string BadFieldName(const std::string& f) {
  if (f.empty()) return "an empty field name";
  if (f == "_id") return "\"_id\" (use \"id\" to make _id from fields; _id cannot be renamed, dropped or defaulted)";
  if (f.find('.') != std::string::npos) return Quote(f) + " (rules name top-level fields: no '.')";
  if (f[0] == '$') return Quote(f) + " (a field name cannot start with '$')";
  if (f.find('\0') != std::string::npos) return "a field name with a NUL byte";
  return "";
}

std::string BadGlob(const std::string& g) {
  if (g.empty()) return "is empty";
  if (g.find('.') == std::string::npos && g.find('*') == std::string::npos) {
    return "has no '.': write db.coll, db.* or *.coll";
  }
  for (size_t i = 0; i < g.size(); ++i) {
    if (g[i] == '[') {
      size_t j = i + 1;
      if (j < g.size() && (g[j] == '!' || g[j] == '^')) ++j;
      if (j < g.size() && g[j] == ']') ++j;
      const size_t close = g.find(']', j);
      if (close == std::string::npos) return "has a '[' without its ']'";
      i = close;
    }
  }
  return "";
}

// Appends the value at `it` as a BSON date under `key`, converted per `unit`.
Status AppendDate(const TransformRule& r, const std::string& field, const bson_iter_t* it, EpochUnit unit,
                  bson_t* out, const std::string& key) {
  const char* unit_name = unit == EpochUnit::kSeconds ? "seconds" : "milliseconds";
  const bson_type_t t = bson_iter_type(it);
  auto refuse = [&](const std::string& why) {
    return Status::InvalidArgument(r.Name() + ": field " + Quote(field) + " " + why +
                                   "; it cannot become a date (epoch " + unit_name + ")");
  };
  if (t == BSON_TYPE_DATE_TIME || t == BSON_TYPE_NULL) {
    bson_append_iter(out, key.c_str(), static_cast<int>(key.size()), it);
    return Status::OK();
  }
  const double scale = unit == EpochUnit::kSeconds ? 1000.0 : 1.0;
  int64_t ms = 0;
  if (t == BSON_TYPE_INT32 || t == BSON_TYPE_INT64) {
    const int64_t v = bson_iter_as_int64(it);
    if (unit == EpochUnit::kSeconds) {
      if (v > std::numeric_limits<int64_t>::max() / 1000 || v < std::numeric_limits<int64_t>::min() / 1000) {
        return refuse("is " + std::to_string(v) + ", out of the range of a date");
      }
      ms = v * 1000;
    } else {
      ms = v;
    }
  } else if (t == BSON_TYPE_DOUBLE || t == BSON_TYPE_DECIMAL128) {
    double v = 0;
    if (t == BSON_TYPE_DOUBLE) {
      v = bson_iter_double(it);
    } else {
      bson_decimal128_t d;
      bson_iter_decimal128(it, &d);
      char buf[BSON_DECIMAL128_STRING];
      bson_decimal128_to_string(&d, buf);
      char* end = nullptr;
      v = std::strtod(buf, &end);
      if (end == buf || *end != '\0') return refuse(std::string("is the decimal128 ") + buf);
    }
    const double m = std::round(v * scale);
    if (!std::isfinite(m) || std::fabs(m) >= 9.2e18) return refuse("is " + std::to_string(v) + ", out of the range of a date");
    ms = static_cast<int64_t>(m);
  } else {
    return refuse(std::string("is ") + TypeName(t) + ", not a number");
  }
  bson_append_date_time(out, key.c_str(), static_cast<int>(key.size()), ms);
  return Status::OK();
}

// Renames, drops, defaults (when use_defaults), dates, then _id.
StatusOr<BsonPtr> Reshape(const TransformRule& r, const bson_t* doc, bool use_defaults) {
  bson_iter_t it;
  std::unordered_set<std::string> present;  // only needed to replace rename targets
  if (!r.rename.empty() && bson_iter_init(&it, doc)) {
    while (bson_iter_next(&it)) present.emplace(bson_iter_key(&it));
  }
  BsonPtr out(bson_new());
  std::unordered_set<std::string> written;
  if (bson_iter_init(&it, doc)) {
    while (bson_iter_next(&it)) {
      const std::string key = bson_iter_key(&it);
      std::string name = key;
      if (const std::string* to = RenamedTo(r, key)) {
        name = *to;
      } else if (const std::string* from = RenamedFrom(r, key); from != nullptr && present.count(*from) != 0) {
        continue;  // replaced by the renamed field, as $rename does
      }
      if (Has(r.drop, name) || !written.insert(name).second) continue;
      if (const EpochUnit* u = DateUnit(r, name)) {
        RETURN_IF_ERROR(AppendDate(r, name, &it, *u, out.get(), name));
      } else {
        bson_append_iter(out.get(), name.c_str(), static_cast<int>(name.size()), &it);
      }
    }
  }
  if (use_defaults && !r.defaults.empty()) {
    bson_t defs;
    if (mongo::ViewBytes(r.defaults, &defs) && bson_iter_init(&it, &defs)) {
      while (bson_iter_next(&it)) {
        const std::string name = bson_iter_key(&it);
        if (!written.insert(name).second) continue;
        if (const EpochUnit* u = DateUnit(r, name)) {
          RETURN_IF_ERROR(AppendDate(r, name, &it, *u, out.get(), name));
        } else {
          bson_append_iter(out.get(), name.c_str(), static_cast<int>(name.size()), &it);
        }
      }
    }
  }
  if (!r.sets_id()) return out;
  // _id first, then every other field.
  BsonPtr res(bson_new());
  bson_iter_t f;
  auto missing = [&](const std::string& name) {
    return Status::InvalidArgument(r.Name() + ": the document has no field " + Quote(name) +
                                   " to make _id from");
  };
  if (r.id_fields.size() == 1) {
    const std::string& name = r.id_fields[0];
    if (!bson_iter_init_find(&f, out.get(), name.c_str())) return missing(name);
    const bson_type_t t = bson_iter_type(&f);
    if (t == BSON_TYPE_ARRAY || t == BSON_TYPE_REGEX || t == BSON_TYPE_UNDEFINED) {
      return Status::InvalidArgument(r.Name() + ": field " + Quote(name) + " is " + TypeName(t) +
                                     ", which cannot be an _id");
    }
    bson_append_iter(res.get(), "_id", 3, &f);
  } else {
    bson_t id;
    bson_append_document_begin(res.get(), "_id", 3, &id);
    for (const std::string& name : r.id_fields) {
      if (!bson_iter_init_find(&f, out.get(), name.c_str())) {
        bson_append_document_end(res.get(), &id);
        return missing(name);
      }
      bson_append_iter(&id, name.c_str(), static_cast<int>(name.size()), &f);
    }
    bson_append_document_end(res.get(), &id);
  }
  if (bson_iter_init(&it, out.get())) {
    while (bson_iter_next(&it)) {
      if (strcmp(bson_iter_key(&it), "_id") != 0) bson_append_iter(res.get(), bson_iter_key(&it), -1, &it);
    }
  }
  return res;
}

bool ValidDoc(const std::string& bytes) {
  bson_t b;
  if (!mongo::ViewBytes(bytes, &b)) return false;
  size_t off;
  return bson_validate(&b, BSON_VALIDATE_NONE, &off);
}

// A path of an update description, under the rule: nullopt when its field is dropped.
StatusOr<std::optional<std::string>> MapPath(const TransformRule& r, const std::string& path,
                                             std::string* top_out, std::string* rest_out) {
  const size_t dot = path.find('.');
  std::string top = path.substr(0, dot);
  const std::string rest = dot == std::string::npos ? "" : path.substr(dot);
  if (top != "_id") {
    if (const std::string* to = RenamedTo(r, top)) {
      top = *to;
    } else if (const std::string* from = RenamedFrom(r, top)) {
      return Status::InvalidArgument(r.Name() + ": the update changes " + Quote(path) + ", a field the rule's rename of " +
                                     Quote(*from) + " replaces on the target");
    }
    if (Has(r.drop, top)) return std::optional<std::string>();
    if (Has(r.id_fields, top)) {
      // FailedPrecondition: refused even when the event has its full document.
      return Status::FailedPrecondition(r.Name() + ": the update changes " + Quote(path) +
                                     ", a field the rule makes _id from: the target document would move to "
                                     "another _id (the fields _id is made from must never change)");
    }
  }
  *top_out = top;
  *rest_out = rest;
  return std::optional<std::string>(top + rest);
}

// The update description under the rule; *changes_nothing when nothing is left of it.
StatusOr<std::string> TransformDescription(const TransformRule& r, const bson_t* desc, bool* changes_nothing) {
  BsonPtr set(bson_new());
  std::vector<std::string> removed;
  BsonPtr truncated(bson_new());
  int ntrunc = 0;
  std::string top, rest;
  bson_iter_t it, sub;
  if (bson_iter_init_find(&it, desc, "updatedFields") && BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &sub)) {
    while (bson_iter_next(&sub)) {
      ASSIGN_OR_RETURN(auto mapped, MapPath(r, bson_iter_key(&sub), &top, &rest));
      if (!mapped) continue;
      if (const EpochUnit* u = DateUnit(r, top)) {
        if (!rest.empty()) {
          return Status::InvalidArgument(r.Name() + ": the update sets " + Quote(*mapped) + " inside field " +
                                         Quote(top) + ", which the rule makes a date");
        }
        RETURN_IF_ERROR(AppendDate(r, top, &sub, *u, set.get(), *mapped));
      } else {
        bson_append_iter(set.get(), mapped->c_str(), static_cast<int>(mapped->size()), &sub);
      }
    }
  }
  bson_t defs;
  const bool have_defs = !r.defaults.empty() && mongo::ViewBytes(r.defaults, &defs);
  if (bson_iter_init_find(&it, desc, "removedFields") && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &sub)) {
    while (bson_iter_next(&sub)) {
      if (!BSON_ITER_HOLDS_UTF8(&sub)) continue;
      ASSIGN_OR_RETURN(auto mapped, MapPath(r, bson_iter_utf8(&sub, nullptr), &top, &rest));
      if (!mapped) continue;
      bson_iter_t d;
      if (rest.empty() && have_defs && bson_iter_init_find(&d, &defs, top.c_str())) {
        // Removed at the source: missing, so the target has the default.
        if (const EpochUnit* u = DateUnit(r, top)) {
          RETURN_IF_ERROR(AppendDate(r, top, &d, *u, set.get(), top));
        } else {
          bson_append_iter(set.get(), top.c_str(), static_cast<int>(top.size()), &d);
        }
        continue;
      }
      if (!rest.empty() && DateUnit(r, top) != nullptr) {
        return Status::InvalidArgument(r.Name() + ": the update removes " + Quote(*mapped) + " inside field " +
                                       Quote(top) + ", which the rule makes a date");
      }
      removed.push_back(*mapped);
    }
  }
  if (bson_iter_init_find(&it, desc, "truncatedArrays") && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &sub)) {
    while (bson_iter_next(&sub)) {
      bson_iter_t f;
      std::string field;
      if (!BSON_ITER_HOLDS_DOCUMENT(&sub) || !bson_iter_recurse(&sub, &f)) continue;
      while (bson_iter_next(&f)) {
        if (strcmp(bson_iter_key(&f), "field") == 0 && BSON_ITER_HOLDS_UTF8(&f)) field = bson_iter_utf8(&f, nullptr);
      }
      if (field.empty()) continue;
      ASSIGN_OR_RETURN(auto mapped, MapPath(r, field, &top, &rest));
      if (!mapped) continue;
      if (DateUnit(r, top) != nullptr) {
        return Status::InvalidArgument(r.Name() + ": the update truncates an array in field " + Quote(top) +
                                       ", which the rule makes a date");
      }
      bson_t entry;
      const std::string k = std::to_string(ntrunc++);
      bson_append_document_begin(truncated.get(), k.c_str(), static_cast<int>(k.size()), &entry);
      if (bson_iter_recurse(&sub, &f)) {
        while (bson_iter_next(&f)) {
          if (strcmp(bson_iter_key(&f), "field") == 0) {
            bson_append_utf8(&entry, "field", 5, mapped->c_str(), static_cast<int>(mapped->size()));
          } else {
            bson_append_iter(&entry, bson_iter_key(&f), -1, &f);
          }
        }
      }
      bson_append_document_end(truncated.get(), &entry);
    }
  }
  *changes_nothing = bson_empty(set.get()) && removed.empty() && ntrunc == 0;
  BsonPtr out(bson_new());
  bson_append_document(out.get(), "updatedFields", 13, set.get());
  bson_t arr;
  bson_append_array_begin(out.get(), "removedFields", 13, &arr);
  for (size_t i = 0; i < removed.size(); ++i) {
    const std::string k = std::to_string(i);
    bson_append_utf8(&arr, k.c_str(), static_cast<int>(k.size()), removed[i].c_str(), static_cast<int>(removed[i].size()));
  }
  bson_append_array_end(out.get(), &arr);
  if (ntrunc > 0) bson_append_array(out.get(), "truncatedArrays", 15, truncated.get());
  return mongo::Bytes(out.get());
}

// The target's {_id} for an event whose full document is not there (or not to be
// written: a delete's before-image is used when present).
StatusOr<std::string> TargetKey(const TransformRule& r, const pb::ChangeEvent& e, bool has_full) {
  if (has_full) {
    bson_t doc;
    mongo::ViewBytes(e.full_document(), &doc);
    ASSIGN_OR_RETURN(BsonPtr t, Reshape(r, &doc, /*use_defaults=*/true));
    bson_iter_t it;
    BsonPtr key(bson_new());
    if (bson_iter_init_find(&it, t.get(), "_id")) bson_append_iter(key.get(), "_id", 3, &it);
    return mongo::Bytes(key.get());
  }
  // The key's own fields, and those of a document-valued _id (DynamoDB hash + range).
  bson_t key;
  if (!mongo::ViewBytes(e.document_key(), &key)) return Status::InvalidArgument("event has no valid document key");
  BsonPtr pseudo(bson_new());
  bson_iter_t it;
  if (bson_iter_init(&it, &key)) {
    while (bson_iter_next(&it)) {
      if (strcmp(bson_iter_key(&it), "_id") != 0) bson_append_iter(pseudo.get(), bson_iter_key(&it), -1, &it);
    }
  }
  bson_iter_t id, sub;
  if (bson_iter_init_find(&id, &key, "_id") && BSON_ITER_HOLDS_DOCUMENT(&id) && bson_iter_recurse(&id, &sub)) {
    while (bson_iter_next(&sub)) {
      bson_iter_t dup;
      if (!bson_iter_init_find(&dup, pseudo.get(), bson_iter_key(&sub))) {
        bson_append_iter(pseudo.get(), bson_iter_key(&sub), -1, &sub);
      }
    }
  }
  auto t = Reshape(r, pseudo.get(), /*use_defaults=*/false);
  if (!t.ok()) {
    std::string fields;
    for (const auto& f : r.id_fields) fields += (fields.empty() ? "" : ", ") + Quote(f);
    std::string inner = t.status().message();
    if (inner.rfind(r.Name() + ": ", 0) == 0) inner = inner.substr(r.Name().size() + 2);
    return Status::InvalidArgument(
        r.Name() + ": " + (e.op() == pb::OP_DELETE ? "a delete" : "an update without its full document") +
        " carries only its key " + mongo::ToJson(&key) + ", which lacks what the rule makes _id from (" + fields +
        "): the target document cannot be found (" + inner +
        "). Capture full documents and before-images (change streams with fullDocument, DynamoDB streams "
        "with NEW_AND_OLD_IMAGES), or make _id from key fields");
  }
  bson_iter_t nid;
  BsonPtr out(bson_new());
  if (bson_iter_init_find(&nid, t->get(), "_id")) bson_append_iter(out.get(), "_id", 3, &nid);
  return mongo::Bytes(out.get());
}

}  // namespace

std::string TransformRule::Name() const {
  return "transforms rule " + std::to_string(index + 1) + " (" + namespace_glob + ")";
}

StatusOr<Transforms> Transforms::Load(const std::string& path) {
  const std::string what = "--transforms " + path;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(what + ": cannot read the file; give a readable JSON rules file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::InvalidArgument(what + ": cannot read the file");
  return Parse(ss.str(), what);
}

StatusOr<Transforms> Transforms::Parse(const std::string& json, const std::string& what) {
  constexpr const char* kShape = "the file must be {\"rules\": [{\"namespace\": \"db.coll\", ...}, ...]}";
  bson_error_t err;
  BsonPtr root(bson_new_from_json(reinterpret_cast<const uint8_t*>(json.data()),
                                  static_cast<ssize_t>(json.size()), &err));
  if (!root) return Status::InvalidArgument(what + ": not valid JSON (" + err.message + "); " + kShape);
  Transforms t;
  t.text_ = json;
  bson_iter_t it;
  bool have_rules = false;
  bson_iter_init(&it, root.get());
  while (bson_iter_next(&it)) {
    const std::string key = bson_iter_key(&it);
    if (key != "rules") return Status::InvalidArgument(what + ": unknown key " + Quote(key) + "; " + kShape);
    if (!BSON_ITER_HOLDS_ARRAY(&it)) return Status::InvalidArgument(what + ": \"rules\" is not an array; " + kShape);
    have_rules = true;
    bson_iter_t arr;
    bson_iter_recurse(&it, &arr);
    int index = 0;
    while (bson_iter_next(&arr)) {
      TransformRule r;
      r.index = index++;
      std::string where = what + ": rule " + std::to_string(r.index + 1);
      auto bad = [&](const std::string& msg) { return Status::InvalidArgument(where + ": " + msg); };
      if (!BSON_ITER_HOLDS_DOCUMENT(&arr)) return bad("is not an object; " + std::string(kShape));
      bson_iter_t f;
      bson_iter_recurse(&arr, &f);
      if (bson_iter_t n; bson_iter_recurse(&arr, &n) && bson_iter_find(&n, "namespace")) {
        if (!BSON_ITER_HOLDS_UTF8(&n)) return bad("\"namespace\" is not a string; give a glob like \"db.coll\" or \"db.*\"");
        r.namespace_glob = bson_iter_utf8(&n, nullptr);
        where += " (" + r.namespace_glob + ")";
        if (const std::string g = BadGlob(r.namespace_glob); !g.empty()) {
          return bad("namespace glob " + Quote(r.namespace_glob) + " " + g + " (fnmatch syntax, on the source db.coll)");
        }
      } else {
        return bad("has no \"namespace\"; give the source namespace glob it applies to, like \"db.coll\" or \"db.*\"");
      }
      auto field_list = [&](const char* op, std::vector<std::string>* out) -> Status {
        if (BSON_ITER_HOLDS_UTF8(&f)) {
          out->emplace_back(bson_iter_utf8(&f, nullptr));
        } else if (BSON_ITER_HOLDS_ARRAY(&f)) {
          bson_iter_t a;
          bson_iter_recurse(&f, &a);
          while (bson_iter_next(&a)) {
            if (!BSON_ITER_HOLDS_UTF8(&a)) return bad(std::string("\"") + op + "\" holds " + TypeName(bson_iter_type(&a)) + "; give field names (strings)");
            out->emplace_back(bson_iter_utf8(&a, nullptr));
          }
        } else {
          return bad(std::string("\"") + op + "\" is " + TypeName(bson_iter_type(&f)) + "; give a list of field names");
        }
        for (const auto& name : *out) {
          if (const std::string b = BadFieldName(name); !b.empty()) return bad(std::string("\"") + op + "\" names " + b);
          if (std::count(out->begin(), out->end(), name) > 1) return bad(std::string("\"") + op + "\" names " + Quote(name) + " twice");
        }
        return Status::OK();
      };
      while (bson_iter_next(&f)) {
        const std::string op = bson_iter_key(&f);
        if (op == "namespace") continue;
        if (op == "rename") {
          if (!BSON_ITER_HOLDS_DOCUMENT(&f)) return bad("\"rename\" is not an object; give {\"old\": \"new\", ...}");
          bson_iter_t m;
          bson_iter_recurse(&f, &m);
          while (bson_iter_next(&m)) {
            const std::string from = bson_iter_key(&m);
            if (!BSON_ITER_HOLDS_UTF8(&m)) return bad("\"rename\" of " + Quote(from) + " is " + TypeName(bson_iter_type(&m)) + "; give the new name as a string");
            const std::string to = bson_iter_utf8(&m, nullptr);
            for (const std::string& n : {from, to}) {
              if (const std::string b = BadFieldName(n); !b.empty()) return bad("\"rename\" names " + b);
            }
            if (from == to) return bad("\"rename\" renames " + Quote(from) + " to itself; remove it");
            if (RenamedTo(r, from) || RenamedFrom(r, from) || RenamedTo(r, to) || RenamedFrom(r, to)) {
              return bad("\"rename\" names " + Quote(from) + " or " + Quote(to) + " in two renames; rename each field once, to a name no other rename uses");
            }
            r.rename.emplace_back(from, to);
          }
        } else if (op == "drop") {
          RETURN_IF_ERROR(field_list("drop", &r.drop));
        } else if (op == "id") {
          RETURN_IF_ERROR(field_list("id", &r.id_fields));
          if (r.id_fields.empty()) return bad("\"id\" is empty; give the fields _id is made from, or remove it");
        } else if (op == "defaults") {
          if (!BSON_ITER_HOLDS_DOCUMENT(&f)) return bad("\"defaults\" is not an object; give {\"field\": value, ...}");
          bson_iter_t m;
          bson_iter_recurse(&f, &m);
          while (bson_iter_next(&m)) {
            if (const std::string b = BadFieldName(bson_iter_key(&m)); !b.empty()) return bad("\"defaults\" names " + b);
          }
          r.defaults = mongo::SubdocBytes(&f);
        } else if (op == "dates") {
          if (!BSON_ITER_HOLDS_DOCUMENT(&f)) return bad("\"dates\" is not an object; give {\"field\": \"seconds\" or \"milliseconds\"}");
          bson_iter_t m;
          bson_iter_recurse(&f, &m);
          while (bson_iter_next(&m)) {
            const std::string name = bson_iter_key(&m);
            if (const std::string b = BadFieldName(name); !b.empty()) return bad("\"dates\" names " + b);
            const std::string unit = BSON_ITER_HOLDS_UTF8(&m) ? bson_iter_utf8(&m, nullptr) : "";
            if (unit != "seconds" && unit != "milliseconds") {
              return bad("\"dates\" of " + Quote(name) + " must be \"seconds\" or \"milliseconds\" (the epoch unit), not " +
                         (BSON_ITER_HOLDS_UTF8(&m) ? Quote(unit) : std::string(TypeName(bson_iter_type(&m)))));
            }
            r.dates.emplace_back(name, unit == "seconds" ? EpochUnit::kSeconds : EpochUnit::kMilliseconds);
          }
        } else {
          return bad("unknown operation " + Quote(op) + "; a rule takes namespace, rename, drop, defaults, dates and id");
        }
      }
      // Names after rename (the order of operations): the old name of a renamed field, or
      // a dropped one, named by a later step is a mistake the user must hear about.
      for (const auto& d : r.drop) {
        if (const std::string* to = RenamedTo(r, d)) return bad("\"drop\" names " + Quote(d) + ", which \"rename\" moves to " + Quote(*to) + "; drop " + Quote(*to) + " or remove the rename");
        if (RenamedFrom(r, d)) return bad("\"drop\" names " + Quote(d) + ", the new name of a renamed field; remove the rename or the drop");
      }
      std::vector<std::pair<std::string, std::string>> later;  // (op, field)
      bson_t defs;
      if (!r.defaults.empty() && mongo::ViewBytes(r.defaults, &defs)) {
        bson_iter_t m;
        bson_iter_init(&m, &defs);
        while (bson_iter_next(&m)) later.emplace_back("defaults", bson_iter_key(&m));
      }
      for (const auto& [d, u] : r.dates) later.emplace_back("dates", d);
      for (const auto& d : r.id_fields) later.emplace_back("id", d);
      for (const auto& [op, name] : later) {
        if (const std::string* to = RenamedTo(r, name)) {
          return bad("\"" + op + "\" names " + Quote(name) + ", which \"rename\" moves to " + Quote(*to) +
                     "; name it " + Quote(*to) + " (rename comes first)");
        }
        if (Has(r.drop, name)) return bad("\"" + op + "\" names " + Quote(name) + ", which \"drop\" removes; remove one of them");
      }
      t.rules_.push_back(std::move(r));
    }
  }
  if (!have_rules) return Status::InvalidArgument(what + ": no \"rules\"; " + kShape);
  return t;
}

const TransformRule* Transforms::RuleFor(const std::string& db, const std::string& coll) const {
  const std::string ns = db + "." + coll;
  for (const auto& r : rules_) {
    if (fnmatch(r.namespace_glob.c_str(), ns.c_str(), 0) == 0) return &r;
  }
  return nullptr;
}

StatusOr<BsonPtr> TransformDocument(const TransformRule& rule, const bson_t* doc) {
  return Reshape(rule, doc, /*use_defaults=*/true);
}

Status TransformEvent(const TransformRule& r, pb::ChangeEvent* e) {
  const pb::OpType op = e->op();
  if (op != pb::OP_INSERT && op != pb::OP_REPLACE && op != pb::OP_UPDATE && op != pb::OP_DELETE) {
    return Status::OK();
  }
  const bool has_full = ValidDoc(e->full_document());
  if (op == pb::OP_DELETE) {
    if (!r.sets_id()) return Status::OK();
    ASSIGN_OR_RETURN(std::string key, TargetKey(r, *e, has_full));
    e->set_document_key(std::move(key));
    return Status::OK();
  }
  bson_t desc;
  const bool has_desc = op == pb::OP_UPDATE && ValidDoc(e->update_description()) &&
                        mongo::ViewBytes(e->update_description(), &desc);
  // An update that changes a field _id is made from is refused even with its full
  // document: the target's old document would stay under its old _id.
  std::string new_desc;
  bool changes_nothing = false;
  Status desc_status = Status::OK();
  if (has_desc) {
    auto d = TransformDescription(r, &desc, &changes_nothing);
    if (d.ok()) {
      new_desc = std::move(d).value();
    } else {
      desc_status = d.status();
      if (desc_status.IsFailedPrecondition()) return Status::InvalidArgument(desc_status.message());
    }
  }
  if (has_full) {
    bson_t doc;
    mongo::ViewBytes(e->full_document(), &doc);
    ASSIGN_OR_RETURN(BsonPtr t, Reshape(r, &doc, /*use_defaults=*/true));
    e->set_full_document(mongo::Bytes(t.get()));
    if (r.sets_id()) {
      bson_iter_t it;
      BsonPtr key(bson_new());
      if (bson_iter_init_find(&it, t.get(), "_id")) bson_append_iter(key.get(), "_id", 3, &it);
      e->set_document_key(mongo::Bytes(key.get()));
    }
  } else if (op == pb::OP_UPDATE && r.sets_id()) {
    ASSIGN_OR_RETURN(std::string key, TargetKey(r, *e, false));
    e->set_document_key(std::move(key));
  }
  if (!has_desc) return Status::OK();
  if (!desc_status.ok() || changes_nothing) {
    // Apply writes the full document; without one, the update cannot be written (an
    // error) or writes nothing (a no-op: it changed only dropped fields).
    if (has_full) {
      e->clear_update_description();
      return Status::OK();
    }
    if (!desc_status.ok()) return desc_status;
    e->clear_update_description();
    e->set_op(pb::OP_NOOP);
    return Status::OK();
  }
  e->set_update_description(std::move(new_desc));
  return Status::OK();
}

}  // namespace docshift::apply
