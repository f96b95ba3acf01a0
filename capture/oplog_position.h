// Oplog positions, as pure code (no server): what the oplog source records with each
// event and what the spool's resume token holds.
//
// One oplog entry can expand into many events (applyOps: a transaction, or a batch of
// writes). A position covers whole entries, or a counted prefix of one entry's events, so
// a batch closed in the middle of an applyOps entry records exactly how much of it is in
// the spool and a restart captures the rest of it, never skipping the entry's tail (issue
// #11: 1,601 of 3,000 operations reached the spool before this).
//
//   per item:   {ts: Timestamp[, i: <events of the entry at ts covered>]}
//   the spool:  {v: 1, kind: "oplog", ts: Timestamp[, i: ...]}
// "i" is absent when the entry at ts is covered whole. Expansion is deterministic (the
// same entry bytes and options give the same events in the same order), which is what
// makes a count a position.
#pragma once

#include <bson/bson.h>

#include <cstdint>
#include <string>
#include <vector>

#include "capture/convert.h"
#include "capture/source.h"
#include "util/status.h"

namespace docshift::capture {

struct OplogPosition {
  uint64_t ts = 0;       // (seconds << 32) | increment
  uint32_t covered = 0;  // events of the entry at ts covered; 0: the whole entry
  bool operator==(const OplogPosition&) const = default;
};

std::string EncodeOplogPosition(const OplogPosition& p);
// Reads a per-item position or the spool's token (either shape). A token of another kind
// of source is FailedPrecondition; bytes that are not a position are Corruption.
Status DecodeOplogPosition(const std::string& bson, OplogPosition* p);
std::string EncodeOplogToken(const OplogPosition& p);

// The items for one entry: its events from index `skip` on, event k with the position
// covering k + 1 events of the entry, the last (or, with no events left, a position-only
// item) covering the whole entry.
Status OplogEntryItems(const bson_t* entry, const OplogOptions& opts, uint32_t skip,
                       std::vector<SourceItem>* out);

}  // namespace docshift::capture
