#include "capture/change_stream_cursor.h"

#include "mongo/mongo_util.h"

namespace docshift::capture {
namespace {

class DriverChangeStream final : public ChangeStreamCursor {
 public:
  explicit DriverChangeStream(mongoc_change_stream_t* s) : s_(s) {}
  bool Next(const bson_t** event) override { return mongoc_change_stream_next(s_.get(), event); }
  const bson_t* ResumeToken() override { return mongoc_change_stream_get_resume_token(s_.get()); }
  bool Error(bson_error_t* err, const bson_t** reply) override {
    return mongoc_change_stream_error_document(s_.get(), err, reply);
  }

 private:
  mongo::StreamPtr s_;
};

}  // namespace

CursorChoice ChooseCursor(const std::string& source_kind, const std::string& show_expanded_events,
                          const std::string& cursor, int max_wire_version) {
  CursorChoice c;
  const bool accepted = source_kind == "mongo" && max_wire_version >= kWireVersionShowExpandedEvents;
  c.expanded = show_expanded_events == "on" || (show_expanded_events == "auto" && accepted);
  c.raw = c.expanded || cursor == "raw";
  return c;
}

std::unique_ptr<ChangeStreamCursor> OpenDriverChangeStream(mongoc_client_t* client, const ChangeStreamSpec& spec) {
  mongo::BsonPtr empty(bson_new());
  const bson_t* pipeline = spec.pipeline != nullptr ? spec.pipeline : empty.get();
  mongo::BsonPtr opts(bson_new());
  if (!spec.full_document.empty()) BSON_APPEND_UTF8(opts.get(), "fullDocument", spec.full_document.c_str());
  BSON_APPEND_INT32(opts.get(), "batchSize", spec.batch_size);
  BSON_APPEND_INT64(opts.get(), "maxAwaitTimeMS", spec.max_await_ms);
  bson_t tok;
  if (!spec.resume_after.empty() && mongo::ViewBytes(spec.resume_after, &tok)) {
    BSON_APPEND_DOCUMENT(opts.get(), "resumeAfter", &tok);
  } else if (spec.start_at != 0) {
    bson_append_timestamp(opts.get(), "startAtOperationTime", -1, static_cast<uint32_t>(spec.start_at >> 32),
                          static_cast<uint32_t>(spec.start_at & 0xffffffffu));
  }
  mongoc_change_stream_t* s;
  if (spec.db.empty()) {
    s = mongoc_client_watch(client, pipeline, opts.get());
  } else if (spec.coll.empty()) {
    mongoc_database_t* d = mongoc_client_get_database(client, spec.db.c_str());
    s = mongoc_database_watch(d, pipeline, opts.get());
    mongoc_database_destroy(d);
  } else {
    mongo::CollPtr c(mongoc_client_get_collection(client, spec.db.c_str(), spec.coll.c_str()));
    s = mongoc_collection_watch(c.get(), pipeline, opts.get());
  }
  return std::make_unique<DriverChangeStream>(s);
}

}  // namespace docshift::capture
