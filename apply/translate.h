// Idempotent translation of a captured change event into a target write.
//
// The filter is always {_id} taken from the document key.
//   insert, replace            → replaceOne(documentKey, fullDocument, upsert)
//   update with fullDocument   → replaceOne(documentKey, fullDocument, upsert)
//   update without it          → updateOne(documentKey, {$set: updatedFields,
//                                 $unset: removedFields}) (no upsert: a partial document
//                                 must not be created); truncatedArrays first, as $push
//                                 {$each: [], $slice: n}
//   delete                     → deleteOne(documentKey)
// Replaying any of these again leaves the target unchanged, which is what lets apply
// resume from a checkpoint below what it already wrote.
//
// DDL events are not translated here; apply runs them as barriers.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "mongo/mongo_util.h"
#include "proto/spool.pb.h"
#include "util/status.h"

namespace docshift::apply {

// Namespace mapping: "db.coll=db2.coll2" (one collection) or "db=db2" (a whole database).
class NamespaceMap {
 public:
  // InvalidArgument naming the spec if malformed.
  Status Add(const std::string& spec);
  // Target (db, coll) for a source namespace.
  std::pair<std::string, std::string> Map(const std::string& db, const std::string& coll) const;
  bool empty() const { return colls_.empty() && dbs_.empty(); }

 private:
  std::vector<std::pair<std::string, std::string>> colls_;  // "db.coll" → "db2.coll2"
  std::vector<std::pair<std::string, std::string>> dbs_;    // "db" → "db2"
};

struct DocWrite {
  enum class Kind { kReplace, kUpdate, kDelete };
  Kind kind = Kind::kReplace;
  mongo::BsonPtr filter;                    // the document key
  mongo::BsonPtr doc;                       // replacement, or update spec
  std::vector<mongo::BsonPtr> pre_updates;  // array truncations, applied before doc
  bool pre_done = false;                    // apply: already written on its own
};

bool IsDocumentOp(int op);  // insert, update, replace, delete
bool IsDdlOp(int op);  // also OP_UNKNOWN: apply/ddl.h dead-letters what it cannot replay

// InvalidArgument (a permanent, per-event problem: dead-lettered by apply) when the event
// lacks what its type needs (no document key, an update with neither full document nor
// update description, BSON that does not parse).
//
// prefer_update_description: for an update that carries both, use the update description
// rather than the full document. A full document from updateLookup is the document as it
// was when capture looked it up, possibly after later changes; replaying that "future"
// state can collide with a unique index that another document still holds at this point
// of the stream. The description is exactly this event's change.
Status Translate(const pb::ChangeEvent& e, DocWrite* out, bool prefer_update_description = false);

// A key for "same document" that follows the server's equality rather than the bytes:
// the key's _id, with numbers compared by value across int32/int64/double (1 ==
// NumberLong(1) == 1.0 as an _id), documents and arrays element by element. Apply hashes lanes and detects
// repeated documents with it; two byte encodings of one _id must never land in different
// lanes (they would race as concurrent upserts).
std::string CanonicalKey(const std::string& document_key_bytes);

// Extended JSON of the write, for --dry-run.
std::string DescribeWrite(const std::string& ns, const DocWrite& w);

}  // namespace docshift::apply
