#include "mongo/errors.h"

#include <mongoc/mongoc.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "util/backoff.h"

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
    {262, ErrorClass::kThrottled, "ExceededTimeLimit"},
    {50, ErrorClass::kThrottled, "MaxTimeMSExpired (Cosmos DB: server-side retry gave up)"},
    {64, ErrorClass::kThrottled, "WriteConcernFailed"},
    {16500, ErrorClass::kThrottled, "TooManyRequests (Azure Cosmos DB: request rate is large)"},
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
    {"Request rate is large", ErrorClass::kThrottled, "Azure Cosmos DB (16500)"},
    {"TooManyRequests", ErrorClass::kThrottled, "Azure Cosmos DB (16500, HTTP 429)"},
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
    case ErrorClass::kThrottled: return "throttled";
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

bool IsTransient(const bson_error_t& err) {
  const ErrorClass c = Classify(err);
  return c == ErrorClass::kTransient || c == ErrorClass::kThrottled;
}

bool IsThrottled(const bson_error_t& err) { return Classify(err) == ErrorClass::kThrottled; }

int64_t RetryAfterMs(std::string_view message) {
  static constexpr std::string_view kKey = "retryafterms";
  for (size_t i = 0; i + kKey.size() <= message.size(); ++i) {
    size_t k = 0;
    while (k < kKey.size() && std::tolower(static_cast<unsigned char>(message[i + k])) == kKey[k]) ++k;
    if (k < kKey.size()) continue;
    size_t j = i + k;
    while (j < message.size() && message[j] == ' ') ++j;
    if (j >= message.size() || (message[j] != '=' && message[j] != ':')) continue;
    ++j;
    while (j < message.size() && message[j] == ' ') ++j;
    int64_t v = -1;
    while (j < message.size() && std::isdigit(static_cast<unsigned char>(message[j]))) {
      v = std::min<int64_t>(3'600'000, (v < 0 ? 0 : v) * 10 + (message[j] - '0'));
      ++j;
    }
    if (v >= 0) return v;
  }
  return -1;
}

namespace {

void Note(PushBack* p, uint32_t code, std::string_view message) {
  bson_error_t e{};
  e.domain = MONGOC_ERROR_SERVER;
  e.code = code;
  const size_t n = std::min(message.size(), sizeof(e.message) - 1);
  std::memcpy(e.message, message.data(), n);
  e.message[n] = '\0';
  if (!IsThrottled(e)) return;
  p->throttled = true;
  p->retry_after_ms = std::max(p->retry_after_ms, RetryAfterMs(message));
}

// {code, errmsg} of one entry of writeErrors / writeConcernErrors, or a writeConcernError.
void NoteEntry(PushBack* p, bson_iter_t* doc) {
  bson_iter_t f;
  uint32_t code = 0;
  std::string_view msg;
  if (!bson_iter_recurse(doc, &f)) return;
  while (bson_iter_next(&f)) {
    const char* key = bson_iter_key(&f);
    if (std::strcmp(key, "code") == 0) {
      code = static_cast<uint32_t>(bson_iter_as_int64(&f));
    } else if (std::strcmp(key, "errmsg") == 0 && BSON_ITER_HOLDS_UTF8(&f)) {
      uint32_t len = 0;
      const char* s = bson_iter_utf8(&f, &len);
      msg = std::string_view(s, len);
    }
  }
  Note(p, code, msg);
}

}  // namespace

PushBack FindPushBack(const bson_error_t& err, const bson_t* reply) {
  PushBack p;
  if (IsThrottled(err)) {
    p.throttled = true;
    p.retry_after_ms = RetryAfterMs(err.message);
  }
  if (reply == nullptr) return p;
  bson_iter_t it, arr;
  for (const char* key : {"writeErrors", "writeConcernErrors"}) {
    if (bson_iter_init_find(&it, reply, key) && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &arr)) {
      while (bson_iter_next(&arr)) {
        if (BSON_ITER_HOLDS_DOCUMENT(&arr)) NoteEntry(&p, &arr);
      }
    }
  }
  if (bson_iter_init_find(&it, reply, "writeConcernError") && BSON_ITER_HOLDS_DOCUMENT(&it)) NoteEntry(&p, &it);
  return p;
}

int64_t RetryDelayMs(const PushBack& p, int attempt) {
  if (p.throttled && p.retry_after_ms >= 0) return std::max<int64_t>(1, p.retry_after_ms);
  return BackoffDelayMs(attempt);
}

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
