// A change stream of our own (capture/change_stream_cursor.h): `aggregate` with
// [{$changeStream: {fullDocument, showExpandedEvents, resumeAfter | startAtOperationTime,
// allChangesForCluster}}, ...the rest of the pipeline] and `getMore` (batchSize, maxTimeMS
// = maxAwaitTimeMS), run through libmongoc's command API on one server (chosen at open,
// every command pinned to it) and one session (when the server has sessions: a cursor's
// getMore must come in the session that opened it). It exists for what libmongoc 1.23's
// watch cannot send, showExpandedEvents inside the stage (MongoDB 6.0+, wire version 17).
//
// It keeps what libmongoc's cursor does right (Change Streams spec,
// github.com/mongodb/specifications source/change-streams/change-streams.md):
//   - the resume token is the last event's _id, or cursor.postBatchResumeToken once a
//     batch is exhausted or empty, so an idle stream's position keeps advancing;
//   - one getMore per Next() when the batch is used up;
//   - after a resumable error (mongo::IsResumableChangeStreamError) it kills the cursor
//     and reopens once from the cached token (else the saved operation time); a second
//     error is the caller's (Error()), which backs off and checks for stop;
//   - the cursor is killed when the object is destroyed.
//
// Thread safety: one per reader thread; the client must outlive it.
#pragma once

#include <memory>

#include "capture/change_stream_cursor.h"

namespace docshift::capture {

// Opens the stream (the aggregate runs now: Error() tells whether it failed).
std::unique_ptr<ChangeStreamCursor> OpenRawChangeStream(mongoc_client_t* client, const ChangeStreamSpec& spec);

// The maxWireVersion of the server libmongoc selects for reads; -1 when none answers.
// MongoDB 6.0 is 17 (the first to accept showExpandedEvents), 4.4 is 9, 4.0 is 7.
int ServerMaxWireVersion(mongoc_client_t* client);
constexpr int kWireVersionShowExpandedEvents = 17;

}  // namespace docshift::capture
