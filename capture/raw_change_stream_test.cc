// docshift's own change stream cursor (capture/raw_change_stream.h) against a real server
// with change streams: the test bed's mongo-java-server (SOURCE_CS_URI, from
// build/testbed.env; unset: skipped, or failed under CI). It must give the same events
// and resume tokens as libmongoc's watch for the same writes, resume from a saved token
// with exactly the events after it, and keep libmongoc's post-batch resume token rule.
// mongo-java-server sends no postBatchResumeToken (its replies carry cursor.id, ns and
// the batch only) and ignores showExpandedEvents; its maxWireVersion is 8.
#include "capture/raw_change_stream.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "mongo/mongo_util.h"

namespace docshift::capture {
namespace {

using mongo::BsonPtr;

struct Seen {
  std::string id;      // the event's _id (its resume token), as JSON
  std::string op;      // operationType
  std::string key;     // documentKey, as JSON
  std::string after;   // ResumeToken() right after the event, as JSON
};

std::string Json(const bson_t* b) { return b == nullptr ? "null" : mongo::ToJson(b); }

std::string Field(const bson_t* doc, const char* key) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, key)) return "";
  if (BSON_ITER_HOLDS_UTF8(&it)) return bson_iter_utf8(&it, nullptr);
  if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
    bson_t sub;
    uint32_t len;
    const uint8_t* data;
    bson_iter_document(&it, &len, &data);
    bson_init_static(&sub, data, len);
    return mongo::ToJson(&sub);
  }
  return "?";
}

// Reads until n events came or 15 s passed; fails on a cursor error.
std::vector<Seen> Read(ChangeStreamCursor* c, size_t n) {
  std::vector<Seen> out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
    const bson_t* doc;
    if (c->Next(&doc)) {
      out.push_back({Field(doc, "_id"), Field(doc, "operationType"), Field(doc, "documentKey"), ""});
      out.back().after = Json(c->ResumeToken());
      continue;
    }
    bson_error_t err;
    const bson_t* reply;
    if (c->Error(&err, &reply)) {
      ADD_FAILURE() << "cursor error: " << err.message << " (code " << err.code << ") " << Json(reply);
      break;
    }
  }
  return out;
}

class RawChangeStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* uri = std::getenv("SOURCE_CS_URI");
    if (uri == nullptr || *uri == '\0') {
      if (std::getenv("CI")) FAIL() << "SOURCE_CS_URI is not set (scripts/testbed.sh up)";
      GTEST_SKIP() << "SOURCE_CS_URI is not set; run scripts/testbed.sh up and source build/testbed.env";
    }
    mongo::InitOnce();
    auto u = mongo::ParseUri(uri, "SOURCE_CS_URI");
    ASSERT_TRUE(u.ok()) << u.status().ToString();
    client_.reset(mongoc_client_new_from_uri(u->get()));
    db_ = "xe_rcs" + std::to_string(std::random_device{}() % 1000000);
    mongoc_database_t* d = mongoc_client_get_database(client_.get(), db_.c_str());
    bson_error_t err;
    mongoc_collection_t* c = mongoc_database_create_collection(d, "c", nullptr, &err);
    ASSERT_NE(c, nullptr) << err.message;
    mongoc_collection_destroy(c);
    mongoc_database_destroy(d);
    coll_.reset(mongoc_client_get_collection(client_.get(), db_.c_str(), "c"));
    spec_.db = db_;
    spec_.coll = "c";
    spec_.full_document = "updateLookup";
    spec_.batch_size = 3;  // several batches for the writes below
    spec_.max_await_ms = 200;
  }
  void TearDown() override {
    if (!client_) return;
    mongoc_database_t* d = mongoc_client_get_database(client_.get(), db_.c_str());
    mongoc_database_drop(d, nullptr);
    mongoc_database_destroy(d);
  }
  // 5 inserts, 2 updates, 1 delete: 8 events.
  void Write() {
    bson_error_t err;
    for (int i = 0; i < 5; ++i) {
      BsonPtr doc(BCON_NEW("_id", BCON_INT32(i), "v", BCON_INT32(i)));
      ASSERT_TRUE(mongoc_collection_insert_one(coll_.get(), doc.get(), nullptr, nullptr, &err)) << err.message;
    }
    for (int i = 0; i < 2; ++i) {
      BsonPtr sel(BCON_NEW("_id", BCON_INT32(i)));
      BsonPtr upd(BCON_NEW("$set", "{", "v", BCON_INT32(100 + i), "}"));
      ASSERT_TRUE(mongoc_collection_update_one(coll_.get(), sel.get(), upd.get(), nullptr, nullptr, &err))
          << err.message;
    }
    BsonPtr sel(BCON_NEW("_id", BCON_INT32(4)));
    ASSERT_TRUE(mongoc_collection_delete_one(coll_.get(), sel.get(), nullptr, nullptr, &err)) << err.message;
  }
  static constexpr size_t kEvents = 8;

  mongo::ClientPtr client_;
  mongo::CollPtr coll_;
  std::string db_;
  ChangeStreamSpec spec_;
};

TEST_F(RawChangeStreamTest, SameEventsAndTokensAsLibmongocsWatch) {
  mongo::ClientPtr c2(mongoc_client_new_from_uri(mongoc_client_get_uri(client_.get())));
  auto driver = OpenDriverChangeStream(client_.get(), spec_);
  auto raw = OpenRawChangeStream(c2.get(), spec_);
  bson_error_t err;
  ASSERT_FALSE(driver->Error(&err, nullptr)) << err.message;
  ASSERT_FALSE(raw->Error(&err, nullptr)) << err.message;
  EXPECT_EQ(Json(raw->ResumeToken()), Json(driver->ResumeToken())) << "before the first event";
  Write();
  const std::vector<Seen> a = Read(driver.get(), kEvents), b = Read(raw.get(), kEvents);
  ASSERT_EQ(a.size(), kEvents);
  ASSERT_EQ(b.size(), kEvents);
  for (size_t i = 0; i < kEvents; ++i) {
    EXPECT_EQ(b[i].id, a[i].id) << i;
    EXPECT_EQ(b[i].op, a[i].op) << i;
    EXPECT_EQ(b[i].key, a[i].key) << i;
    EXPECT_EQ(b[i].after, a[i].after) << i;
    EXPECT_EQ(b[i].after, b[i].id) << i << ": no postBatchResumeToken from this server";
  }
  EXPECT_EQ(b[0].op, "insert");
  EXPECT_EQ(b[7].op, "delete");
  // Idle: both report no event and keep the same position.
  const bson_t* doc;
  EXPECT_FALSE(raw->Next(&doc));
  EXPECT_FALSE(driver->Next(&doc));
  EXPECT_FALSE(raw->Error(&err, nullptr)) << err.message;
  EXPECT_EQ(Json(raw->ResumeToken()), Json(driver->ResumeToken()));
}

TEST_F(RawChangeStreamTest, ResumesFromASavedTokenWithExactlyTheEventsAfterIt) {
  std::vector<Seen> all;
  {
    auto raw = OpenRawChangeStream(client_.get(), spec_);
    Write();
    all = Read(raw.get(), kEvents);
  }  // killed here
  ASSERT_EQ(all.size(), kEvents);
  for (size_t from : {size_t{0}, size_t{2}, size_t{6}}) {
    ChangeStreamSpec s = spec_;
    BsonPtr tok = mongo::FromJson(all[from].id);
    s.resume_after = mongo::Bytes(tok.get());
    auto raw = OpenRawChangeStream(client_.get(), s);
    const std::vector<Seen> rest = Read(raw.get(), kEvents - from - 1);
    ASSERT_EQ(rest.size(), kEvents - from - 1) << "from " << from;
    for (size_t i = 0; i < rest.size(); ++i) EXPECT_EQ(rest[i].id, all[from + 1 + i].id) << from << "+" << i;
    // Nothing more: exactly the events after the token.
    const bson_t* doc;
    EXPECT_FALSE(raw->Next(&doc)) << "from " << from << ": an extra event " << Json(doc);
    EXPECT_EQ(Json(raw->ResumeToken()), all.back().id);
  }
}

TEST_F(RawChangeStreamTest, ShowExpandedEventsGoesIntoTheStageAndTheRestOfThePipelineFollows) {
  // The server accepts (and, being 4.2-level, ignores) the option inside $changeStream;
  // a $match after the stage still applies.
  ChangeStreamSpec s = spec_;
  s.show_expanded_events = true;
  BsonPtr pipeline = mongo::FromJson(R"({"pipeline": [{"$match": {"operationType": "delete"}}]})");
  s.pipeline = pipeline.get();
  auto raw = OpenRawChangeStream(client_.get(), s);
  bson_error_t err;
  ASSERT_FALSE(raw->Error(&err, nullptr)) << err.message;
  Write();
  const std::vector<Seen> got = Read(raw.get(), 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].op, "delete");
}

// The aggregate commands as sent (command monitoring): ours puts showExpandedEvents in
// the $changeStream stage; libmongoc 1.23's watch, given the same option, puts it on the
// aggregate command, where the server never looks for it (why the raw cursor exists).
void OnStarted(const mongoc_apm_command_started_t* e) {
  if (std::string(mongoc_apm_command_started_get_command_name(e)) != "aggregate") return;
  auto* out = static_cast<std::vector<std::string>*>(mongoc_apm_command_started_get_context(e));
  out->push_back(mongo::ToJson(mongoc_apm_command_started_get_command(e)));
}

bool HasPath(const std::string& json, const char* path) {
  BsonPtr b = mongo::FromJson(json);
  bson_iter_t it, d;
  return b && bson_iter_init(&it, b.get()) && bson_iter_find_descendant(&it, path, &d) && BSON_ITER_HOLDS_BOOL(&d) &&
         bson_iter_bool(&d);
}

TEST_F(RawChangeStreamTest, ShowExpandedEventsIsSentInsideTheStageNotOnTheCommand) {
  std::vector<std::string> sent;
  mongoc_apm_callbacks_t* cbs = mongoc_apm_callbacks_new();
  mongoc_apm_set_command_started_cb(cbs, OnStarted);
  mongo::ClientPtr c(mongoc_client_new_from_uri(mongoc_client_get_uri(client_.get())));
  ASSERT_TRUE(mongoc_client_set_apm_callbacks(c.get(), cbs, &sent));
  mongoc_apm_callbacks_destroy(cbs);
  ChangeStreamSpec s = spec_;
  s.show_expanded_events = true;
  { auto raw = OpenRawChangeStream(c.get(), s); }
  // libmongoc's watch with the option in its opts, the way a newer libmongoc takes it.
  BsonPtr opts = mongo::FromJson(R"({"showExpandedEvents": true})");
  BsonPtr none(bson_new());
  mongo::CollPtr coll(mongoc_client_get_collection(c.get(), db_.c_str(), "c"));
  mongo::StreamPtr driver(mongoc_collection_watch(coll.get(), none.get(), opts.get()));
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_TRUE(HasPath(sent[0], "pipeline.0.$changeStream.showExpandedEvents")) << sent[0];
  EXPECT_FALSE(HasPath(sent[0], "showExpandedEvents")) << sent[0];
  EXPECT_FALSE(HasPath(sent[1], "pipeline.0.$changeStream.showExpandedEvents")) << sent[1];
  EXPECT_TRUE(HasPath(sent[1], "showExpandedEvents")) << "libmongoc " << MONGOC_VERSION_S << ": " << sent[1];
}

void OnSucceeded(const mongoc_apm_command_succeeded_t* e) {
  if (std::string(mongoc_apm_command_succeeded_get_command_name(e)) != "aggregate") return;
  bson_iter_t it, d;
  if (bson_iter_init(&it, mongoc_apm_command_succeeded_get_reply(e)) && bson_iter_find_descendant(&it, "cursor.id", &d)) {
    *static_cast<int64_t*>(mongoc_apm_command_succeeded_get_context(e)) = bson_iter_as_int64(&d);
  }
}

// The server loses the cursor (killed from elsewhere: getMore fails with CursorNotFound,
// resumable by the spec): the cursor resumes by itself once, from the last event's
// token, and delivers the events after it, none twice.
TEST_F(RawChangeStreamTest, ResumesOnceAfterTheServerLosesTheCursor) {
  int64_t cursor_id = 0;
  mongoc_apm_callbacks_t* cbs = mongoc_apm_callbacks_new();
  mongoc_apm_set_command_succeeded_cb(cbs, OnSucceeded);
  mongo::ClientPtr c(mongoc_client_new_from_uri(mongoc_client_get_uri(client_.get())));
  ASSERT_TRUE(mongoc_client_set_apm_callbacks(c.get(), cbs, &cursor_id));
  mongoc_apm_callbacks_destroy(cbs);
  auto raw = OpenRawChangeStream(c.get(), spec_);
  Write();
  const std::vector<Seen> first = Read(raw.get(), 3);
  ASSERT_EQ(first.size(), 3u);
  const int64_t killed = cursor_id;
  ASSERT_NE(killed, 0);
  BsonPtr kill(BCON_NEW("killCursors", "c", "cursors", "[", BCON_INT64(killed), "]"));
  bson_error_t err;
  bson_t reply;
  ASSERT_TRUE(mongoc_client_command_simple(client_.get(), db_.c_str(), kill.get(), nullptr, &reply, &err))
      << err.message;
  bson_destroy(&reply);
  const std::vector<Seen> rest = Read(raw.get(), kEvents - 3);
  ASSERT_EQ(rest.size(), kEvents - 3);
  EXPECT_NE(cursor_id, killed) << "a new aggregate (the resume) opened a new cursor";
  // All 8, in order, each once: compare with a fresh stream from the start.
  ChangeStreamSpec from_first = spec_;
  BsonPtr tok = mongo::FromJson(first[0].id);
  from_first.resume_after = mongo::Bytes(tok.get());
  auto check = OpenRawChangeStream(client_.get(), from_first);
  const std::vector<Seen> after_first = Read(check.get(), kEvents - 1);
  ASSERT_EQ(after_first.size(), kEvents - 1);
  for (size_t i = 1; i < 3; ++i) EXPECT_EQ(first[i].id, after_first[i - 1].id);
  for (size_t i = 0; i < rest.size(); ++i) EXPECT_EQ(rest[i].id, after_first[i + 2].id) << i;
}

TEST_F(RawChangeStreamTest, AServerErrorIsReportedNotLooped) {
  // An unknown stage: not resumable, reported once through Error() with the reply.
  ChangeStreamSpec s = spec_;
  BsonPtr pipeline = mongo::FromJson(R"({"pipeline": [{"$noSuchStage": {}}]})");
  s.pipeline = pipeline.get();
  auto raw = OpenRawChangeStream(client_.get(), s);
  const bson_t* doc;
  EXPECT_FALSE(raw->Next(&doc));
  bson_error_t err;
  const bson_t* reply = nullptr;
  ASSERT_TRUE(raw->Error(&err, &reply));
  EXPECT_NE(err.code, 0u);
  ASSERT_NE(reply, nullptr);
  EXPECT_FALSE(bson_empty(reply)) << "the server's error reply is kept";
}

TEST_F(RawChangeStreamTest, ServerMaxWireVersion) {
  // mongo-java-server reports 8 (MongoDB 4.2): below showExpandedEvents' 17.
  const int v = ServerMaxWireVersion(client_.get());
  EXPECT_GE(v, 6);
  EXPECT_LT(v, kWireVersionShowExpandedEvents) << "the test bed has no MongoDB 6.0+ server";
}

}  // namespace
}  // namespace docshift::capture
