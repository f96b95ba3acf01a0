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
#include <string>

#include "capture/change_stream_cursor.h"
#include "mongo/mongo_util.h"
#include "util/status.h"

namespace docshift::capture {

// One change stream cursor's replies and the spec's resume-token rule over them, without
// a server (the raw cursor's state; unit-tested with replies in the documented format).
class ChangeStreamBatches {
 public:
  // Starts from a saved token (null: none).
  explicit ChangeStreamBatches(const bson_t* token);
  // The reply to an aggregate (batch_key "firstBatch") or getMore ("nextBatch"):
  // cursor.{id, ns, <batch_key>, postBatchResumeToken}. An empty batch's
  // postBatchResumeToken becomes the position at once. InvalidArgument when malformed.
  Status Take(mongo::BsonPtr reply, const char* batch_key);
  // The batch's next event (valid until the next Take), or null once the batch is used
  // up. The position becomes its _id, or, for the batch's last event, the batch's
  // postBatchResumeToken when there is one. InvalidArgument for an event without _id.
  Status Next(const bson_t** event);
  // The position (null: none yet).
  const bson_t* token() const { return token_.get(); }
  const bson_t* reply() const { return reply_.get(); }
  int64_t cursor_id() const { return cursor_id_; }
  // The cursor's namespace, from cursor.ns ("db.$cmd.aggregate" for a database or
  // deployment stream): where getMore and killCursors go.
  const std::string& db() const { return db_; }
  const std::string& coll() const { return coll_; }
  // The cursor is gone (killed): no more batches.
  void Close();

 private:
  void CachePostBatchToken();

  mongo::BsonPtr reply_;  // the last reply: batch_ and current_ point into it
  bson_iter_t batch_{};
  bool in_batch_ = false;
  bson_t current_{};
  mongo::BsonPtr token_;
  mongo::BsonPtr pbrt_;  // the current batch's postBatchResumeToken
  int64_t cursor_id_ = 0;
  std::string db_, coll_;
};

// Opens the stream (the aggregate runs now: Error() tells whether it failed).
std::unique_ptr<ChangeStreamCursor> OpenRawChangeStream(mongoc_client_t* client, const ChangeStreamSpec& spec);

// The maxWireVersion of the server libmongoc selects for reads; -1 when none answers.
// MongoDB 6.0 is 17 (the first to accept showExpandedEvents), 4.4 is 9, 4.0 is 7.
int ServerMaxWireVersion(mongoc_client_t* client);

}  // namespace docshift::capture
