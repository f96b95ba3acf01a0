#include "mongo/namespaces.h"

#include <fnmatch.h>

#include <algorithm>

namespace docshift::mongo {

bool IsSystemNs(const std::string& db, const std::string& coll) {
  if (db == "admin" || db == "local" || db == "config") return true;
  return coll.rfind("system.", 0) == 0;
}

bool GlobCouldMatchInDb(const std::string& glob, const std::string& db) {
  // The glob matches some "db.coll" iff a prefix of it matches db exactly and the rest can
  // start with the dot (a literal '.', '?' or a bracket), or a prefix matches a prefix of
  // db and a '*' after it absorbs the rest of db, the dot and more. What follows is taken
  // to match some collection name (conservative: at worst a database is looked at whose
  // collections all fail the full match later).
  for (size_t k = 0; k < glob.size(); ++k) {
    const char c = glob[k];
    const std::string prefix = glob.substr(0, k);
    if (c == '*' && fnmatch((prefix + "*").c_str(), db.c_str(), 0) == 0) return true;
    if ((c == '.' || c == '?' || c == '[') && fnmatch(prefix.c_str(), db.c_str(), 0) == 0) return true;
    if (c == '\\' && k + 1 < glob.size()) {
      ++k;  // an escaped character is literal
    } else if (c == '[') {
      const size_t close = glob.find(']', k + 2);  // "[]...]" and "[!]...]" hold a ']'
      if (close == std::string::npos) return false;  // unterminated: fnmatch matches it literally
      k = close;
    }
  }
  return false;
}

bool NamespaceFilter::Selected(const std::string& db, const std::string& coll) const {
  if (IsSystemNs(db, coll)) return false;
  const std::string ns = db + "." + coll;
  auto match = [&](const std::vector<std::string>& globs) {
    for (const auto& g : globs) {
      if (coll.empty() ? GlobCouldMatchInDb(g, db) : fnmatch(g.c_str(), ns.c_str(), 0) == 0) return true;
    }
    return false;
  };
  if (!include.empty() && !match(include)) return false;
  if (!coll.empty() && match(exclude)) return false;
  return true;
}

StatusOr<std::vector<Namespace>> ListCollections(mongoc_client_t* client,
                                                 const NamespaceFilter& filter) {
  std::vector<Namespace> out;
  bson_error_t err;
  char** dbs = mongoc_client_get_database_names_with_opts(client, nullptr, &err);
  if (!dbs) return FromBsonError(err, "listing databases");
  Status status;
  for (char** d = dbs; *d && status.ok(); ++d) {
    const std::string db = *d;
    if (!filter.Selected(db, "")) continue;
    mongoc_database_t* dbh = mongoc_client_get_database(client, db.c_str());
    // Collections only: views have no documents of their own to copy or compare.
    BsonPtr opts(BCON_NEW("filter", "{", "type", BCON_UTF8("collection"), "}"));
    mongoc_cursor_t* cur = mongoc_database_find_collections_with_opts(dbh, opts.get());
    const bson_t* info;
    while (mongoc_cursor_next(cur, &info)) {
      bson_iter_t it;
      if (!bson_iter_init_find(&it, info, "name") || !BSON_ITER_HOLDS_UTF8(&it)) continue;
      std::string coll = bson_iter_utf8(&it, nullptr);
      if (filter.Selected(db, coll)) out.push_back(Namespace{db, coll});
    }
    if (mongoc_cursor_error(cur, &err)) status = FromBsonError(err, "listing collections of " + db);
    mongoc_cursor_destroy(cur);
    mongoc_database_destroy(dbh);
  }
  bson_strfreev(dbs);
  RETURN_IF_ERROR(status);
  std::sort(out.begin(), out.end(), [](const Namespace& a, const Namespace& b) {
    return a.db != b.db ? a.db < b.db : a.coll < b.coll;
  });
  return out;
}

}  // namespace docshift::mongo
