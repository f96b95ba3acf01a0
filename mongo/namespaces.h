// Which namespaces a command works on: include/exclude globs (fnmatch, on "db.coll";
// a database matches when any include glob could match inside it). System and internal
// namespaces (admin, local, config, system.*) are never selected.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "mongo/mongo_util.h"
#include "util/status.h"

namespace docshift::mongo {

bool IsSystemNs(const std::string& db, const std::string& coll);

// Whether fnmatch(glob, db + "." + C) could hold for some collection name C: the
// database-level test, right for globs that start with a wildcard ("*.orders").
bool GlobCouldMatchInDb(const std::string& glob, const std::string& db);

struct NamespaceFilter {
  std::vector<std::string> include;  // empty = everything
  std::vector<std::string> exclude;
  // coll empty: "could anything in this database be selected?"
  bool Selected(const std::string& db, const std::string& coll) const;
};

struct Namespace {
  std::string db;
  std::string coll;
  std::string ns() const { return db + "." + coll; }
};

// The selected collections (not views), sorted by database then collection.
StatusOr<std::vector<Namespace>> ListCollections(mongoc_client_t* client,
                                                 const NamespaceFilter& filter);

}  // namespace docshift::mongo
