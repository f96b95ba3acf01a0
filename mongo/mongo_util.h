// Thin RAII and helpers over libmongoc/libbson shared by capture, apply and the tools
// that talk to a database. Never logs a URI with its password: use RedactUri.
#pragma once

#include <bson/bson.h>
#include <mongoc/mongoc.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mongo/errors.h"
#include "util/status.h"

namespace docshift::mongo {

struct BsonFree {
  void operator()(bson_t* b) const { bson_destroy(b); }
};
using BsonPtr = std::unique_ptr<struct _bson_t, BsonFree>;  // the tag: bson_t carries an alignment attribute
struct UriFree {
  void operator()(mongoc_uri_t* u) const { mongoc_uri_destroy(u); }
};
using UriPtr = std::unique_ptr<mongoc_uri_t, UriFree>;
struct PoolFree {
  void operator()(mongoc_client_pool_t* p) const { mongoc_client_pool_destroy(p); }
};
using PoolPtr = std::unique_ptr<mongoc_client_pool_t, PoolFree>;
struct ClientFree {
  void operator()(mongoc_client_t* c) const { mongoc_client_destroy(c); }
};
using ClientPtr = std::unique_ptr<mongoc_client_t, ClientFree>;
struct CollFree {
  void operator()(mongoc_collection_t* c) const { mongoc_collection_destroy(c); }
};
using CollPtr = std::unique_ptr<mongoc_collection_t, CollFree>;
struct CursorFree {
  void operator()(mongoc_cursor_t* c) const { mongoc_cursor_destroy(c); }
};
using CursorPtr = std::unique_ptr<mongoc_cursor_t, CursorFree>;
struct StreamFree {
  void operator()(mongoc_change_stream_t* c) const { mongoc_change_stream_destroy(c); }
};
using StreamPtr = std::unique_ptr<mongoc_change_stream_t, StreamFree>;
struct BulkFree {
  void operator()(mongoc_bulk_operation_t* b) const { mongoc_bulk_operation_destroy(b); }
};
using BulkPtr = std::unique_ptr<mongoc_bulk_operation_t, BulkFree>;

// The handler cli/main.cc installs before libmongoc's library constructor runs: drops the
// shared-memory counters warning (harmless, and printed where /dev/shm is read-only),
// passes everything else to libmongoc's default handler. InitOnce() replaces it.
void EarlyLogHandler(mongoc_log_level_t level, const char* domain, const char* message,
                     void* user_data);

// The server identifies as FerretDB (buildInfo carries ferretdbVersion)? False when the
// command fails.
bool IsFerretDB(mongoc_client_t* client);

// Most update statements per "update" command for `connections` concurrent writers: 0 (no
// limit), except 32 / connections on a FerretDB server. FerretDB v1.24's update handler
// keeps every statement's query (a pooled backend connection) open until the command
// ends and needs one more per statement; statements in flight beyond its pool (SQLite
// 100 per database, PostgreSQL 50) deadlock it (tests/README.md). docshift apply and the
// bench's plain bulk client share this rule.
int UpdateStatementCap(mongoc_client_t* client, int connections);

// Calls mongoc_init once per process (and registers cleanup at exit).
void InitOnce();

// Parses a connection string. InvalidArgument (credentials redacted) if malformed.
// `what` names the input for the message, e.g. "--source".
StatusOr<UriPtr> ParseUri(const std::string& uri, std::string_view what);

// Credentials in connection strings: the userinfo password (mongodb://user:PASSWORD@host)
// and the value of every credential-bearing URI option, matched case-insensitively
// (kCredentialOptions: tlsCertificateKeyFilePassword, sslClientCertificateKeyPassword,
// authMechanismProperties, which carries AWS_SESSION_TOKEN, ...).
extern const char* const kCredentialOptions[];
// [begin, end) byte ranges of every credential in `text`: in each "scheme://" URI in it
// (up to whitespace or a quote), and after each credential option name followed by '='
// or ':' (libmongoc's messages quote options that way), up to '&', whitespace or a quote.
std::vector<std::pair<size_t, size_t>> CredentialSpans(std::string_view text);
// The URI with every credential replaced by "***", for logs, errors and status.
std::string RedactUri(const std::string& uri);
// The same for any text that may echo a URI or an option (error and log messages).
std::string ScrubCredentials(std::string_view text);
// Overwrites every credential in the NUL-terminated string with 'x', keeping its length
// (argv, so `ps` and /proc/PID/cmdline stop showing them).
void ScrubCredentialsInPlace(char* s);

// How long capture and apply let a read or write go unanswered before they treat the
// connection as stalled (a black-holed network path, a hung server): the connection is
// dropped, the failure logged once as a warning, and the work retried on a new one.
// libmongoc's own default is 5 minutes, during which nothing is said. Above every
// legitimate wait (a change stream's 500 ms await, the oplog's --oplog_max_await).
inline constexpr int32_t kDefaultStallTimeoutMs = 60'000;
// Sets socketTimeoutMS to default_ms unless the URI sets it; returns the value in effect.
int32_t ApplyStallTimeout(mongoc_uri_t* uri, int32_t default_ms = kDefaultStallTimeoutMs);
// The source's own clock, as a cluster timestamp ((seconds << 32) | increment) for
// startAtOperationTime: the reply's operationTime (replica sets, sharded clusters), else
// the server's localTime minus margin_s (servers that report no cluster time). 0 when the
// server answers neither. Positions come from here, never from this host's clock: a host
// clock ahead of the source would start a stream after events it must capture.
uint64_t SourceClusterTime(mongoc_client_t* client, int margin_s = 2);

// Whether err is a read or write that went unanswered for socketTimeoutMS.
bool IsStallTimeout(const bson_error_t& err);
// A stable, credential-free identity: "<kind>:<host:port,...sorted>[/rs=<set>]".
std::string EndpointIdentity(const mongoc_uri_t* uri, std::string_view kind);

// A client pool for a URI (thread-safe pop/push), with our app name set.
StatusOr<PoolPtr> NewPool(const mongoc_uri_t* uri, int max_size);
// Pops a client, returns it to the pool when destroyed.
class PooledClient {
 public:
  explicit PooledClient(mongoc_client_pool_t* pool)
      : pool_(pool), client_(mongoc_client_pool_pop(pool)) {}
  ~PooledClient() {
    if (client_) mongoc_client_pool_push(pool_, client_);
  }
  PooledClient(const PooledClient&) = delete;
  PooledClient& operator=(const PooledClient&) = delete;
  mongoc_client_t* get() const { return client_; }

 private:
  mongoc_client_pool_t* pool_;
  mongoc_client_t* client_;
};

// Pings the server ("ping" on admin). Unavailable naming the redacted endpoint if not
// reachable within the client's server selection timeout.
Status Ping(mongoc_client_t* client, std::string_view what);

// Ping for a command's first connection: first one attempt on a connection of its own
// (serverSelectionTryOnce), which ends at once where waiting cannot help: a TLS handshake
// refused (wrong CA, expired or misnamed certificate), authentication refused, or, on a
// TLS URI without tlsCertificateKeyFile, the server dropping the connection right after
// the handshake (a server requiring a client certificate does that): Unavailable naming
// the redacted endpoint, with a hint for the last. Anything else (refused, timed out)
// falls through to Ping on `client`, which waits up to serverSelectionTimeoutMS.
Status PingAtStart(mongoc_client_t* client, std::string_view what);
// How PingAtStart reads its attempt's error: kFatal (TLS handshake or authentication
// refused), kNeedsClientCert (on a TLS URI without tlsCertificateKeyFile, the session
// dropped right after the handshake), kTryAgain (the same without the telltale read error:
// "connection closed", which a closed port reads as too), kWait (anything else: leave it
// to the pool's server selection).
enum class StartFailure { kFatal, kNeedsClientCert, kTryAgain, kWait };
StartFailure ClassifyStartFailure(const bson_error_t& err, bool tls, bool client_cert);

// Maps a libmongoc error to a Status: network/selection errors are Unavailable (retry),
// the rest carry the server's code and message.
Status FromBsonError(const bson_error_t& err, std::string_view context);
// IsTransient and the rest of the error classification: mongo/errors.h.

// BSON helpers.
BsonPtr FromJson(std::string_view json);  // REQUIRES: valid JSON (tests, constants)
std::string ToJson(const bson_t* b);       // relaxed Extended JSON
// Wraps bytes without copying; false if they are not a BSON document.
bool ViewBytes(const std::string& bytes, bson_t* out);
// Raw bytes of the subdocument at iter (no re-encoding). Empty if not a document.
std::string SubdocBytes(const bson_iter_t* it);
std::string Bytes(const bson_t* b);
// Dotted paths (arrays by index: "a.2.b") of the first max fields of doc holding a value
// of type t, in document order. doc may be null (none).
std::vector<std::string> FieldsOfType(const bson_t* doc, bson_type_t t, size_t max);
// The UTF-8 string *it holds (embedded NULs kept). REQUIRES: BSON_ITER_HOLDS_UTF8(it).
std::string IterUtf8(const bson_iter_t* it);

}  // namespace docshift::mongo
