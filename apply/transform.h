// Per-record transforms (`--transforms FILE`, issue #12 / seed 002): per-namespace rules
// that reshape documents on their way to the target. Pure code: no server access.
//
// Applied where documents are written or compared, never in the spool: apply transforms
// each event as it reads it (so the spool stays as the source sent it, and a changed rule
// is applied to old events by a replay, `apply --from`), snapshot each document it
// copies, verify (and cutover's verify) each source document before comparing it.
//
// File (JSON; values in `defaults` are Extended JSON, e.g. {"$date": "2020-01-01T00:00:00Z"}):
//   {"rules": [
//     {"namespace": "dynamodb.users",          // fnmatch glob on the SOURCE db.coll
//      "rename":   {"Name": "name"},           // old name -> new name
//      "drop":     ["tmp"],
//      "defaults": {"age": null},              // set when the field is missing
//      "dates":    {"created_at": "seconds", "seen": "milliseconds"},  // epoch -> BSON date
//      "id":       ["id"]}                     // _id from these fields ({a:.., b:..} for 2+)
//   ]}
// The first rule whose glob matches an event's source namespace applies (--map renames
// are not seen by rules). Field names are top-level names (no '.', no leading '$').
//
// Order of operations on a document: rename, drop, defaults, dates, then _id. So drop,
// defaults, dates and id name fields by their new (renamed) names; a default can be an
// epoch number that the dates step converts; _id can be made from a converted date.
// Rename follows MongoDB's $rename: a field already named like the new name is replaced.
// The fields _id is made from stay in the document; the source's _id is replaced.
//
// Dates: int32, int64, double and decimal128 numbers (seconds or milliseconds since the
// epoch) become a BSON date (ms, rounded); a date stays as it is; null stays null; a
// missing field stays missing; any other type (a string, ...) cannot be transformed.
//
// Events (TransformEvent):
//   insert, replace            the full document is transformed; with an "id" rule the
//                              document key becomes {_id: the new _id}.
//   update with a full doc     the same; its update description (used by apply when the
//                              full document collides with a unique index) is
//                              transformed too, or removed when it cannot be.
//   update from description    $set / $unset / truncated-array paths are renamed and
//                              dropped by their first component; a $set of a date field
//                              is converted; an $unset of a field with a default sets the
//                              default. An update left changing nothing becomes a no-op.
//   delete                     unchanged, unless the rule makes _id: see below.
// With an "id" rule the target _id is computed from the event: from its full document
// when it has one (a delete may carry its before-image, e.g. a DynamoDB REMOVE's old
// image), else from its document key (its top-level fields, and the fields of a
// document-valued _id, as DynamoDB hash+range keys are). An update or delete whose key
// lacks the fields cannot be addressed on the target and is refused (dead-lettered): the
// user must capture full documents (change streams with fullDocument: updateLookup, which
// docshift capture asks for; DynamoDB streams with NEW_AND_OLD_IMAGES) or make _id from
// key fields. An update that changes one of the fields _id is made from is refused too:
// the target document would move to another _id and the old one would stay.
//
// Errors: Load/Parse return InvalidArgument, one line naming the file, the rule and the
// fix. TransformDocument/TransformEvent return InvalidArgument with the reason a
// document cannot be transformed (apply dead-letters the event with it).
//
// Thread safety: a loaded Transforms is immutable; use it from any number of threads.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mongo/mongo_util.h"
#include "proto/spool.pb.h"
#include "util/status.h"

namespace docshift::apply {

enum class EpochUnit { kSeconds, kMilliseconds };

struct TransformRule {
  int index = 0;                 // position in the file's "rules" array, for messages
  std::string namespace_glob;
  std::vector<std::pair<std::string, std::string>> rename;  // old -> new, in file order
  std::vector<std::string> drop;
  std::string defaults;          // BSON {field: value, ...}
  std::vector<std::pair<std::string, EpochUnit>> dates;
  std::vector<std::string> id_fields;  // empty: _id as the source has it
  bool sets_id() const { return !id_fields.empty(); }
  // "transforms rule 1 (dynamodb.users)"
  std::string Name() const;
};

class Transforms {
 public:
  // Reads and parses the file; InvalidArgument "--transforms FILE: ..." on any problem.
  static StatusOr<Transforms> Load(const std::string& path);
  // `what` names the input in messages (the flag and the file).
  static StatusOr<Transforms> Parse(const std::string& json, const std::string& what);

  // The first rule whose glob matches db.coll, or null.
  const TransformRule* RuleFor(const std::string& db, const std::string& coll) const;
  bool empty() const { return rules_.empty(); }
  const std::vector<TransformRule>& rules() const { return rules_; }
  // The file's text, for fingerprints (verify's resumable state).
  const std::string& text() const { return text_; }

 private:
  std::vector<TransformRule> rules_;
  std::string text_;
};

// The document as the rule makes it. InvalidArgument with the reason when it cannot.
StatusOr<mongo::BsonPtr> TransformDocument(const TransformRule& rule, const bson_t* doc);

// Rewrites a document event in place as described above (DDL and other events are left
// alone). On error the event may be partly rewritten: keep a copy to dead-letter.
Status TransformEvent(const TransformRule& rule, pb::ChangeEvent* e);

}  // namespace docshift::apply
