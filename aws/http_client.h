// A small HTTP/1.1 client over libcurl, generic enough for the DynamoDB JSON protocol
// (POST) and the S3 spool (GET/PUT/HEAD/DELETE with headers).
//
// One HttpClient owns one CURL easy handle, so consecutive requests to the same host
// reuse the connection (keep-alive; libcurl keeps a small connection cache per handle).
// The caller builds and signs the headers (aws/sigv4.h): Send() adds none that matter
// to a signature — it sends exactly the given headers, plus libcurl's unsigned
// User-Agent and Accept, and suppresses "Expect: 100-continue". Redirects are not
// followed. curl_global_init runs once per process (std::call_once) on first New().
//
// Secrets: no message built here contains a header value or the query string (a
// presigned URL would carry a signature there); errors name the method, the endpoint
// and the path only.
//
// Thread safety: an HttpClient is used by one thread at a time. Distinct HttpClients may
// be used from distinct threads. ParseEndpoint is a pure function.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "aws/sigv4.h"  // Headers
#include "util/status.h"

namespace docshift::aws {

// A base URL taken apart: "http://127.0.0.1:27105" -> {http, 127.0.0.1, 27105}.
struct Endpoint {
  std::string scheme;  // "http" or "https", lower case.
  std::string host;    // Lower case; an IPv6 literal keeps its brackets ("[::1]").
  int port = 0;        // Explicit, or the scheme's default (80, 443).
  bool default_port = true;

  // The Host header value: "host" when the port is the scheme's default, else "host:port".
  std::string HostHeader() const;
  // "scheme://host[:port]", no trailing slash: for messages and for building URLs.
  std::string BaseUrl() const;
};

// Parses "scheme://host[:port][/]". Errors: InvalidArgument naming the URL for a missing
// or unsupported scheme, an empty host, a bad port, userinfo ("user@"), a query or
// fragment, or a path other than "/" (a base URL with a path prefix is not supported).
StatusOr<Endpoint> ParseEndpoint(std::string_view url);

struct HttpResponse {
  long status = 0;  // HTTP status code.
  // Response headers of the final response, names as received, in order.
  Headers headers;
  std::string body;

  // The first header named `name` (case-insensitive), or nullopt.
  std::optional<std::string> Header(std::string_view name) const;
};

struct HttpClientOptions {
  int64_t connect_timeout_ms = 10'000;
  int64_t request_timeout_ms = 60'000;  // The whole request, connect included.
  // A larger response body fails the request (Corruption): every length is bounded.
  int64_t max_response_bytes = int64_t{256} << 20;
};

class HttpClient {
 public:
  // Errors: Internal when libcurl cannot be initialised.
  static StatusOr<std::unique_ptr<HttpClient>> New(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request to endpoint + path (+ "?" + query when not empty) and returns the
  // answer, whatever its HTTP status: a 4xx or 5xx is a response, not an error.
  // `path` starts with '/' and is sent as given (already percent-encoded); `headers`
  // should contain Host (endpoint.HostHeader()) when signed. A body is sent for any
  // method when not empty, and always for POST and PUT.
  // Errors: Unavailable when no complete answer came (refused, reset, DNS, TLS, timeout),
  // naming the method, the endpoint and the path; Corruption for a response body larger
  // than max_response_bytes; InvalidArgument for a method or path libcurl refuses.
  StatusOr<HttpResponse> Send(const Endpoint& endpoint, std::string_view method,
                              std::string_view path, std::string_view query,
                              const Headers& headers, std::string_view body);
  // The same with the endpoint given as a base URL (parsed by ParseEndpoint).
  StatusOr<HttpResponse> Send(std::string_view base_url, std::string_view method,
                              std::string_view path, std::string_view query,
                              const Headers& headers, std::string_view body);

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace docshift::aws
