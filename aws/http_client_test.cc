#include "aws/http_client.h"
#include "util/test_util.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

namespace docshift::aws {
namespace {

TEST(ParseEndpoint, Good) {
  struct Case {
    const char* url;
    const char* scheme;
    const char* host;
    int port;
    const char* host_header;
  } cases[] = {
      {"http://127.0.0.1:27105", "http", "127.0.0.1", 27105, "127.0.0.1:27105"},
      {"http://127.0.0.1:27105/", "http", "127.0.0.1", 27105, "127.0.0.1:27105"},
      {"https://dynamodb.us-east-1.amazonaws.com", "https", "dynamodb.us-east-1.amazonaws.com", 443,
       "dynamodb.us-east-1.amazonaws.com"},
      {"HTTPS://Example.COM:443", "https", "example.com", 443, "example.com"},
      {"http://localhost:80", "http", "localhost", 80, "localhost"},
      {"http://localhost:443", "http", "localhost", 443, "localhost:443"},
      {"https://localhost:80", "https", "localhost", 80, "localhost:80"},
      {"http://[::1]:8000", "http", "[::1]", 8000, "[::1]:8000"},
      {"http://[::1]", "http", "[::1]", 80, "[::1]"},
  };
  for (const auto& c : cases) {
    auto ep = ParseEndpoint(c.url);
    ASSERT_TRUE(ep.ok()) << c.url << ": " << ep.status().ToString();
    EXPECT_EQ(ep->scheme, c.scheme) << c.url;
    EXPECT_EQ(ep->host, c.host) << c.url;
    EXPECT_EQ(ep->port, c.port) << c.url;
    EXPECT_EQ(ep->HostHeader(), c.host_header) << c.url;
    EXPECT_EQ(ep->BaseUrl(), std::string(c.scheme) + "://" + c.host_header) << c.url;
  }
}

TEST(ParseEndpoint, Bad) {
  for (const char* url : {"", "127.0.0.1:8000", "ftp://host", "http://", "http://:80", "http://host:",
                          "http://host:0", "http://host:65536", "http://host:12x", "http://user:pw@host",
                          "http://host/prefix", "http://host?x=1", "http://host#f", "http://[::1",
                          "http://[::1]x", "http://ho st"}) {
    auto ep = ParseEndpoint(url);
    EXPECT_TRUE(!ep.ok() && ep.status().IsInvalidArgument()) << "'" << url << "' parsed";
    if (!ep.ok()) {
      EXPECT_NE(ep.status().message().find("endpoint URL"), std::string::npos) << ep.status().ToString();
    }
  }
}

TEST(HttpResponse, HeaderIsCaseInsensitive) {
  HttpResponse r;
  r.headers = {{"Content-Type", "a"}, {"x-amzn-RequestId", "b"}, {"content-type", "c"}};
  EXPECT_EQ(r.Header("content-TYPE").value_or(""), "a");
  EXPECT_EQ(r.Header("X-Amzn-Requestid").value_or(""), "b");
  EXPECT_FALSE(r.Header("missing").has_value());
}

using test_util::UnusedPort;

TEST(HttpClient, RefusedIsUnavailableNamingTheEndpointNotTheHeaders) {
  auto client = HttpClient::New({.connect_timeout_ms = 2000, .request_timeout_ms = 5000});
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  const std::string url = "http://127.0.0.1:" + std::to_string(UnusedPort());
  Headers headers = {{"Authorization", "AWS4-HMAC-SHA256 SECRETSIG"}, {"X-Amz-Security-Token", "TOKENVALUE"}};
  auto r = (*client)->Send(url, "POST", "/", "a=b", headers, "{}");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsUnavailable()) << r.status().ToString();
  EXPECT_NE(r.status().message().find(url), std::string::npos) << r.status().ToString();
  EXPECT_EQ(r.status().message().find("SECRETSIG"), std::string::npos);
  EXPECT_EQ(r.status().message().find("TOKENVALUE"), std::string::npos);
  EXPECT_EQ(r.status().message().find("a=b"), std::string::npos);
}

TEST(HttpClient, RejectsLineBreaksInHeaders) {
  auto client = HttpClient::New();
  ASSERT_TRUE(client.ok());
  auto r = (*client)->Send("http://127.0.0.1:1", "GET", "/", "", {{"X-A", "v\r\nInjected: 1"}}, "");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
  EXPECT_EQ(r.status().message().find("Injected"), std::string::npos);
}

// A one-shot HTTP server on a loopback port: reads one request (headers + Content-Length
// body), answers `reply`, and keeps the request text for the test.
class OneShotServer {
 public:
  explicit OneShotServer(std::string reply) : reply_(std::move(reply)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    EXPECT_EQ(listen(fd_, 4), 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~OneShotServer() {
    thread_.join();
    close(fd_);
  }
  int port() const { return port_; }
  // Valid after the response was received.
  const std::string& request() const { return request_; }

 private:
  void Serve() {
    int c = accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    char buf[4096];
    size_t want = std::string::npos;
    while (true) {
      ssize_t n = read(c, buf, sizeof(buf));
      if (n <= 0) break;
      request_.append(buf, static_cast<size_t>(n));
      const size_t end = request_.find("\r\n\r\n");
      if (end != std::string::npos && want == std::string::npos) {
        size_t cl = 0;
        const size_t p = request_.find("Content-Length: ");
        if (p != std::string::npos && p < end) cl = std::stoul(request_.substr(p + 16));
        want = end + 4 + cl;
      }
      if (want != std::string::npos && request_.size() >= want) break;
    }
    (void)!write(c, reply_.data(), reply_.size());
    close(c);
  }

  std::string reply_;
  int fd_ = -1, port_ = 0;
  std::string request_;
  std::thread thread_;
};

TEST(HttpClient, SendsHeadersAndBodyReadsStatusHeadersAndBody) {
  OneShotServer server(
      "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.0\r\n"
      "x-amzn-ErrorType: ValidationException\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
  auto client = HttpClient::New();
  ASSERT_TRUE(client.ok());
  auto ep = ParseEndpoint("http://127.0.0.1:" + std::to_string(server.port()));
  ASSERT_TRUE(ep.ok());
  auto r = (*client)->Send(*ep, "POST", "/a%20b", "x=1", {{"Host", ep->HostHeader()}, {"X-Amz-Target", "T.Op"}},
                           "{\"k\":1}");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->Header("x-amzn-errortype").value_or(""), "ValidationException");
  const std::string& req = server.request();
  EXPECT_TRUE(req.starts_with("POST /a%20b?x=1 HTTP/1.1\r\n")) << req;
  EXPECT_NE(req.find("Host: " + ep->HostHeader() + "\r\n"), std::string::npos) << req;
  EXPECT_NE(req.find("X-Amz-Target: T.Op\r\n"), std::string::npos) << req;
  EXPECT_EQ(req.find("Expect:"), std::string::npos) << req;
  EXPECT_EQ(req.find("Content-Type:"), std::string::npos) << req;  // none given, none added
  EXPECT_TRUE(req.ends_with("\r\n\r\n{\"k\":1}")) << req;
}

TEST(HttpClient, PutAndGet) {
  {
    OneShotServer server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    auto client = HttpClient::New();
    ASSERT_TRUE(client.ok());
    auto r = (*client)->Send("http://127.0.0.1:" + std::to_string(server.port()), "PUT", "/bucket/key", "",
                             {{"Content-Type", "application/octet-stream"}}, "DATA");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(server.request().starts_with("PUT /bucket/key HTTP/1.1\r\n")) << server.request();
    EXPECT_TRUE(server.request().ends_with("\r\n\r\nDATA")) << server.request();
  }
  {
    OneShotServer server("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
    auto client = HttpClient::New();
    ASSERT_TRUE(client.ok());
    auto r = (*client)->Send("http://127.0.0.1:" + std::to_string(server.port()), "GET", "/k", "", {}, "");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->body, "abc");
    EXPECT_TRUE(server.request().starts_with("GET /k HTTP/1.1\r\n")) << server.request();
  }
}

TEST(HttpClient, BodyLargerThanTheLimitIsCorruption) {
  OneShotServer server("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789");
  auto client = HttpClient::New({.max_response_bytes = 4});
  ASSERT_TRUE(client.ok());
  auto r = (*client)->Send("http://127.0.0.1:" + std::to_string(server.port()), "GET", "/", "", {}, "");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
}

}  // namespace
}  // namespace docshift::aws
