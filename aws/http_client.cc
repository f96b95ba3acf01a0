#include "aws/http_client.h"

#include <curl/curl.h>

#include <charconv>
#include <mutex>

#include "aws/text.h"

namespace docshift::aws {
namespace {

struct CurlEasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using CurlEasyPtr = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;

Status GlobalInit() {
  static std::once_flag once;
  static CURLcode rc = CURLE_OK;
  std::call_once(once, [] { rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (rc != CURLE_OK) {
    return Status::Internal(std::string("curl_global_init: ") + curl_easy_strerror(rc));
  }
  return Status::OK();
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && AsciiLower(a) == AsciiLower(b);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// What the libcurl callbacks write into, for one request.
struct Sink {
  HttpResponse* response;
  int64_t max_body;
  bool too_large = false;
};

size_t WriteBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * nmemb;
  if (static_cast<int64_t>(sink->response->body.size() + n) > sink->max_body) {
    sink->too_large = true;
    return 0;  // CURLE_WRITE_ERROR
  }
  sink->response->body.append(data, n);
  return n;
}

size_t WriteHeader(char* data, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * nmemb;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    // A new status line (after a 100 Continue, say): only the final response's headers.
    sink->response->headers.clear();
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;  // the blank line that ends the headers
  sink->response->headers.emplace_back(std::string(Trim(line.substr(0, colon))),
                                       std::string(Trim(line.substr(colon + 1))));
  return n;
}

}  // namespace

std::string Endpoint::HostHeader() const {
  if (default_port) return host;
  return host + ":" + std::to_string(port);
}

std::string Endpoint::BaseUrl() const { return scheme + "://" + HostHeader(); }

StatusOr<Endpoint> ParseEndpoint(std::string_view url) {
  const std::string quoted = "endpoint URL '" + std::string(url) + "'";
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return Status::InvalidArgument(quoted + ": expected scheme://host[:port], e.g. http://127.0.0.1:8000");
  }
  Endpoint ep;
  ep.scheme = AsciiLower(url.substr(0, sep));
  if (ep.scheme != "http" && ep.scheme != "https") {
    return Status::InvalidArgument(quoted + ": the scheme must be http or https");
  }
  std::string_view rest = url.substr(sep + 3);
  const size_t path_at = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_at);
  if (path_at != std::string_view::npos) {
    std::string_view tail = rest.substr(path_at);
    if (tail != "/") {
      return Status::InvalidArgument(quoted + ": a base URL has no path, query or fragment");
    }
  }
  if (authority.find('@') != std::string_view::npos) {
    return Status::InvalidArgument(quoted + ": user information in the URL is not supported");
  }
  std::string_view host = authority, port;
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument(quoted + ": unclosed '['");
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Status::InvalidArgument(quoted + ": bad text after the IPv6 address");
      port = after.substr(1);
      if (port.empty()) return Status::InvalidArgument(quoted + ": empty port");
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return Status::InvalidArgument(quoted + ": empty port");
  }
  if (host.empty() || host == "[]") return Status::InvalidArgument(quoted + ": no host");
  for (char c : host) {
    if (c == ' ' || c == '\t' || c == '%' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      return Status::InvalidArgument(quoted + ": bad character in the host");
    }
  }
  ep.host = AsciiLower(host);
  const int default_port = ep.scheme == "https" ? 443 : 80;
  ep.port = default_port;
  if (!port.empty()) {
    int p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || p < 1 || p > 65535) {
      return Status::InvalidArgument(quoted + ": bad port '" + std::string(port) + "'");
    }
    ep.port = p;
  }
  ep.default_port = ep.port == default_port;
  return ep;
}

std::optional<std::string> HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return std::nullopt;
}

struct HttpClient::Impl {
  HttpClientOptions options;
  CurlEasyPtr curl;
  char error[CURL_ERROR_SIZE];
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

StatusOr<std::unique_ptr<HttpClient>> HttpClient::New(HttpClientOptions options) {
  RETURN_IF_ERROR(GlobalInit());
  CurlEasyPtr curl(curl_easy_init());
  if (!curl) return Status::Internal("curl_easy_init failed");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->curl = std::move(curl);
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

StatusOr<HttpResponse> HttpClient::Send(std::string_view base_url, std::string_view method,
                                        std::string_view path, std::string_view query,
                                        const Headers& headers, std::string_view body) {
  ASSIGN_OR_RETURN(Endpoint ep, ParseEndpoint(base_url));
  return Send(ep, method, path, query, headers, body);
}

StatusOr<HttpResponse> HttpClient::Send(const Endpoint& endpoint, std::string_view method,
                                        std::string_view path, std::string_view query,
                                        const Headers& headers, std::string_view body) {
  const std::string what = "HTTP " + std::string(method) + " " + endpoint.BaseUrl() + std::string(path);
  if (method.empty() || method.find_first_of(" \r\n") != std::string_view::npos) {
    return Status::InvalidArgument(what + ": bad method");
  }
  if (!path.starts_with("/") || path.find_first_of(" \r\n#?") != std::string_view::npos) {
    return Status::InvalidArgument(what + ": the path must start with '/' and be percent-encoded");
  }
  std::string url = endpoint.BaseUrl();
  url += path;
  if (!query.empty()) {
    url += '?';
    url += query;
  }

  CURL* c = impl_->curl.get();
  // Clears the options of the previous request; keeps the live connections.
  curl_easy_reset(c);

  CurlSlistPtr list;
  auto append = [&list](const std::string& line) -> bool {
    curl_slist* next = curl_slist_append(list.get(), line.c_str());
    if (next == nullptr) return false;
    if (next != list.get()) {  // only the first append changes the head
      (void)list.release();
      list.reset(next);
    }
    return true;
  };
  bool has_content_type = false;
  for (const auto& [name, value] : headers) {
    if (EqualsIgnoreCase(name, "content-type")) has_content_type = true;
    if (name.find_first_of(":\r\n") != std::string::npos || value.find_first_of("\r\n") != std::string::npos) {
      // The header name is safe to print; its value never is.
      return Status::InvalidArgument(what + ": header '" + name + "' contains a line break or colon");
    }
    // "Name:" alone would tell libcurl to remove the header; "Name;" sends it empty.
    if (!append(value.empty() ? name + ";" : name + ": " + value)) return Status::Internal("curl_slist_append failed");
  }
  // No "Expect: 100-continue" round trip, and no form Content-Type libcurl would add to
  // a body the caller did not type.
  if (!append("Expect:")) return Status::Internal("curl_slist_append failed");
  if (!has_content_type && !append("Content-Type:")) return Status::Internal("curl_slist_append failed");

  HttpResponse response;
  Sink sink{&response, impl_->options.max_response_bytes};
  impl_->error[0] = '\0';

  const std::string method_str(method);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, impl_->error);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(impl_->options.connect_timeout_ms));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(impl_->options.request_timeout_ms));
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "docshift");
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &WriteHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &sink);
  if (method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (method == "GET" && body.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else if (!body.empty() || method == "POST" || method == "PUT") {
    // POSTFIELDS does not copy: body outlives curl_easy_perform below.
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data());
    if (method != "POST") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method_str.c_str());
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method_str.c_str());
  }

  const CURLcode rc = curl_easy_perform(c);
  // The header list must not be used by the handle after this call.
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  if (rc != CURLE_OK) {
    if (sink.too_large) {
      return Status::Corruption(what + ": response body larger than " +
                                std::to_string(impl_->options.max_response_bytes) + " bytes");
    }
    // The error buffer describes the transfer (host, port, OS error), never headers.
    std::string detail = impl_->error[0] != '\0' ? impl_->error : curl_easy_strerror(rc);
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) detail.pop_back();
    if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
      return Status::InvalidArgument(what + ": " + detail);
    }
    return Status::Unavailable(what + ": " + detail);
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  response.status = status;
  return response;
}

}  // namespace docshift::aws
