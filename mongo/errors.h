// One classification of the errors MongoDB-API servers return, used by every retry and
// recovery decision in capture, apply and snapshot (instead of codes and message texts
// checked where each error is handled). By server code first; a few servers report some
// conditions with other codes and a message text only (FerretDB on PostgreSQL reports a
// duplicate key as code 1 with PostgreSQL's message: tests/README.md): those texts are in
// this one table, each naming the server it is for.
#pragma once

#include <bson/bson.h>

#include <string_view>

namespace docshift::mongo {

enum class ErrorClass {
  kTransient,          // network, failover, shutdown, time limit: retry with backoff
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

// Whether retrying later can succeed (the same as Classify(err) == kTransient).
bool IsTransient(const bson_error_t& err);
// By server code alone (a change stream's or oplog cursor's error code).
bool IsHistoryLostCode(int code);

// Whether a change stream that failed with err (reply: the server's error reply, or null
// or empty for an error without one) may resume from its last resume token, per the
// Change Streams spec ("Resumable Error"): any error without a server reply (network,
// server selection), CursorNotFound, and then on servers of wire version 9 (4.4) or newer
// the ResumableChangeStreamError label, on older ones the spec's list of codes.
bool IsResumableChangeStreamError(const bson_error_t& err, const bson_t* reply, int max_wire_version);

}  // namespace docshift::mongo
