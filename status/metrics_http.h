// A minimal HTTP server for Prometheus and progress: `GET /metrics` (and any path added
// with Handle, e.g. /progress), 404 for any other path, 405 for other methods. It listens
// on 127.0.0.1 unless given another address (--http_listen). One thread polls the
// listening socket and serves
// one connection at a time (a scrape every few seconds needs no more); a client that
// stalls is dropped after a second, and Stop() returns within ~200 ms, so the server
// never holds up shutdown.
//
// Thread safety: Start/Stop from one thread. The body function runs on the server's
// thread and must be thread safe.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "util/status.h"

namespace docshift::status {

class MetricsServer {
 public:
  // body(): the text served for GET /metrics (Prometheus text exposition format).
  explicit MetricsServer(std::function<std::string()> body);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  struct Reply {
    std::string code = "200 OK";  // "503 Service Unavailable", ...
    std::string content_type;
    std::string body;
  };
  // Serves GET path with reply() (on the server's thread; must be thread safe).
  // REQUIRES: before Start.
  void Handle(const std::string& path, std::function<Reply()> reply);

  // Listens on 127.0.0.1:port (0: any free port, see port()) and starts serving.
  // IOError naming the port if it cannot listen (e.g. already in use).
  Status Start(int port) { return Start("127.0.0.1", port); }
  // Listens on host (a numeric IPv4 or IPv6 address, or a name resolved once: the first
  // address it has) and port. InvalidArgument for a bad port or a host that does not
  // resolve; IOError naming the address if it cannot listen.
  Status Start(const std::string& host, int port);
  // Whether the address listened on is a loopback one (127.0.0.0/8, ::1), after Start.
  bool loopback() const { return loopback_; }
  // The address listened on, "127.0.0.1:9464" or "[::]:9464", after Start.
  const std::string& address() const { return address_; }
  // Stops serving and closes the socket. Idempotent.
  void Stop();
  // The port listened on (after Start).
  int port() const { return port_; }

 private:
  void Run();
  void Serve(int fd);

  std::map<std::string, std::function<Reply()>> routes_;
  int listen_fd_ = -1;
  int port_ = 0;
  bool loopback_ = true;
  std::string address_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace docshift::status
