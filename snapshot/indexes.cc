#include "snapshot/indexes.h"

#include <glog/logging.h>

#include "mongo/errors.h"

namespace docshift::snapshot {

Status CopyIndexes(mongoc_client_t* source, mongoc_client_t* target, const std::string& src_db,
                   const std::string& src_coll, const std::string& dst_db,
                   const std::string& dst_coll, IndexCopyResult* result) {
  mongo::CollPtr coll(mongoc_client_get_collection(source, src_db.c_str(), src_coll.c_str()));
  mongo::CursorPtr cur(mongoc_collection_find_indexes_with_opts(coll.get(), nullptr));
  std::vector<mongo::BsonPtr> specs;
  const bson_t* spec;
  while (mongoc_cursor_next(cur.get(), &spec)) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, spec, "name") && BSON_ITER_HOLDS_UTF8(&it) &&
        std::string(bson_iter_utf8(&it, nullptr)) == "_id_") {
      continue;
    }
    // The definition without what belongs to the source's instance: the index version
    // and (old servers) the namespace.
    mongo::BsonPtr clean(bson_new());
    bson_copy_to_excluding_noinit(spec, clean.get(), "v", "ns", nullptr);
    specs.push_back(std::move(clean));
  }
  bson_error_t err;
  if (mongoc_cursor_error(cur.get(), &err)) {
    // A collection that disappeared has no indexes to copy.
    if (err.code == 26 /*NamespaceNotFound*/) return Status::OK();
    return mongo::FromBsonError(err, "listing the indexes of " + src_db + "." + src_coll);
  }
  mongoc_database_t* db = mongoc_client_get_database(target, dst_db.c_str());
  for (const auto& s : specs) {
    bson_iter_t it;
    std::string name = bson_iter_init_find(&it, s.get(), "name") && BSON_ITER_HOLDS_UTF8(&it)
                           ? bson_iter_utf8(&it, nullptr)
                           : "?";
    mongo::BsonPtr cmd(bson_new());
    BSON_APPEND_UTF8(cmd.get(), "createIndexes", dst_coll.c_str());
    bson_t arr;
    BSON_APPEND_ARRAY_BEGIN(cmd.get(), "indexes", &arr);
    BSON_APPEND_DOCUMENT(&arr, "0", s.get());
    bson_append_array_end(cmd.get(), &arr);
    bson_t reply;
    bool ok = mongoc_database_write_command_with_opts(db, cmd.get(), nullptr, &reply, &err);
    bson_destroy(&reply);
    if (ok) {
      ++result->created;
      continue;
    }
    if (mongo::IsTransient(err)) {
      mongoc_database_destroy(db);
      return mongo::FromBsonError(err, "creating index " + name + " on " + dst_db + "." + dst_coll);
    }
    std::string why = std::string(err.message) + " (code " + std::to_string(err.code) + ")";
    result->rejected.push_back(dst_db + "." + dst_coll + " " + name + ": " + why);
    LOG(WARNING) << "snapshot: the target refused index " << name << " on " << dst_db << "."
                 << dst_coll << ": " << why << " (definition " << mongo::ToJson(s.get()) << ")";
  }
  mongoc_database_destroy(db);
  return Status::OK();
}

namespace {

// The listCollections entry of db.coll (*found false if there is none).
Status FindCollection(mongoc_client_t* client, const std::string& db, const std::string& coll,
                      mongo::BsonPtr* entry, bool* found) {
  *found = false;
  mongoc_database_t* d = mongoc_client_get_database(client, db.c_str());
  mongo::BsonPtr opts(BCON_NEW("filter", "{", "name", BCON_UTF8(coll.c_str()), "}"));
  mongo::CursorPtr cur(mongoc_database_find_collections_with_opts(d, opts.get()));
  mongoc_database_destroy(d);
  const bson_t* doc;
  while (mongoc_cursor_next(cur.get(), &doc)) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, "name") && BSON_ITER_HOLDS_UTF8(&it) && coll == bson_iter_utf8(&it, nullptr)) {
      entry->reset(bson_copy(doc));
      *found = true;
    }
  }
  bson_error_t err;
  if (mongoc_cursor_error(cur.get(), &err)) return mongo::FromBsonError(err, "listing the collections of " + db);
  return Status::OK();
}

}  // namespace

Status CopyCollectionOptions(mongoc_client_t* source, mongoc_client_t* target, const std::string& src_db,
                             const std::string& src_coll, const std::string& dst_db,
                             const std::string& dst_coll, std::string* refused) {
  mongo::BsonPtr entry;
  bool found = false;
  RETURN_IF_ERROR(FindCollection(source, src_db, src_coll, &entry, &found));
  if (!found) return Status::OK();
  bson_iter_t it, o;
  if (bson_iter_init_find(&it, entry.get(), "type") && BSON_ITER_HOLDS_UTF8(&it) &&
      std::string(bson_iter_utf8(&it, nullptr)) != "collection") {
    return Status::OK();  // a view (or timeseries view): not copied as a collection
  }
  if (!bson_iter_init_find(&it, entry.get(), "options") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
      !bson_iter_recurse(&it, &o)) {
    return Status::OK();
  }
  mongo::BsonPtr cmd(bson_new());
  BSON_APPEND_UTF8(cmd.get(), "create", dst_coll.c_str());
  bool any = false;
  while (bson_iter_next(&o)) {
    // The collection's identity on the source is not an option to copy.
    if (std::string(bson_iter_key(&o)) == "uuid") continue;
    bson_append_iter(cmd.get(), bson_iter_key(&o), -1, &o);
    any = true;
  }
  if (!any) return Status::OK();  // no options: the copy creates the collection itself
  mongo::BsonPtr existing;
  RETURN_IF_ERROR(FindCollection(target, dst_db, dst_coll, &existing, &found));
  if (found) return Status::OK();  // only a collection that does not exist yet
  bson_error_t err;
  bson_t reply;
  const bool ok = mongoc_client_command_simple(target, dst_db.c_str(), cmd.get(), nullptr, &reply, &err);
  bson_destroy(&reply);
  if (ok || mongo::Classify(err) == mongo::ErrorClass::kNamespaceExists) return Status::OK();
  if (mongo::IsTransient(err)) return mongo::FromBsonError(err, "creating " + dst_db + "." + dst_coll);
  *refused = dst_db + "." + dst_coll + " options: " + err.message + " (code " + std::to_string(err.code) + ")";
  LOG(WARNING) << "snapshot: the target refused the options of " << dst_db << "." << dst_coll << ": "
               << err.message << " (code " << err.code << "; " << mongo::ToJson(cmd.get())
               << "); the collection is created without them";
  return Status::OK();
}

}  // namespace docshift::snapshot
