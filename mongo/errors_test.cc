// The one error classification (mongo/errors.h), and the one retry pacing (util/backoff.h).
#include "mongo/errors.h"

#include <gtest/gtest.h>
#include <mongoc/mongoc.h>

#include <cstring>

#include "mongo/mongo_util.h"
#include "util/backoff.h"

namespace docshift::mongo {
namespace {

bson_error_t Err(uint32_t domain, uint32_t code, const char* msg = "") {
  bson_error_t e{};
  e.domain = domain;
  e.code = code;
  std::strncpy(e.message, msg, sizeof(e.message) - 1);
  return e;
}

// PingAtStart's reading of its one attempt, on the messages libmongoc 1.23 gave against
// FerretDB v1.24 (e2e.tls_auth) and on a closed port.
TEST(ErrorsTest, StartFailures) {
  const uint32_t sel = MONGOC_ERROR_SERVER_SELECTION, fail = MONGOC_ERROR_SERVER_SELECTION_FAILURE;
  struct Case {
    bson_error_t err;
    bool tls, client_cert;
    StartFailure want;
  } cases[] = {
      {Err(sel, fail, "No suitable servers found (`serverSelectionTryOnce` set): [TLS handshake failed: "
                      "certificate verify failed (20): unable to get local issuer certificate calling hello on 'h:1']"),
       true, false, StartFailure::kFatal},
      {Err(sel, fail, "No suitable servers found (`serverSelectionTryOnce` set): [TLS handshake failed: "
                      "certificate verify failed (10): certificate has expired calling hello on 'h:1']"),
       true, true, StartFailure::kFatal},
      {Err(MONGOC_ERROR_CLIENT, MONGOC_ERROR_CLIENT_AUTHENTICATE, "Authentication failed."), false, false,
       StartFailure::kFatal},
      {Err(sel, fail, "No suitable servers found (`serverSelectionTryOnce` set): [Failed to receive length "
                      "header from server. calling hello on 'h:1']"),
       true, false, StartFailure::kNeedsClientCert},
      // With a client certificate given, or without TLS, the same read is left to the pool.
      {Err(sel, fail, "[Failed to receive length header from server. calling hello on 'h:1']"), true, true,
       StartFailure::kWait},
      {Err(sel, fail, "[Failed to receive length header from server. calling hello on 'h:1']"), false, false,
       StartFailure::kWait},
      {Err(sel, fail, "No suitable servers found (`serverSelectionTryOnce` set): [connection closed calling "
                      "hello on 'h:1']"),
       true, false, StartFailure::kTryAgain},
      {Err(sel, fail, "No suitable servers found (`serverSelectionTryOnce` set): [connection refused calling "
                      "hello on 'h:1']"),
       false, false, StartFailure::kWait},
      {Err(MONGOC_ERROR_SERVER, 59, "no such command: 'authenticate'"), true, true, StartFailure::kWait},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(static_cast<int>(ClassifyStartFailure(c.err, c.tls, c.client_cert)), static_cast<int>(c.want))
        << c.err.message << " tls=" << c.tls << " cert=" << c.client_cert;
  }
}

TEST(ErrorsTest, ByDomainCodeAndServerText) {
  struct Case {
    bson_error_t err;
    ErrorClass want;
  } cases[] = {
      {Err(MONGOC_ERROR_STREAM, MONGOC_ERROR_STREAM_SOCKET, "Failed to read 4 bytes: socket error or timeout"), ErrorClass::kTransient},
      {Err(MONGOC_ERROR_SERVER_SELECTION, MONGOC_ERROR_SERVER_SELECTION_FAILURE, "No suitable servers"), ErrorClass::kTransient},
      {Err(MONGOC_ERROR_SERVER, 10107, "not primary"), ErrorClass::kTransient},
      {Err(MONGOC_ERROR_SERVER, 91, "shutdown in progress"), ErrorClass::kTransient},
      {Err(MONGOC_ERROR_SERVER, 11000, "E11000 duplicate key error"), ErrorClass::kDuplicateKey},
      // FerretDB on PostgreSQL: code 1 and PostgreSQL's text (tests/README.md).
      {Err(MONGOC_ERROR_SERVER, 1, "ERROR: duplicate key value violates unique constraint"), ErrorClass::kDuplicateKey},
      {Err(MONGOC_ERROR_SERVER, 26, "ns not found"), ErrorClass::kNamespaceNotFound},
      {Err(MONGOC_ERROR_SERVER, 0, "ns not found"), ErrorClass::kNamespaceNotFound},
      {Err(MONGOC_ERROR_SERVER, 2, "Collection a.b does not exist"), ErrorClass::kNamespaceNotFound},
      {Err(MONGOC_ERROR_SERVER, 48, "collection already exists"), ErrorClass::kNamespaceExists},
      {Err(MONGOC_ERROR_SERVER, 286, "resume point no longer in the oplog"), ErrorClass::kHistoryLost},
      {Err(MONGOC_ERROR_SERVER, 136, "CappedPositionLost"), ErrorClass::kHistoryLost},
      {Err(MONGOC_ERROR_SERVER, 40324, "Unrecognized pipeline stage name: '$changeStreamSplitLargeEvent'"), ErrorClass::kUnsupported},
      {Err(MONGOC_ERROR_SERVER, 10334, "BSONObj size: 17000000 (0x1036640) is invalid"), ErrorClass::kTooLarge},
      {Err(MONGOC_ERROR_SERVER, 2, "BadValue"), ErrorClass::kPermanent},
      {Err(MONGOC_ERROR_SERVER, 121, "Document failed validation"), ErrorClass::kPermanent},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Classify(c.err), c.want) << c.err.message << " (code " << c.err.code << "): got "
                                       << ErrorClassName(Classify(c.err));
  }
  EXPECT_TRUE(IsTransient(cases[0].err));
  EXPECT_FALSE(IsTransient(cases[4].err));
  EXPECT_TRUE(IsHistoryLostCode(280));
  EXPECT_FALSE(IsHistoryLostCode(11000));
}

// Server push-back (issue #14): retried as transient, never a dead letter, told apart
// for the throttled counter; the text rows for servers that send it without the code.
TEST(ErrorsTest, PushBackIsThrottledAndRetried) {
  struct Case {
    bson_error_t err;
    bool throttled;
  } cases[] = {
      {Err(MONGOC_ERROR_SERVER, 16500, "Error=16500, RetryAfterMs=12, Details='Request rate is large'"), true},
      {Err(MONGOC_ERROR_QUERY, 16500, "TooManyRequests"), true},
      {Err(MONGOC_ERROR_SERVER, 0, "Request rate is large. More Request Units may be needed"), true},
      {Err(MONGOC_ERROR_SERVER, 1, "Response status code does not indicate success: TooManyRequests (429)"), true},
      {Err(MONGOC_ERROR_SERVER, 50, "operation exceeded time limit"), true},
      {Err(MONGOC_ERROR_SERVER, 262, "ExceededTimeLimit"), true},
      {Err(MONGOC_ERROR_WRITE_CONCERN, 64, "waiting for replication timed out"), true},
      // A write concern the deployment cannot satisfy is a setting to fix, not load.
      {Err(MONGOC_ERROR_WRITE_CONCERN, 100, "Not enough data-bearing nodes"), false},
      {Err(MONGOC_ERROR_WRITE_CONCERN, 79, "unrecognized getLastError mode: x"), false},
      {Err(MONGOC_ERROR_SERVER, 112, "WriteConflict"), false},
      {Err(MONGOC_ERROR_SERVER, 91, "shutdown in progress"), false},
      {Err(MONGOC_ERROR_STREAM, MONGOC_ERROR_STREAM_SOCKET, "socket error"), false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(IsThrottled(c.err), c.throttled) << c.err.message << " (code " << c.err.code << ")";
    if (c.throttled) {
      EXPECT_TRUE(IsTransient(c.err)) << c.err.message;
      EXPECT_EQ(ErrorClassName(Classify(c.err)), "throttled");
    }
  }
  EXPECT_FALSE(IsTransient(cases[7].err));  // 100: permanent
  EXPECT_FALSE(IsTransient(cases[9].err));  // 112 alone: permanent (a transaction's retry is its own)
}

TEST(ErrorsTest, RetryAfterMsFromTheMessage) {
  EXPECT_EQ(RetryAfterMs("Error=16500, RetryAfterMs=12, Details='...'"), 12);
  EXPECT_EQ(RetryAfterMs("Request rate is large... RetryAfterMs=100"), 100);
  EXPECT_EQ(RetryAfterMs("retryafterms: 250."), 250);
  EXPECT_EQ(RetryAfterMs("RetryAfterMs = 7"), 7);
  EXPECT_EQ(RetryAfterMs("RetryAfterMs=0"), 0);
  EXPECT_EQ(RetryAfterMs("RetryAfterMs=99999999999999999999"), 3'600'000);  // capped, no overflow
  EXPECT_EQ(RetryAfterMs("Request rate is large"), -1);
  EXPECT_EQ(RetryAfterMs("RetryAfterMs="), -1);
  EXPECT_EQ(RetryAfterMs("RetryAfterMsX=5, RetryAfterMs=9"), 9);
  EXPECT_EQ(RetryAfterMs(""), -1);
}

TEST(ErrorsTest, PushBackInABulkReply) {
  bson_error_t none = Err(MONGOC_ERROR_COMMAND, 11000, "E11000 duplicate key");
  // Cosmos DB refusing some writes of an unordered bulk, one with a retry-after.
  const BsonPtr write_errors = FromJson(R"({"nInserted": 1, "writeErrors": [
      {"index": 0, "code": 11000, "errmsg": "E11000 duplicate key"},
      {"index": 1, "code": 16500, "errmsg": "Request rate is large. RetryAfterMs=40"},
      {"index": 2, "code": 16500, "errmsg": "Request rate is large. RetryAfterMs=250"}]})");
  PushBack p = FindPushBack(none, write_errors.get());
  EXPECT_TRUE(p.throttled);
  EXPECT_EQ(p.retry_after_ms, 250);
  EXPECT_EQ(RetryDelayMs(p, 5), 250);  // the server's advice, not the doubled backoff
  // A write concern timeout in libmongoc's bulk reply, without a retry-after.
  const BsonPtr wc = FromJson(R"({"nInserted": 3, "writeConcernErrors": [{"code": 64, "errmsg": "waiting for replication timed out"}]})");
  p = FindPushBack(Err(MONGOC_ERROR_WRITE_CONCERN, 64, "waiting for replication timed out"), wc.get());
  EXPECT_TRUE(p.throttled);
  EXPECT_EQ(p.retry_after_ms, -1);
  EXPECT_EQ(RetryDelayMs(p, 0), BackoffDelayMs(0));
  EXPECT_EQ(RetryDelayMs(p, 3), BackoffDelayMs(3));
  // A command's writeConcernError (singular).
  const BsonPtr wc1 = FromJson(R"({"ok": 1, "writeConcernError": {"code": 64, "errmsg": "timed out"}})");
  EXPECT_TRUE(FindPushBack(bson_error_t{}, wc1.get()).throttled);
  // The whole command refused with 16500 (what tests/e2e/throttle_proxy.py answers).
  p = FindPushBack(Err(MONGOC_ERROR_SERVER, 16500, "Request rate is large. RetryAfterMs=100"), nullptr);
  EXPECT_TRUE(p.throttled);
  EXPECT_EQ(p.retry_after_ms, 100);
  // Nothing throttled: a duplicate key alone, an unsatisfiable write concern.
  const BsonPtr dup = FromJson(R"({"writeErrors": [{"index": 0, "code": 11000, "errmsg": "dup"}]})");
  EXPECT_FALSE(FindPushBack(none, dup.get()).throttled);
  const BsonPtr wc100 = FromJson(R"({"writeConcernErrors": [{"code": 100, "errmsg": "RetryAfterMs=5"}]})");
  p = FindPushBack(bson_error_t{}, wc100.get());
  EXPECT_FALSE(p.throttled);
  EXPECT_EQ(p.retry_after_ms, -1);
}

// The Change Streams spec's "Resumable Error" (github.com/mongodb/specifications,
// source/change-streams/change-streams.md).
TEST(ErrorsTest, ResumableChangeStreamErrorByLabelOrCodeList) {
  const BsonPtr labelled = FromJson(R"({"ok": 0, "code": 999, "errorLabels": ["ResumableChangeStreamError"]})");
  const BsonPtr plain = FromJson(R"({"ok": 0, "code": 10107})");
  const BsonPtr empty(bson_new());
  // No server reply (network, selection): resumable on every server.
  EXPECT_TRUE(IsResumableChangeStreamError(Err(MONGOC_ERROR_STREAM, MONGOC_ERROR_STREAM_SOCKET), nullptr, 17));
  EXPECT_TRUE(IsResumableChangeStreamError(Err(MONGOC_ERROR_QUERY, 10107), empty.get(), 8));
  // CursorNotFound always.
  EXPECT_TRUE(IsResumableChangeStreamError(Err(MONGOC_ERROR_QUERY, 43), plain.get(), 17));
  // 4.4+: the label decides, not the code.
  EXPECT_TRUE(IsResumableChangeStreamError(Err(MONGOC_ERROR_QUERY, 999), labelled.get(), 9));
  EXPECT_FALSE(IsResumableChangeStreamError(Err(MONGOC_ERROR_QUERY, 10107), plain.get(), 17));
  // Before 4.4 (mongo-java-server reports 8): the code list.
  EXPECT_TRUE(IsResumableChangeStreamError(Err(MONGOC_ERROR_QUERY, 10107), plain.get(), 8));
  EXPECT_TRUE(IsResumableChangeStreamError(Err(MONGOC_ERROR_QUERY, 234), plain.get(), 8));
  EXPECT_FALSE(IsResumableChangeStreamError(Err(MONGOC_ERROR_QUERY, 286), plain.get(), 8));  // history lost
  EXPECT_FALSE(IsResumableChangeStreamError(Err(MONGOC_ERROR_QUERY, 40415), plain.get(), 8));
}

TEST(BackoffTest, DoublesFromAHundredMillisecondsToFiveSeconds) {
  Backoff b;
  EXPECT_EQ(b.Next(), 100);
  EXPECT_EQ(b.Next(), 200);
  EXPECT_EQ(b.Next(), 400);
  for (int i = 0; i < 40; ++i) EXPECT_LE(b.Next(), 5000);
  EXPECT_EQ(b.Next(), 5000);
  b.Reset();
  EXPECT_EQ(b.Next(), 100);
  EXPECT_EQ(BackoffDelayMs(0), 100);
  EXPECT_EQ(BackoffDelayMs(3), 800);
  EXPECT_EQ(BackoffDelayMs(1000), 5000);
  EXPECT_EQ(BackoffDelayMs(-1), 100);
}

TEST(BackoffTest, SleepEndsEarlyOnStop) {
  std::atomic<bool> stop{true};
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(SleepUnlessStopped(10'000, &stop));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  stop = false;
  EXPECT_FALSE(SleepUnlessStopped(30, &stop));
  EXPECT_FALSE(SleepUnlessStopped(30, nullptr));
}

}  // namespace
}  // namespace docshift::mongo
