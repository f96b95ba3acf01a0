#include "capture/raw_change_stream.h"

#include <cstring>
#include <string>

#include "mongo/errors.h"
#include "mongo/mongo_util.h"

namespace docshift::capture {
namespace {

using mongo::BsonPtr;

void AppendTimestamp(bson_t* b, const char* key, uint64_t t) {
  bson_append_timestamp(b, key, -1, static_cast<uint32_t>(t >> 32), static_cast<uint32_t>(t & 0xffffffffu));
}

int WireVersionOf(const mongoc_server_description_t* sd) {
  bson_iter_t it;
  const bson_t* hello = mongoc_server_description_hello_response(sd);
  if (hello != nullptr && bson_iter_init_find(&it, hello, "maxWireVersion") && BSON_ITER_HOLDS_NUMBER(&it)) {
    return static_cast<int>(bson_iter_as_int64(&it));
  }
  return -1;
}

class RawChangeStream final : public ChangeStreamCursor {
 public:
  RawChangeStream(mongoc_client_t* client, const ChangeStreamSpec& spec)
      : client_(client), spec_(spec), batches_(SavedToken(spec).get()), op_time_(spec.start_at) {
    if (spec.pipeline != nullptr) pipeline_.reset(bson_copy(spec.pipeline));
    spec_.pipeline = nullptr;  // pipeline_ from here on
    mongoc_session_opt_t* so = mongoc_session_opts_new();
    mongoc_session_opts_set_causal_consistency(so, false);
    session_ = mongoc_client_start_session(client_, so, nullptr);  // null: the server has no sessions
    mongoc_session_opts_destroy(so);
  }

  ~RawChangeStream() override {
    if (failed_ && CursorGone()) batches_.Close();
    Kill();
    if (session_ != nullptr) mongoc_client_session_destroy(session_);
  }

  // The aggregate. resumed: a reopen after an error (the Change Streams spec's resume
  // process: the cached token, else the saved operation time).
  bool Open(bool resumed) {
    bson_error_t err{};
    mongoc_server_description_t* sd = mongoc_client_select_server(client_, false, nullptr, &err);
    if (sd == nullptr) return Fail(err, nullptr);
    server_id_ = mongoc_server_description_id(sd);
    max_wire_ = WireVersionOf(sd);
    mongoc_server_description_destroy(sd);

    BsonPtr cmd(bson_new());
    if (spec_.coll.empty()) {
      BSON_APPEND_INT32(cmd.get(), "aggregate", 1);
    } else {
      BSON_APPEND_UTF8(cmd.get(), "aggregate", spec_.coll.c_str());
    }
    bson_t stages, stage, cs, cursor;
    BSON_APPEND_ARRAY_BEGIN(cmd.get(), "pipeline", &stages);
    BSON_APPEND_DOCUMENT_BEGIN(&stages, "0", &stage);
    BSON_APPEND_DOCUMENT_BEGIN(&stage, "$changeStream", &cs);
    if (!spec_.full_document.empty()) BSON_APPEND_UTF8(&cs, "fullDocument", spec_.full_document.c_str());
    if (spec_.show_expanded_events) BSON_APPEND_BOOL(&cs, "showExpandedEvents", true);
    if (const bson_t* tok = batches_.token()) {
      BSON_APPEND_DOCUMENT(&cs, "resumeAfter", tok);
    } else if (op_time_ != 0 && (!resumed || max_wire_ >= 7)) {
      AppendTimestamp(&cs, "startAtOperationTime", op_time_);
    }
    if (spec_.db.empty()) BSON_APPEND_BOOL(&cs, "allChangesForCluster", true);
    bson_append_document_end(&stage, &cs);
    bson_append_document_end(&stages, &stage);
    bson_iter_t it, rest;
    if (pipeline_ && bson_iter_init_find(&it, pipeline_.get(), "pipeline") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &rest)) {
      for (int n = 1; bson_iter_next(&rest); ++n) {
        const std::string k = std::to_string(n);
        bson_append_value(&stages, k.c_str(), -1, bson_iter_value(&rest));
      }
    }
    bson_append_array_end(cmd.get(), &stages);
    BSON_APPEND_DOCUMENT_BEGIN(cmd.get(), "cursor", &cursor);
    if (spec_.batch_size > 0) BSON_APPEND_INT32(&cursor, "batchSize", spec_.batch_size);
    bson_append_document_end(cmd.get(), &cursor);

    const std::string db = spec_.db.empty() ? "admin" : spec_.db;
    BsonPtr reply;
    if (!Run(db, cmd.get(), &reply)) return false;
    if (!Take(std::move(reply), "firstBatch")) return false;
    // Change Streams spec, startAtOperationTime: a stream opened at no position keeps the
    // aggregate's operationTime, to resume from before its first event.
    bson_iter_t ot;
    if (!batches_.token() && op_time_ == 0 && max_wire_ >= 7 &&
        bson_iter_init_find(&ot, batches_.reply(), "operationTime") &&
        BSON_ITER_HOLDS_TIMESTAMP(&ot)) {
      uint32_t t, i;
      bson_iter_timestamp(&ot, &t, &i);
      op_time_ = (static_cast<uint64_t>(t) << 32) | i;
    }
    return true;
  }

  bool Next(const bson_t** event) override {
    bool fetched = false, resumed = false;
    while (!failed_) {
      const bson_t* ev;
      if (Status st = batches_.Next(&ev); !st.ok()) return Fail(CursorError(st.message().c_str()), nullptr);
      if (ev != nullptr) {
        op_time_ = 0;  // a token from now on
        *event = ev;
        return true;
      }
      if (batches_.cursor_id() == 0 || fetched) return false;  // closed (an invalidate), or one await done
      fetched = true;
      if (GetMore()) continue;
      if (resumed || !mongo::IsResumableChangeStreamError(err_, err_reply_.get(), max_wire_)) return false;
      // Resume once from the cached position: kill the old cursor, reopen, read again.
      resumed = true;
      failed_ = false;
      if (CursorGone()) batches_.Close();
      Kill();
      if (!Open(true)) return false;
      fetched = false;
    }
    return false;
  }

  const bson_t* ResumeToken() override { return batches_.token(); }

  bool Error(bson_error_t* err, const bson_t** reply) override {
    if (!failed_) {
      if (reply) *reply = nullptr;
      return false;
    }
    if (err) *err = err_;
    if (reply) *reply = err_reply_.get();
    return true;
  }

 private:
  static bson_error_t CursorError(const char* what) {
    bson_error_t e;
    bson_set_error(&e, MONGOC_ERROR_CURSOR, MONGOC_ERROR_CURSOR_INVALID_CURSOR, "change stream reply: %s", what);
    return e;
  }

  bool Fail(const bson_error_t& err, BsonPtr reply) {
    failed_ = true;
    err_ = err;
    err_reply_ = reply ? std::move(reply) : BsonPtr(bson_new());
    return false;
  }

  // A command on the stream's server, in its session.
  bool Run(const std::string& db, const bson_t* cmd, BsonPtr* reply) {
    bson_error_t err{};
    BsonPtr opts(bson_new());
    BSON_APPEND_INT32(opts.get(), "serverId", static_cast<int32_t>(server_id_));
    if (session_ != nullptr && !mongoc_client_session_append(session_, opts.get(), &err)) return Fail(err, nullptr);
    bson_t out;
    const bool ok = mongoc_client_read_command_with_opts(client_, db.c_str(), cmd, nullptr, opts.get(), &out, &err);
    BsonPtr r(bson_copy(&out));
    bson_destroy(&out);
    if (!ok) return Fail(err, std::move(r));
    *reply = std::move(r);
    return true;
  }

  bool Take(BsonPtr reply, const char* batch_key) {
    Status st = batches_.Take(std::move(reply), batch_key);
    return st.ok() || Fail(CursorError(st.message().c_str()), nullptr);
  }

  // The spec's saved token (a copy), or null.
  static BsonPtr SavedToken(const ChangeStreamSpec& spec) {
    bson_t view;
    if (spec.resume_after.empty() || !mongo::ViewBytes(spec.resume_after, &view)) return nullptr;
    return BsonPtr(bson_copy(&view));
  }

  bool GetMore() {
    BsonPtr cmd(bson_new());
    BSON_APPEND_INT64(cmd.get(), "getMore", batches_.cursor_id());
    BSON_APPEND_UTF8(cmd.get(), "collection", batches_.coll().c_str());
    if (spec_.batch_size > 0) BSON_APPEND_INT32(cmd.get(), "batchSize", spec_.batch_size);
    if (spec_.max_await_ms > 0) BSON_APPEND_INT64(cmd.get(), "maxTimeMS", spec_.max_await_ms);
    BsonPtr reply;
    if (!Run(batches_.db(), cmd.get(), &reply)) return false;
    return Take(std::move(reply), "nextBatch");
  }

  // After the last error the cursor needs no killCursors: the server lost it
  // (CursorNotFound), or the connection is gone (as libmongoc, never reconnect to kill
  // it: a black-holed server would hold the reader for another socketTimeoutMS; the
  // server times the cursor out).
  bool CursorGone() const {
    return err_.code == 43 || err_.domain == MONGOC_ERROR_STREAM || err_.domain == MONGOC_ERROR_SERVER_SELECTION ||
           err_.domain == MONGOC_ERROR_PROTOCOL;
  }

  // killCursors for an open cursor (best effort: the server times it out otherwise).
  void Kill() {
    if (batches_.cursor_id() == 0 || server_id_ == 0) return;
    BsonPtr cmd(bson_new());
    bson_t ids;
    BSON_APPEND_UTF8(cmd.get(), "killCursors", batches_.coll().c_str());
    BSON_APPEND_ARRAY_BEGIN(cmd.get(), "cursors", &ids);
    BSON_APPEND_INT64(&ids, "0", batches_.cursor_id());
    bson_append_array_end(cmd.get(), &ids);
    BsonPtr opts(bson_new());
    BSON_APPEND_INT32(opts.get(), "serverId", static_cast<int32_t>(server_id_));
    bson_error_t err;
    if (session_ != nullptr) mongoc_client_session_append(session_, opts.get(), &err);
    bson_t reply;
    mongoc_client_read_command_with_opts(client_, batches_.db().c_str(), cmd.get(), nullptr, opts.get(), &reply,
                                         &err);
    bson_destroy(&reply);
    batches_.Close();
  }

  mongoc_client_t* client_;
  ChangeStreamSpec spec_;
  BsonPtr pipeline_;
  mongoc_client_session_t* session_ = nullptr;
  uint32_t server_id_ = 0;
  int max_wire_ = -1;
  ChangeStreamBatches batches_;  // the replies, the position
  uint64_t op_time_;  // the saved operation time, while there is no token
  bool failed_ = false;
  bson_error_t err_{};
  BsonPtr err_reply_;
};

}  // namespace

ChangeStreamBatches::ChangeStreamBatches(const bson_t* token) {
  if (token != nullptr) token_.reset(bson_copy(token));
}

Status ChangeStreamBatches::Take(BsonPtr reply, const char* batch_key) {
  reply_ = std::move(reply);
  pbrt_.reset();
  in_batch_ = false;
  bson_iter_t it, c;
  if (!reply_ || !bson_iter_init_find(&it, reply_.get(), "cursor") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
      !bson_iter_recurse(&it, &c)) {
    return Status::InvalidArgument("change stream reply has no cursor document");
  }
  bool have_batch = false;
  while (bson_iter_next(&c)) {
    const char* k = bson_iter_key(&c);
    if (std::strcmp(k, "id") == 0 && BSON_ITER_HOLDS_NUMBER(&c)) {
      cursor_id_ = bson_iter_as_int64(&c);
    } else if (std::strcmp(k, "ns") == 0 && BSON_ITER_HOLDS_UTF8(&c)) {
      const std::string ns = bson_iter_utf8(&c, nullptr);
      const auto dot = ns.find('.');
      db_ = ns.substr(0, dot);
      coll_ = dot == std::string::npos ? "" : ns.substr(dot + 1);
    } else if (std::strcmp(k, batch_key) == 0 && BSON_ITER_HOLDS_ARRAY(&c)) {
      have_batch = bson_iter_recurse(&c, &batch_);
    } else if (std::strcmp(k, "postBatchResumeToken") == 0 && BSON_ITER_HOLDS_DOCUMENT(&c)) {
      uint32_t len;
      const uint8_t* data;
      bson_iter_document(&c, &len, &data);
      pbrt_.reset(bson_new_from_data(data, len));
    }
  }
  if (!have_batch) return Status::InvalidArgument(std::string("change stream reply has no cursor.") + batch_key);
  in_batch_ = true;
  bson_iter_t peek = batch_;
  if (!bson_iter_next(&peek)) CachePostBatchToken();  // an empty batch
  return Status::OK();
}

Status ChangeStreamBatches::Next(const bson_t** event) {
  *event = nullptr;
  if (!in_batch_ || !bson_iter_next(&batch_)) {
    in_batch_ = false;
    return Status::OK();
  }
  uint32_t len;
  const uint8_t* data;
  bson_iter_t id;
  if (!BSON_ITER_HOLDS_DOCUMENT(&batch_)) return Status::InvalidArgument("a change stream batch entry is not a document");
  bson_iter_document(&batch_, &len, &data);
  if (!bson_init_static(&current_, data, len)) return Status::InvalidArgument("a change event is not BSON");
  if (!bson_iter_init_find(&id, &current_, "_id") || !BSON_ITER_HOLDS_DOCUMENT(&id)) {
    return Status::InvalidArgument("Cannot provide resume functionality when the resume token is missing");
  }
  bson_iter_document(&id, &len, &data);
  token_.reset(bson_new_from_data(data, len));
  bson_iter_t peek = batch_;
  if (!bson_iter_next(&peek)) CachePostBatchToken();  // the batch's last event
  *event = &current_;
  return Status::OK();
}

void ChangeStreamBatches::Close() {
  cursor_id_ = 0;
  in_batch_ = false;
}

void ChangeStreamBatches::CachePostBatchToken() {
  if (pbrt_) token_.reset(bson_copy(pbrt_.get()));
}

std::unique_ptr<ChangeStreamCursor> OpenRawChangeStream(mongoc_client_t* client, const ChangeStreamSpec& spec) {
  auto s = std::make_unique<RawChangeStream>(client, spec);
  s->Open(false);
  return s;
}

int ServerMaxWireVersion(mongoc_client_t* client) {
  bson_error_t err;
  mongoc_server_description_t* sd = mongoc_client_select_server(client, false, nullptr, &err);
  if (sd == nullptr) return -1;
  const int v = WireVersionOf(sd);
  mongoc_server_description_destroy(sd);
  return v;
}

}  // namespace docshift::capture
