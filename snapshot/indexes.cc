#include "snapshot/indexes.h"

#include <glog/logging.h>

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

}  // namespace docshift::snapshot
