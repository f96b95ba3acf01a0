// Copying index definitions from a source collection to a target collection (seed 000's
// index tool): every index but _id_, one createIndexes per index, so that an index the
// target refuses (an option it does not support, a text index, ...) is listed with the
// server's reason and the others are still created.
#pragma once

#include <string>
#include <vector>

#include "mongo/mongo_util.h"
#include "util/status.h"

namespace docshift::snapshot {

struct IndexCopyResult {
  int created = 0;                    // created, or already there with the same definition
  std::vector<std::string> rejected;  // "db.coll index_name: reason"
};

// Network errors are a Status; refusals are collected in *result.
Status CopyIndexes(mongoc_client_t* source, mongoc_client_t* target, const std::string& src_db,
                   const std::string& src_coll, const std::string& dst_db,
                   const std::string& dst_coll, IndexCopyResult* result);

// Creates the target collection with the source collection's options from listCollections
// (capped/size/max, validator, validationLevel/Action, collation, timeseries, ...), only
// when the source has options and the target collection does not exist yet. A target that
// refuses the options gets *refused = "db.coll options: reason" (the copy then creates the
// collection without them); network errors are a Status. Views are not copied here.
Status CopyCollectionOptions(mongoc_client_t* source, mongoc_client_t* target, const std::string& src_db,
                             const std::string& src_coll, const std::string& dst_db,
                             const std::string& dst_coll, std::string* refused);

}  // namespace docshift::snapshot
