#include "apply/ddl.h"

#include <cstring>

namespace docshift::apply {
namespace {

using mongo::BsonPtr;

// The raw source event behind a DDL event.
struct Raw {
  bool valid = false;
  bool oplog = false;  // an oplog entry (else a change stream event)
  std::string name;    // command name / operationType
  std::string arg;     // oplog: the command's collection ({collMod: "coll", ...}), if a string
  bson_t body;         // oplog: "o"; change stream: operationDescription (may be empty)
  bool have_body = false;
};

bool ViewSubdoc(const bson_iter_t* it, bson_t* out) {
  if (!BSON_ITER_HOLDS_DOCUMENT(it) && !BSON_ITER_HOLDS_ARRAY(it)) return false;
  uint32_t len;
  const uint8_t* data;
  if (BSON_ITER_HOLDS_DOCUMENT(it)) {
    bson_iter_document(it, &len, &data);
  } else {
    bson_iter_array(it, &len, &data);
  }
  return bson_init_static(out, data, len);
}

Raw ReadRaw(const pb::ChangeEvent& e) {
  Raw r;
  bson_t doc;
  if (!mongo::ViewBytes(e.ddl(), &doc)) return r;
  bson_iter_t it;
  if (bson_iter_init_find(&it, &doc, "operationType") && BSON_ITER_HOLDS_UTF8(&it)) {
    r.valid = true;
    r.name = bson_iter_utf8(&it, nullptr);
    if (bson_iter_init_find(&it, &doc, "operationDescription")) r.have_body = ViewSubdoc(&it, &r.body);
    return r;
  }
  if (bson_iter_init_find(&it, &doc, "o") && ViewSubdoc(&it, &r.body)) {
    r.valid = true;
    r.oplog = true;
    r.have_body = true;
    bson_iter_t k;
    if (bson_iter_init(&k, &r.body) && bson_iter_next(&k)) {
      r.name = bson_iter_key(&k);
      if (BSON_ITER_HOLDS_UTF8(&k)) r.arg = bson_iter_utf8(&k, nullptr);
    }
    if (bson_iter_init_find(&it, &doc, "op") && BSON_ITER_HOLDS_UTF8(&it) &&
        std::strcmp(bson_iter_utf8(&it, nullptr), "c") != 0) {
      r.name = std::string("oplog op '") + bson_iter_utf8(&it, nullptr) + "'";
    }
  }
  return r;
}

std::string Ns(const std::string& db, const std::string& coll) { return db + "." + coll; }

DdlCommand Command(std::string db, std::string what) {
  DdlCommand c;
  c.db = std::move(db);
  c.command.reset(bson_new());
  c.what = std::move(what);
  return c;
}

std::string IndexName(const bson_t* spec) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, spec, "name") && BSON_ITER_HOLDS_UTF8(&it)) return bson_iter_utf8(&it, nullptr);
  return "";
}

// Each index spec of an array ("indexes": [...]).
template <typename Fn>
void ForEachSpec(const bson_t* body, const char* field, Fn fn) {
  bson_iter_t it, a;
  if (!bson_iter_init_find(&it, body, field) || !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &a)) return;
  while (bson_iter_next(&a)) {
    bson_t spec;
    if (BSON_ITER_HOLDS_DOCUMENT(&a) && ViewSubdoc(&a, &spec)) fn(&spec);
  }
}

void PlanCreateIndexes(const pb::ChangeEvent& e, const Raw& raw, const std::string& db,
                       const std::string& coll, DdlPlan* plan) {
  std::vector<BsonPtr> specs;
  auto add = [&](const bson_t* spec, const char* also_exclude) {
    if (IndexName(spec) == "_id_") return;
    // The definition without what belongs to the source's instance: the index version
    // and (old servers) the namespace (as snapshot/indexes.cc copies them).
    BsonPtr clean(bson_new());
    bson_copy_to_excluding_noinit(spec, clean.get(), "v", "ns", also_exclude, nullptr);
    specs.push_back(std::move(clean));
  };
  if (raw.have_body && raw.oplog && raw.name == "createIndexes") {
    add(&raw.body, "createIndexes");  // {createIndexes: coll, v, key, name, ...}
  } else if (raw.have_body) {
    // oplog commitIndexBuild {commitIndexBuild: coll, indexes: [...]}; expanded change
    // event operationDescription {indexes: [...]}.
    ForEachSpec(&raw.body, "indexes", [&](const bson_t* s) { add(s, nullptr); });
  }
  if (specs.empty()) {
    plan->unreplayable = "createIndexes on " + Ns(e.db(), e.coll()) +
                         " carries no index definition to replay (a change stream opened "
                         "without showExpandedEvents?); create the index on the target by hand";
    return;
  }
  for (auto& s : specs) {
    const std::string name = IndexName(s.get());
    DdlCommand c = Command(db, "createIndexes " + name + " on " + Ns(db, coll));
    BSON_APPEND_UTF8(c.command.get(), "createIndexes", coll.c_str());
    bson_t arr;
    BSON_APPEND_ARRAY_BEGIN(c.command.get(), "indexes", &arr);
    BSON_APPEND_DOCUMENT(&arr, "0", s.get());
    bson_append_array_end(c.command.get(), &arr);
    plan->commands.push_back(std::move(c));
  }
}

void PlanDropIndexes(const pb::ChangeEvent& e, const Raw& raw, const std::string& db,
                     const std::string& coll, DdlPlan* plan) {
  bson_iter_t it;
  if (raw.have_body && raw.oplog && bson_iter_init_find(&it, &raw.body, "index")) {
    // {dropIndexes: coll, index: name | key pattern | "*" | [names]}: as the source ran it.
    DdlCommand c = Command(db, "dropIndexes on " + Ns(db, coll));
    BSON_APPEND_UTF8(c.command.get(), "dropIndexes", coll.c_str());
    bson_append_iter(c.command.get(), "index", 5, &it);
    if (BSON_ITER_HOLDS_UTF8(&it)) c.what = "dropIndexes " + std::string(bson_iter_utf8(&it, nullptr)) + " on " + Ns(db, coll);
    plan->commands.push_back(std::move(c));
    return;
  }
  if (raw.have_body && !raw.oplog) {
    ForEachSpec(&raw.body, "indexes", [&](const bson_t* s) {
      const std::string name = IndexName(s);
      if (name.empty() || name == "_id_") return;
      DdlCommand c = Command(db, "dropIndexes " + name + " on " + Ns(db, coll));
      BSON_APPEND_UTF8(c.command.get(), "dropIndexes", coll.c_str());
      BSON_APPEND_UTF8(c.command.get(), "index", name.c_str());
      plan->commands.push_back(std::move(c));
    });
  }
  if (plan->commands.empty()) {
    plan->unreplayable = "dropIndexes on " + Ns(e.db(), e.coll()) +
                         " names no index to drop; drop it on the target by hand";
  }
}

void PlanCreate(const pb::ChangeEvent& e, const Raw& raw, const NamespaceMap& map,
                const std::string& db, const std::string& coll, DdlPlan* plan) {
  DdlCommand c = Command(db, "create " + Ns(db, coll));
  BSON_APPEND_UTF8(c.command.get(), "create", coll.c_str());
  if (raw.have_body) {
    bson_iter_t it;
    const bool any = bson_iter_init(&it, &raw.body);
    while (any && bson_iter_next(&it)) {
      const char* k = bson_iter_key(&it);
      // The command name itself, and the _id index (the target builds its own).
      if (!std::strcmp(k, "create") || !std::strcmp(k, "idIndex")) continue;
      if (!std::strcmp(k, "viewOn") && BSON_ITER_HOLDS_UTF8(&it)) {
        // A view names its source collection in its own database: mapped the same way.
        const auto [vdb, vcoll] = map.Map(e.db(), bson_iter_utf8(&it, nullptr));
        if (vdb != db) {
          plan->unreplayable = "view " + Ns(e.db(), e.coll()) + " is on " + Ns(e.db(), bson_iter_utf8(&it, nullptr)) +
                               ", which --map puts in another database (" + Ns(vdb, vcoll) +
                               ") than the view (" + Ns(db, coll) + "): a view must be in its "
                               "collection's database; create it on the target by hand";
          return;
        }
        BSON_APPEND_UTF8(c.command.get(), "viewOn", vcoll.c_str());
        continue;
      }
      bson_append_iter(c.command.get(), k, -1, &it);
    }
  }
  plan->commands.push_back(std::move(c));
}

}  // namespace

std::string DdlCommandName(const pb::ChangeEvent& e) { return ReadRaw(e).name; }

DdlPlan PlanDdl(const pb::ChangeEvent& e, const NamespaceMap& map) {
  DdlPlan plan;
  const Raw raw = ReadRaw(e);
  const auto [db, coll] = map.Map(e.db(), e.coll());
  switch (e.op()) {
    case pb::OP_DROP: {
      DdlCommand c = Command(db, "drop " + Ns(db, coll));
      BSON_APPEND_UTF8(c.command.get(), "drop", coll.c_str());
      plan.commands.push_back(std::move(c));
      return plan;
    }
    case pb::OP_DROP_DATABASE: {
      DdlCommand c = Command(db, "dropDatabase " + db);
      BSON_APPEND_INT32(c.command.get(), "dropDatabase", 1);
      plan.commands.push_back(std::move(c));
      return plan;
    }
    case pb::OP_RENAME: {
      if (e.to_db().empty() || e.to_coll().empty()) {
        plan.unreplayable = "rename of " + Ns(e.db(), e.coll()) + " names no destination";
        return plan;
      }
      const auto [to_db, to_coll] = map.Map(e.to_db(), e.to_coll());
      if (to_db == db && to_coll == coll) {
        plan.nothing = "rename " + Ns(e.db(), e.coll()) + " -> " + Ns(e.to_db(), e.to_coll()) +
                       ": --map puts both on " + Ns(db, coll);
        return plan;
      }
      plan.cross_database = to_db != db;
      plan.from_db = db;
      plan.from_coll = coll;
      plan.to_db = to_db;
      plan.to_coll = to_coll;
      DdlCommand c = Command("admin", "renameCollection " + Ns(db, coll) + " -> " + Ns(to_db, to_coll));
      BSON_APPEND_UTF8(c.command.get(), "renameCollection", Ns(db, coll).c_str());
      BSON_APPEND_UTF8(c.command.get(), "to", Ns(to_db, to_coll).c_str());
      plan.commands.push_back(std::move(c));
      return plan;
    }
    case pb::OP_CREATE:
      PlanCreate(e, raw, map, db, coll, &plan);
      return plan;
    case pb::OP_CREATE_INDEXES:
      PlanCreateIndexes(e, raw, db, coll, &plan);
      return plan;
    case pb::OP_DROP_INDEXES:
      PlanDropIndexes(e, raw, db, coll, &plan);
      return plan;
    default:
      break;
  }
  const std::string name = raw.name.empty() ? "an unrecognised event" : raw.name;
  if (name == "startIndexBuild" || name == "abortIndexBuild") {
    plan.nothing = name + " on " + Ns(e.db(), e.coll()) + ": the index is built by its commitIndexBuild";
    return plan;
  }
  if (name == "commitTransaction") {
    plan.nothing = "commitTransaction: the transaction's operations come from its applyOps entry";
    return plan;
  }
  std::string why = "not replayed by docshift apply";
  if (name == "abortTransaction") {
    why = "a prepared transaction was aborted on the source; its operations, captured from its "
          "prepare entry, may have been applied: check the namespaces it wrote";
  }
  if (name == "collMod" || name == "modify") {
    why = "it changes collection or index options (validator, TTL, hidden, ...), which apply "
          "does not replay; run the same collMod on the target by hand";
  } else if (name == "convertToCapped") {
    why = "apply does not convert collections; run convertToCapped on the target by hand";
  } else if (name == "shardCollection" || name == "reshardCollection" ||
             name == "refineCollectionShardKey") {
    why = "sharding is the target cluster's own configuration; shard it there by hand";
  }
  // An oplog command's namespace is "db.$cmd": name the collection it is about instead.
  const std::string on = raw.oplog && !raw.arg.empty() && e.coll() == "$cmd" ? Ns(e.db(), raw.arg) : Ns(e.db(), e.coll());
  plan.unreplayable = name + " on " + on + ": " + why;
  return plan;
}

}  // namespace docshift::apply
