#include "status/metrics_http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace docshift::status {
namespace {

constexpr int kPollMs = 200;          // how often the loop checks for Stop()
constexpr int kClientTimeoutMs = 1000;
constexpr size_t kMaxRequestBytes = 8192;

std::string Response(const char* code, const char* content_type, const std::string& body) {
  std::string r = std::string("HTTP/1.1 ") + code + "\r\nContent-Type: " + content_type +
                  "\r\nContent-Length: " + std::to_string(body.size()) +
                  "\r\nConnection: close\r\n\r\n";
  return r + body;
}

// Reads the request head (up to the blank line) within the client timeout.
bool ReadRequestHead(int fd, std::string* head) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kClientTimeoutMs);
  char buf[1024];
  while (head->find("\r\n\r\n") == std::string::npos && head->find("\n\n") == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0 || head->size() > kMaxRequestBytes) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return !head->empty();
    head->append(buf, static_cast<size_t>(n));
  }
  return true;
}

void SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, kClientTimeoutMs) <= 0) return;
    const ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace

MetricsServer::MetricsServer(std::function<std::string()> body) {
  Handle("/metrics", [body = std::move(body)] {
    return Reply{"200 OK", "text/plain; version=0.0.4; charset=utf-8", body()};
  });
}

MetricsServer::~MetricsServer() { Stop(); }

void MetricsServer::Handle(const std::string& path, std::function<Reply()> reply) {
  routes_[path] = std::move(reply);
}

Status MetricsServer::Start(const std::string& host, int port) {
  const std::string hp = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                         std::to_string(port);
  if (port < 0 || port > 65535) {
    return Status::InvalidArgument("HTTP port " + std::to_string(port) + " of " + hp + " is not in 1..65535");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0 || !res) {
    return Status::InvalidArgument("HTTP address " + hp + ": host '" + host + "' does not resolve (" +
                                   gai_strerror(rc) + "); give an IP address such as 127.0.0.1");
  }
  sockaddr_storage addr{};
  socklen_t len = static_cast<socklen_t>(res->ai_addrlen);
  std::memcpy(&addr, res->ai_addr, res->ai_addrlen);
  const int family = res->ai_family;
  freeaddrinfo(res);
  const std::string where = "HTTP endpoint " + hp;
  listen_fd_ = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return Status::FromErrno(where + ": socket", errno);
  const int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(listen_fd_, 16) != 0) {
    const int err = errno;
    close(listen_fd_);
    listen_fd_ = -1;
    return Status::FromErrno(where + " (choose another --http_listen or --metrics_port, or leave both unset)", err);
  }
  len = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  char text[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    port_ = ntohs(a6->sin6_port);
    inet_ntop(AF_INET6, &a6->sin6_addr, text, sizeof(text));
    loopback_ = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
    address_ = std::string("[") + text + "]:" + std::to_string(port_);
  } else {
    const auto* a4 = reinterpret_cast<const sockaddr_in*>(&addr);
    port_ = ntohs(a4->sin_port);
    inet_ntop(AF_INET, &a4->sin_addr, text, sizeof(text));
    loopback_ = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
    address_ = std::string(text) + ":" + std::to_string(port_);
  }
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
  return Status::OK();
}

void MetricsServer::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    listen_fd_ = -1;
  }
}

void MetricsServer::Run() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, kPollMs) <= 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    Serve(fd);
    close(fd);
  }
}

void MetricsServer::Serve(int fd) {
  std::string head;
  if (!ReadRequestHead(fd, &head)) return;
  const std::string line = head.substr(0, head.find_first_of("\r\n"));
  // "GET /metrics HTTP/1.1"; a query string is ignored.
  const size_t sp1 = line.find(' ');
  const size_t sp2 = line.find(' ', sp1 == std::string::npos ? 0 : sp1 + 1);
  if (sp1 == std::string::npos) {
    SendAll(fd, Response("400 Bad Request", "text/plain", "bad request\n"));
    return;
  }
  const std::string method = line.substr(0, sp1);
  std::string path = line.substr(sp1 + 1, sp2 == std::string::npos ? std::string::npos : sp2 - sp1 - 1);
  path = path.substr(0, path.find('?'));
  std::string paths;
  for (const auto& r : routes_) paths += (paths.empty() ? "" : " or ") + r.first;
  const auto route = routes_.find(path);
  if (method != "GET" && method != "HEAD") {
    SendAll(fd, Response("405 Method Not Allowed", "text/plain", "only GET " + paths + "\n"));
  } else if (route == routes_.end()) {
    SendAll(fd, Response("404 Not Found", "text/plain", "not found; try GET " + paths + "\n"));
  } else {
    const Reply reply = route->second();
    std::string r = Response(reply.code.c_str(), reply.content_type.c_str(), reply.body);
    if (method == "HEAD") r.resize(r.find("\r\n\r\n") + 4);
    SendAll(fd, r);
  }
}

}  // namespace docshift::status
