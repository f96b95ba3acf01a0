#include "mongo/errors.h"

#include <mongoc/mongoc.h>

#include <cstring>

namespace docshift::mongo {
namespace {

struct CodeRow {
  int code;
  ErrorClass cls;
  const char* name;
};

// Server codes (src/mongo/base/error_codes.yml).
constexpr CodeRow kCodes[] = {
    {6, ErrorClass::kTransient, "HostUnreachable"},
    {7, ErrorClass::kTransient, "HostNotFound"},
    {89, ErrorClass::kTransient, "NetworkTimeout"},
    {91, ErrorClass::kTransient, "ShutdownInProgress"},
    {189, ErrorClass::kTransient, "PrimarySteppedDown"},
    {262, ErrorClass::kTransient, "ExceededTimeLimit"},
    {9001, ErrorClass::kTransient, "SocketException"},
    {10107, ErrorClass::kTransient, "NotWritablePrimary"},
    {11600, ErrorClass::kTransient, "InterruptedAtShutdown"},
    {11602, ErrorClass::kTransient, "InterruptedDueToReplStateChange"},
    {13435, ErrorClass::kTransient, "NotPrimaryNoSecondaryOk"},
    {13436, ErrorClass::kTransient, "NotPrimaryOrSecondary"},
    {11000, ErrorClass::kDuplicateKey, "DuplicateKey"},
    {11001, ErrorClass::kDuplicateKey, "DuplicateKey (legacy)"},
    {26, ErrorClass::kNamespaceNotFound, "NamespaceNotFound"},
    {27, ErrorClass::kNamespaceNotFound, "IndexNotFound"},
    {48, ErrorClass::kNamespaceExists, "NamespaceExists"},
    {68, ErrorClass::kNamespaceExists, "IndexAlreadyExists"},
    {136, ErrorClass::kHistoryLost, "CappedPositionLost"},
    {280, ErrorClass::kHistoryLost, "ChangeStreamFatalError"},
    {286, ErrorClass::kHistoryLost, "ChangeStreamHistoryLost"},
    {59, ErrorClass::kUnsupported, "CommandNotFound"},
    {115, ErrorClass::kUnsupported, "CommandNotSupported"},
    {238, ErrorClass::kUnsupported, "NotImplemented"},
    {40324, ErrorClass::kUnsupported, "Unrecognized pipeline stage name"},
    {10334, ErrorClass::kTooLarge, "BSONObjectTooLarge"},
    {17419, ErrorClass::kTooLarge, "BSONObjectTooLarge (aggregation result)"},
};

struct TextRow {
  const char* text;
  ErrorClass cls;
  const char* server;
};

// Conditions some servers report without their code.
constexpr TextRow kTexts[] = {
    {"duplicate key", ErrorClass::kDuplicateKey, "FerretDB on PostgreSQL (code 1)"},
    {"ns not found", ErrorClass::kNamespaceNotFound, "FerretDB, mongo-java-server (drop)"},
    {"does not exist", ErrorClass::kNamespaceNotFound, "FerretDB (renameCollection)"},
    {"index not found", ErrorClass::kNamespaceNotFound, "FerretDB (dropIndexes)"},
};

}  // namespace

ErrorClass Classify(const bson_error_t& err) {
  if (err.domain == MONGOC_ERROR_STREAM || err.domain == MONGOC_ERROR_SERVER_SELECTION ||
      err.domain == MONGOC_ERROR_PROTOCOL) {
    return ErrorClass::kTransient;  // the connection, not the request
  }
  for (const CodeRow& r : kCodes) {
    if (static_cast<int>(err.code) == r.code) return r.cls;
  }
  for (const TextRow& r : kTexts) {
    if (std::strstr(err.message, r.text) != nullptr) return r.cls;
  }
  return ErrorClass::kPermanent;
}

std::string_view ErrorClassName(ErrorClass c) {
  switch (c) {
    case ErrorClass::kTransient: return "transient";
    case ErrorClass::kDuplicateKey: return "duplicate key";
    case ErrorClass::kNamespaceNotFound: return "namespace not found";
    case ErrorClass::kNamespaceExists: return "namespace exists";
    case ErrorClass::kHistoryLost: return "history lost";
    case ErrorClass::kUnsupported: return "unsupported";
    case ErrorClass::kTooLarge: return "too large";
    case ErrorClass::kPermanent: return "permanent";
  }
  return "permanent";
}

bool IsTransient(const bson_error_t& err) { return Classify(err) == ErrorClass::kTransient; }

bool IsHistoryLostCode(int code) {
  for (const CodeRow& r : kCodes) {
    if (code == r.code) return r.cls == ErrorClass::kHistoryLost;
  }
  return false;
}

bool IsResumableChangeStreamError(const bson_error_t& err, const bson_t* reply, int max_wire_version) {
  if (err.domain == MONGOC_ERROR_STREAM || err.domain == MONGOC_ERROR_SERVER_SELECTION ||
      err.domain == MONGOC_ERROR_PROTOCOL || reply == nullptr || bson_empty(reply)) {
    return true;  // not a server error
  }
  if (err.code == 43) return true;  // CursorNotFound
  if (max_wire_version >= 9) return mongoc_error_has_label(reply, "ResumableChangeStreamError");
  // The spec's list for servers before 4.4 (HostUnreachable ... FailedToSatisfyReadPreference).
  static constexpr int kResumable[] = {6,     7,     89,    91,    189,   262, 9001, 10107, 11600,
                                       11602, 13435, 13436, 63,    150,   13388, 234, 133};
  for (int c : kResumable) {
    if (static_cast<int>(err.code) == c) return true;
  }
  return false;
}

}  // namespace docshift::mongo
