// The change stream a ChangeStreamReader reads (capture/change_stream_source.cc), behind
// one small interface with two implementations:
//   - libmongoc's own (mongoc_client/database/collection_watch): OpenDriverChangeStream;
//   - ours (capture/raw_change_stream.h): the same protocol through libmongoc's command
//     API, for what libmongoc 1.23 cannot ask: showExpandedEvents inside the
//     $changeStream stage (1.23 copies unknown watch options to the aggregate command,
//     where the server does not look for it; 1.24 added the option).
// Both follow the Change Streams spec's resume-token rules: the token is the last event's
// _id, or the batch's postBatchResumeToken once a batch is exhausted; both resume once by
// themselves after a resumable error and report anything else through Error().
//
// Thread safety: one per reader thread.
#pragma once

#include <bson/bson.h>
#include <mongoc/mongoc.h>

#include <cstdint>
#include <memory>
#include <string>

namespace docshift::capture {

// What to open.
struct ChangeStreamSpec {
  std::string db, coll;            // both empty: the deployment; coll empty: the database
  const bson_t* pipeline = nullptr;  // {"pipeline": [stages after $changeStream]}, or null
  std::string full_document;       // fullDocument ("updateLookup"), or empty for none
  std::string resume_after;        // a resume token (BSON bytes), or empty; else
  uint64_t start_at = 0;           // startAtOperationTime ((seconds << 32) | increment), 0: now
  int32_t batch_size = 1000;
  int64_t max_await_ms = 500;      // getMore's maxTimeMS (maxAwaitTimeMS)
  // Ask for the expanded DDL events (MongoDB 6.0+). Only the raw cursor can.
  bool show_expanded_events = false;
};

class ChangeStreamCursor {
 public:
  virtual ~ChangeStreamCursor() = default;
  // The next event (valid until the next call); false when there is none now (an empty
  // await, the cursor closed by the server, or an error: see Error()).
  virtual bool Next(const bson_t** event) = 0;
  // The stream's position: the last event's _id, or the post-batch resume token after an
  // exhausted or empty batch. Null while it has none.
  virtual const bson_t* ResumeToken() = 0;
  // Whether the stream failed for good (*err, and the server's reply in *reply, empty
  // when there was none). A failed cursor stays failed: open a new one.
  virtual bool Error(bson_error_t* err, const bson_t** reply) = 0;
};

// Which cursor a change-stream source opens (the one place it is chosen): the raw cursor
// with showExpandedEvents where the server accepts the option (source_kind "mongo" and
// maxWireVersion >= 17, MongoDB 6.0+) under show_expanded_events "auto", or always under
// "on"; the raw cursor without it when cursor is "raw" (testing: the test servers are
// 4.2-level); libmongoc's watch otherwise ("off", older servers, Cosmos DB).
struct CursorChoice {
  bool raw = false;
  bool expanded = false;
};
CursorChoice ChooseCursor(const std::string& source_kind, const std::string& show_expanded_events,
                          const std::string& cursor, int max_wire_version);
constexpr int kWireVersionShowExpandedEvents = 17;

// libmongoc's change stream. spec.show_expanded_events must be false.
std::unique_ptr<ChangeStreamCursor> OpenDriverChangeStream(mongoc_client_t* client, const ChangeStreamSpec& spec);

}  // namespace docshift::capture
