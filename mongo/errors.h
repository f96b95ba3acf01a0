// One classification of the errors MongoDB-API servers return, used by every retry and
// recovery decision in capture, apply and snapshot (instead of codes and message texts
// checked where each error is handled). By server code first; a few servers report some
// conditions with other codes and a message text only (FerretDB on PostgreSQL reports a
// duplicate key as code 1 with PostgreSQL's message: tests/README.md): those texts are in
// this one table, each naming the server it is for.
#pragma once

#include <bson/bson.h>

#include <cstdint>
#include <string_view>

namespace docshift::mongo {

enum class ErrorClass {
  kTransient,          // network, failover, shutdown: retry with backoff
  kThrottled,          // server push-back (rate limit, write concern, time limit): see below
  kDuplicateKey,       // a unique index refused the write
  kNamespaceNotFound,  // the collection, database (or index) does not exist
  kNamespaceExists,    // the collection (or index) already exists
  kHistoryLost,        // the server no longer holds the position asked for
  kUnsupported,        // a command, stage or option this server does not have
  kTooLarge,           // a document or event over the 16 MB BSON limit
  kPermanent,          // anything else: retrying will not help
};

ErrorClass Classify(const bson_error_t& err);
std::string_view ErrorClassName(ErrorClass c);

// Whether retrying later can succeed: kTransient or kThrottled. Every retry loop asks
// this, so push-back is retried wherever a network error is, and never dead-lettered.
bool IsTransient(const bson_error_t& err);

// Server push-back (issue #14): the server is up but asks the client to slow down, or
// could not finish in time under load. Retried like a transient error (an idempotent
// write is written again), counted (docshift_apply_throttled_total), and paced by the
// server's retry-after when it gives one. The codes, and why each is push-back:
//   16500  Azure Cosmos DB for MongoDB "TooManyRequests" / "Request rate is large": the
//          collection's request units are spent. Its message carries "RetryAfterMs=N".
//   50     MaxTimeMSExpired: Cosmos DB's answer when its server-side retry gives up
//          after 60 s (its docs call it ExceededTimeLimit (50)); docshift sets no
//          maxTimeMS itself, so from a target it means the server ran out of time.
//   262    ExceededTimeLimit: a lock or ticket not acquired in time (an overloaded
//          mongod, DocumentDB).
//   64     WriteConcernFailed: the write is on the primary but the replicas did not
//          acknowledge it in wtimeout (replication lagging behind the load); written
//          again, idempotent. Not 100 UnsatisfiableWriteConcern or 79
//          UnknownReplWriteConcern: a write concern the deployment cannot satisfy is a
//          setting to fix, and stays permanent.
// And by text, for servers that send push-back without its code: "Request rate is large",
// "TooManyRequests" (Cosmos DB gateways). DocumentDB documents no throttling code of
// its own: it reports overload with the codes above.
// Not push-back: a "TransientTransactionError" label marks a whole transaction to retry;
// libmongoc's mongoc_client_session_with_transaction (apply/transaction.cc) retries those
// for up to 120 s itself, then apply asks IsTransient as everywhere. WriteConflict (112),
// such an error outside a transaction's label, stays permanent here.
bool IsThrottled(const bson_error_t& err);

// "RetryAfterMs=NNN" (Cosmos DB's 16500 message, in any letter case, '=' or ':'), the
// milliseconds NNN; -1 when the text has none. Values over an hour are taken as an hour.
int64_t RetryAfterMs(std::string_view message);

// A failed write's push-back: the error itself and, in reply (a bulk write's reply, or
// null), every writeErrors entry and writeConcernError(s). throttled: any of them is
// push-back; retry_after_ms: the largest retry-after any of them gives (-1: none).
struct PushBack {
  bool throttled = false;
  int64_t retry_after_ms = -1;
};
PushBack FindPushBack(const bson_error_t& err, const bson_t* reply);

// How long to wait before retry number attempt + 1 of a failed write: the server's
// retry-after when it gave one (its advice, not doubled), else BackoffDelayMs(attempt).
int64_t RetryDelayMs(const PushBack& p, int attempt);
// By server code alone (a change stream's or oplog cursor's error code).
bool IsHistoryLostCode(int code);

// Whether a change stream that failed with err (reply: the server's error reply, or null
// or empty for an error without one) may resume from its last resume token, per the
// Change Streams spec ("Resumable Error"): any error without a server reply (network,
// server selection), CursorNotFound, and then on servers of wire version 9 (4.4) or newer
// the ResumableChangeStreamError label, on older ones the spec's list of codes.
bool IsResumableChangeStreamError(const bson_error_t& err, const bson_t* reply, int max_wire_version);

}  // namespace docshift::mongo
