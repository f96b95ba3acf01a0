// Whether a namespace filter keeps a spooled change event: the one rule capture's writer
// filters by and apply checks a spool's recorded filter with (header-only: the event is
// the spool's protobuf, which the mongo library does not otherwise use).
#pragma once

#include "mongo/namespaces.h"
#include "proto/spool.pb.h"

namespace docshift::mongo {

// A rename when either side is selected, a database-wide event when anything in the
// database could be, an event with no namespace (invalidate) always.
inline bool EventSelected(const NamespaceFilter& filter, const pb::ChangeEvent& ev) {
  if (ev.db().empty()) return true;  // no namespace (an invalidate): the stream's own business
  if (filter.Selected(ev.db(), ev.coll())) return true;
  // A rename into a selected namespace creates it there.
  return ev.op() == pb::OP_RENAME && !ev.to_db().empty() && filter.Selected(ev.to_db(), ev.to_coll());
}

}  // namespace docshift::mongo
