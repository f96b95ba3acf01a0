#include "mongo/mongo_util.h"

#include <glog/logging.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

namespace docshift::mongo {

namespace {

// libmongoc's own log lines go through glog: warnings and errors as warnings (VLOG(1) for
// the noisy ones), debug and trace only with --v=2.
void LogHandler(mongoc_log_level_t level, const char* domain, const char* raw, void*) {
  const std::string message = ScrubCredentials(raw);
  switch (level) {
    case MONGOC_LOG_LEVEL_ERROR:
    case MONGOC_LOG_LEVEL_CRITICAL:
      LOG(WARNING) << "libmongoc " << domain << ": " << message;
      break;
    case MONGOC_LOG_LEVEL_WARNING:
      // e.g. "Couldn't send endSessions" against servers without sessions (FerretDB).
      VLOG(1) << "libmongoc " << domain << ": " << message;
      break;
    default:
      VLOG(2) << "libmongoc " << domain << ": " << message;
  }
}

}  // namespace

void EarlyLogHandler(mongoc_log_level_t level, const char* domain, const char* message,
                     void* user_data) {
  // The shared-memory counters are only for mongoc-stat; malloc'ed counters are fine.
  if (level == MONGOC_LOG_LEVEL_WARNING && std::strstr(message, "for counters") != nullptr) return;
  mongoc_log_default_handler(level, domain, ScrubCredentials(message).c_str(), user_data);
}

void InitOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    mongoc_log_set_handler(LogHandler, nullptr);
    mongoc_init();
    std::atexit([] { mongoc_cleanup(); });
  });
}

bool IsFerretDB(mongoc_client_t* client) {
  bson_t cmd = BSON_INITIALIZER;
  BSON_APPEND_INT32(&cmd, "buildInfo", 1);
  bson_t reply;
  bool ferret = false;
  if (mongoc_client_command_simple(client, "admin", &cmd, nullptr, &reply, nullptr)) {
    bson_iter_t it;
    ferret = bson_iter_init_find(&it, &reply, "ferretdbVersion");
    if (!ferret && bson_iter_init_find(&it, &reply, "version") && BSON_ITER_HOLDS_UTF8(&it)) {
      ferret = std::strstr(bson_iter_utf8(&it, nullptr), "FerretDB") != nullptr;
    }
  }
  bson_destroy(&reply);
  bson_destroy(&cmd);
  return ferret;
}

int UpdateStatementCap(mongoc_client_t* client, int connections) {
  return IsFerretDB(client) ? std::max(1, 32 / std::max(1, connections)) : 0;
}

const char* const kCredentialOptions[] = {
    "tlsCertificateKeyFilePassword", "sslClientCertificateKeyPassword",
    "sslCertificateKeyFilePassword", "tlsCertificateKeyPassword", "authMechanismProperties",
    nullptr};

namespace {

bool EndsToken(char c) {
  return std::isspace(static_cast<unsigned char>(c)) || c == '"' || c == '\'' || c == '`' ||
         c == '<' || c == '>';
}

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// Case-insensitive find of `needle` in `text` from `from`.
size_t FindNoCase(std::string_view text, std::string_view needle, size_t from) {
  for (size_t i = from; i + needle.size() <= text.size(); ++i) {
    size_t k = 0;
    while (k < needle.size() && Lower(text[i + k]) == Lower(needle[k])) ++k;
    if (k == needle.size()) return i;
  }
  return std::string_view::npos;
}

}  // namespace

std::vector<std::pair<size_t, size_t>> CredentialSpans(std::string_view text) {
  std::vector<std::pair<size_t, size_t>> spans;
  // userinfo passwords: scheme://user:PASSWORD@hosts/...; the userinfo ends at the last
  // '@' before the options ('?'), so an '@' inside the password is covered too.
  for (size_t p = text.find("://"); p != std::string_view::npos; p = text.find("://", p + 3)) {
    const size_t start = p + 3;
    size_t end = start;
    while (end < text.size() && !EndsToken(text[end])) ++end;
    const std::string_view token = text.substr(start, end - start);
    const size_t q = std::min(token.find('?'), token.size());
    const size_t at = token.rfind('@', q == 0 ? 0 : q - 1);
    if (at == std::string_view::npos || q == 0) continue;
    const size_t colon = token.find(':');
    if (colon == std::string_view::npos || colon > at || colon + 1 == at) continue;
    spans.emplace_back(start + colon + 1, start + at);
  }
  // Credential options: NAME=VALUE in a URI, or NAME": "VALUE / NAME: VALUE in a message.
  for (const char* const* opt = kCredentialOptions; *opt != nullptr; ++opt) {
    const std::string_view name(*opt);
    for (size_t i = FindNoCase(text, name, 0); i != std::string_view::npos;
         i = FindNoCase(text, name, i + name.size())) {
      if (i > 0 && std::isalnum(static_cast<unsigned char>(text[i - 1]))) continue;
      size_t v = i + name.size();
      while (v < text.size() && (text[v] == '"' || text[v] == '\'')) ++v;
      if (v >= text.size() || (text[v] != '=' && text[v] != ':')) continue;
      ++v;
      while (v < text.size() && (text[v] == ' ' || text[v] == '"' || text[v] == '\'')) ++v;
      size_t e = v;
      while (e < text.size() && text[e] != '&' && !EndsToken(text[e])) ++e;
      if (e > v) spans.emplace_back(v, e);
    }
  }
  std::sort(spans.begin(), spans.end());
  std::vector<std::pair<size_t, size_t>> merged;
  for (const auto& s : spans) {
    if (!merged.empty() && s.first <= merged.back().second) {
      merged.back().second = std::max(merged.back().second, s.second);
    } else {
      merged.push_back(s);
    }
  }
  return merged;
}

std::string ScrubCredentials(std::string_view text) {
  std::string out;
  size_t pos = 0;
  for (const auto& [b, e] : CredentialSpans(text)) {
    out.append(text.substr(pos, b - pos));
    out += "***";
    pos = e;
  }
  out.append(text.substr(pos));
  return out;
}

std::string RedactUri(const std::string& uri) { return ScrubCredentials(uri); }

void ScrubCredentialsInPlace(char* s) {
  const std::string_view text(s);
  for (const auto& [b, e] : CredentialSpans(text)) std::memset(s + b, 'x', e - b);
}

int32_t ApplyStallTimeout(mongoc_uri_t* uri, int32_t default_ms) {
  if (mongoc_uri_has_option(uri, MONGOC_URI_SOCKETTIMEOUTMS)) {
    // libmongoc reads 0 as "its own default" (5 minutes), and so does this.
    return mongoc_uri_get_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, MONGOC_DEFAULT_SOCKETTIMEOUTMS);
  }
  mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, default_ms);
  return default_ms;
}

uint64_t SourceClusterTime(mongoc_client_t* client, int margin_s) {
  bson_t cmd = BSON_INITIALIZER;
  BSON_APPEND_INT32(&cmd, "isMaster", 1);  // not hello: mongo-java-server has none
  bson_t reply;
  bson_error_t err;
  uint64_t ts = 0;
  if (mongoc_client_command_simple(client, "admin", &cmd, nullptr, &reply, &err)) {
    bson_iter_t it;
    uint32_t t = 0, i = 0;
    if (bson_iter_init_find(&it, &reply, "operationTime") && BSON_ITER_HOLDS_TIMESTAMP(&it)) {
      bson_iter_timestamp(&it, &t, &i);
      ts = (static_cast<uint64_t>(t) << 32) | i;
    } else if (bson_iter_init(&it, &reply) &&
               bson_iter_find_descendant(&it, "$clusterTime.clusterTime", &it) &&
               BSON_ITER_HOLDS_TIMESTAMP(&it)) {
      bson_iter_timestamp(&it, &t, &i);
      ts = (static_cast<uint64_t>(t) << 32) | i;
    } else if (bson_iter_init_find(&it, &reply, "localTime") && BSON_ITER_HOLDS_DATE_TIME(&it)) {
      const int64_t s = bson_iter_date_time(&it) / 1000 - margin_s;
      if (s > 0) ts = static_cast<uint64_t>(s) << 32;
    }
  }
  bson_destroy(&reply);
  bson_destroy(&cmd);
  return ts;
}

bool IsStallTimeout(const bson_error_t& err) {
  // libmongoc: "Failed to read 4 bytes: socket error or timeout" / "Failed to send ...".
  return err.domain == MONGOC_ERROR_STREAM && err.code == MONGOC_ERROR_STREAM_SOCKET;
}

StatusOr<UriPtr> ParseUri(const std::string& uri, std::string_view what) {
  InitOnce();
  bson_error_t err;
  mongoc_uri_t* u = mongoc_uri_new_with_error(uri.c_str(), &err);
  if (u == nullptr) {
    // libmongoc may quote the input or an option; never echo a credential.
    std::string msg = err.message;
    const std::string redacted = RedactUri(uri);
    if (redacted != uri) {
      for (size_t p; (p = msg.find(uri)) != std::string::npos;) msg.replace(p, uri.size(), redacted);
    }
    return Status::InvalidArgument(std::string(what) + ": '" + redacted +
                                   "' is not a valid MongoDB connection string (" +
                                   ScrubCredentials(msg) + "); expected e.g. mongodb://host:27017/");
  }
  return UriPtr(u);
}

std::string EndpointIdentity(const mongoc_uri_t* uri, std::string_view kind) {
  std::vector<std::string> hosts;
  for (const mongoc_host_list_t* h = mongoc_uri_get_hosts(uri); h; h = h->next)
    hosts.push_back(h->host_and_port);
  std::sort(hosts.begin(), hosts.end());
  std::string id(kind);
  id += ":";
  for (size_t i = 0; i < hosts.size(); ++i) {
    if (i) id += ",";
    id += hosts[i];
  }
  if (const char* rs = mongoc_uri_get_replica_set(uri)) {
    id += "/rs=";
    id += rs;
  }
  return id;
}

StatusOr<PoolPtr> NewPool(const mongoc_uri_t* uri, int max_size) {
  InitOnce();
  mongoc_client_pool_t* p = mongoc_client_pool_new(uri);
  if (p == nullptr) return Status::InvalidArgument("cannot create a client pool for this URI");
  mongoc_client_pool_set_error_api(p, MONGOC_ERROR_API_VERSION_2);
  mongoc_client_pool_set_appname(p, "docshift");
  mongoc_client_pool_max_size(p, static_cast<uint32_t>(max_size));
  return PoolPtr(p);
}

Status Ping(mongoc_client_t* client, std::string_view what) {
  bson_t cmd = BSON_INITIALIZER;
  BSON_APPEND_INT32(&cmd, "ping", 1);
  bson_error_t err;
  bool ok = mongoc_client_command_simple(client, "admin", &cmd, nullptr, nullptr, &err);
  bson_destroy(&cmd);
  if (!ok) return FromBsonError(err, std::string(what) + " is not reachable");
  return Status::OK();
}

StartFailure ClassifyStartFailure(const bson_error_t& err, bool tls, bool client_cert) {
  const std::string_view msg(err.message);
  if (msg.find("TLS handshake failed") != std::string_view::npos ||
      (err.domain == MONGOC_ERROR_CLIENT && err.code == MONGOC_ERROR_CLIENT_AUTHENTICATE)) {
    return StartFailure::kFatal;
  }
  if (!tls || client_cert) return StartFailure::kWait;
  // A server that drops a TLS session for want of a client certificate is read by
  // libmongoc 1.23 as "Failed to receive length header from server." (a pooled client:
  // "Failed to read 4 bytes"), now and then as "connection closed", which is also what a
  // closed port reads as over TLS.
  if (msg.find("Failed to receive length header") != std::string_view::npos ||
      msg.find("Failed to read") != std::string_view::npos) {
    return StartFailure::kNeedsClientCert;
  }
  if (msg.find("connection closed") != std::string_view::npos) return StartFailure::kTryAgain;
  return StartFailure::kWait;
}

Status PingAtStart(mongoc_client_t* client, std::string_view what) {
  const mongoc_uri_t* uri = mongoc_client_get_uri(client);
  const bool tls = mongoc_uri_get_tls(uri);
  const bool client_cert = mongoc_uri_get_option_as_utf8(uri, MONGOC_URI_TLSCERTIFICATEKEYFILE, nullptr) != nullptr;
  const std::string context = std::string(what) + " is not reachable: ";
  // One try per attempt even where the URI says serverSelectionTryOnce=false (else a
  // closed port would cost serverSelectionTimeoutMS here and again in Ping).
  UriPtr once(mongoc_uri_copy(uri));
  mongoc_uri_set_option_as_bool(once.get(), MONGOC_URI_SERVERSELECTIONTRYONCE, true);
  // At most 3 attempts, each one connection, no wait between them: only kTryAgain repeats.
  for (int attempt = 0; attempt < 3; ++attempt) {
    ClientPtr probe(mongoc_client_new_from_uri(once.get()));
    if (probe == nullptr) break;
    mongoc_client_set_error_api(probe.get(), MONGOC_ERROR_API_VERSION_2);
    bson_t cmd = BSON_INITIALIZER;
    BSON_APPEND_INT32(&cmd, "ping", 1);
    bson_error_t err;
    const bool ok = mongoc_client_command_simple(probe.get(), "admin", &cmd, nullptr, nullptr, &err);
    bson_destroy(&cmd);
    if (ok) break;
    const StartFailure f = ClassifyStartFailure(err, tls, client_cert);
    if (f == StartFailure::kFatal) return Status::Unavailable(context + ScrubCredentials(err.message));
    if (f == StartFailure::kNeedsClientCert) {
      return Status::Unavailable(context + ScrubCredentials(err.message) +
                                 " (the server closed the connection after the TLS handshake: "
                                 "it may require a client certificate; add tlsCertificateKeyFile=PATH)");
    }
    if (f == StartFailure::kWait) break;
  }
  return Ping(client, what);
}

Status FromBsonError(const bson_error_t& err, std::string_view context) {
  std::string m(context);
  m += ": ";
  m += ScrubCredentials(err.message);
  if (err.code != 0 && err.domain == MONGOC_ERROR_SERVER) m += " (code " + std::to_string(err.code) + ")";
  if (IsTransient(err)) return Status::Unavailable(m);
  return Status::Internal(m);
}

BsonPtr FromJson(std::string_view json) {
  bson_error_t err;
  bson_t* b = bson_new_from_json(reinterpret_cast<const uint8_t*>(json.data()),
                                 static_cast<ssize_t>(json.size()), &err);
  return BsonPtr(b);
}

std::string ToJson(const bson_t* b) {
  size_t len = 0;
  char* s = bson_as_relaxed_extended_json(b, &len);
  if (!s) return "<invalid BSON>";
  std::string out(s, len);
  bson_free(s);
  return out;
}

bool ViewBytes(const std::string& bytes, bson_t* out) {
  if (bytes.empty()) return false;
  return bson_init_static(out, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

std::string SubdocBytes(const bson_iter_t* it) {
  if (!BSON_ITER_HOLDS_DOCUMENT(it) && !BSON_ITER_HOLDS_ARRAY(it)) return {};
  uint32_t len = 0;
  const uint8_t* data = nullptr;
  if (BSON_ITER_HOLDS_DOCUMENT(it)) {
    bson_iter_document(it, &len, &data);
  } else {
    bson_iter_array(it, &len, &data);
  }
  return std::string(reinterpret_cast<const char*>(data), len);
}

namespace {
void CollectFieldsOfType(bson_iter_t* it, const std::string& prefix, bson_type_t t, size_t max,
                         std::vector<std::string>* out) {
  while (out->size() < max && bson_iter_next(it)) {
    const std::string path = prefix + bson_iter_key(it);
    if (bson_iter_type(it) == t) out->push_back(path);
    if (BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it)) {
      bson_iter_t child;
      if (bson_iter_recurse(it, &child)) CollectFieldsOfType(&child, path + ".", t, max, out);
    }
  }
}
}  // namespace

std::vector<std::string> FieldsOfType(const bson_t* doc, bson_type_t t, size_t max) {
  std::vector<std::string> out;
  bson_iter_t it;
  if (doc != nullptr && bson_iter_init(&it, doc)) CollectFieldsOfType(&it, "", t, max, &out);
  return out;
}

std::string IterUtf8(const bson_iter_t* it) {
  uint32_t len = 0;
  const char* s = bson_iter_utf8(it, &len);
  return std::string(s, len);
}

std::string Bytes(const bson_t* b) {
  return std::string(reinterpret_cast<const char*>(bson_get_data(b)), b->len);
}

}  // namespace docshift::mongo
