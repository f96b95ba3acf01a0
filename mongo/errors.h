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

}  // namespace docshift::mongo
