// For snapshot/bucket_snapshot.cc: the local snapshot's planning and its copier, driven by
// a RangeClaimer (snapshot.h) instead of the local STATE. Not for other callers.
#pragma once

#include "apply/transform.h"
#include "apply/translate.h"
#include "mongo/mongo_util.h"
#include "proto/spool.pb.h"
#include "snapshot/snapshot.h"
#include "snapshot/source.h"
#include "spool/dead_letter.h"
#include "util/status.h"

namespace docshift::snapshot::internal {

// The source's plan into *state, each target collection empty (or emptied on request:
// --drop_target, --allow_nonempty_target), largest collection first.
Status PlanSnapshot(const SnapshotOptions& opts, SnapshotSource* src, mongoc_client_pool_t* dst,
                    const apply::NamespaceMap& map, pb::SnapshotState* state);

// Copies the ranges of *plan that claimer hands out, opts.parallel at once, until it has
// none left. Collection options (and --indexes before) are copied first, by every worker
// (both are no-ops when already there). transforms may be null.
StatusOr<SnapshotResult> CopyClaimedRanges(const SnapshotOptions& opts, SnapshotSource* src,
                                           mongoc_client_pool_t* dst, pb::SnapshotState* plan,
                                           spool::DeadLetterWriter* dlq, const apply::Transforms* transforms,
                                           RangeClaimer* claimer);

}  // namespace docshift::snapshot::internal
