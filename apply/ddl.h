// DDL replay, worked out as pure code: what a captured DDL event asks of the target, read
// from the event's fields and the raw source event it carries (ChangeEvent.ddl: an oplog
// entry, or a change stream event, plain or with showExpandedEvents), after --map.
//
//   drop, dropDatabase      → drop / dropDatabase (already gone: success)
//   rename                  → renameCollection, source and destination both mapped
//                             (no dropTarget: FerretDB refuses the option; apply drops
//                             an existing destination while the source is still there);
//                             source gone: success (a replay); across databases where
//                             the target refuses that: dead-lettered saying so
//   create                  → create with the source's options (capped/size/max,
//                             validator, validationLevel/Action, collation, timeseries,
//                             viewOn/pipeline with viewOn mapped); exists: success
//   createIndexes           → one createIndexes per index, with the recorded spec (oplog
//                             createIndexes / commitIndexBuild, expanded event's
//                             operationDescription.indexes); exists: success
//   dropIndexes             → dropIndexes per index; not found: success
//   anything else (collMod, modify, convertToCapped, shardCollection, an unknown
//   command, a create/index event that carries no definition) → not replayable: apply
//   writes it to the dead-letter file with the reason, never skips it silently.
// startIndexBuild and abortIndexBuild change nothing by themselves (the commitIndexBuild
// entry carries the finished index), nor does commitTransaction (the operations come from
// the applyOps entry): no command, and a reason for the log.
#pragma once

#include <string>
#include <vector>

#include "apply/translate.h"
#include "mongo/mongo_util.h"
#include "proto/spool.pb.h"

namespace docshift::apply {

struct DdlCommand {
  std::string db;        // database the command runs in ("admin" for renameCollection)
  mongo::BsonPtr command;
  std::string what;      // "createIndexes a_1 on db.coll": for logs and dead letters
};

struct DdlPlan {
  std::vector<DdlCommand> commands;  // run in order
  // Non-empty: apply cannot replay the event; it is dead-lettered with this reason.
  std::string unreplayable;
  // Non-empty (and no commands): the event changes nothing on the target; why.
  std::string nothing;
  // A rename whose mapped source and destination are in different databases (a target
  // may refuse it: the dead letter then says so).
  bool cross_database = false;
  // For a rename: the mapped source and destination (apply drops an existing destination
  // while the source is still there: the source's rename succeeded, so at that point of
  // its history the destination was absent or dropped).
  std::string from_db, from_coll, to_db, to_coll;
};

DdlPlan PlanDdl(const pb::ChangeEvent& e, const NamespaceMap& map);

// The command a DDL event records: the oplog entry's command name (first key of "o") or
// the change stream's operationType; "" if the event carries no raw source event.
std::string DdlCommandName(const pb::ChangeEvent& e);

}  // namespace docshift::apply
