// A minimal HTTP server for Prometheus: `GET /metrics` on 127.0.0.1 only, 404 for any
// other path, 405 for other methods. One thread polls the listening socket and serves
// one connection at a time (a scrape every few seconds needs no more); a client that
// stalls is dropped after a second, and Stop() returns within ~200 ms, so the server
// never holds up shutdown.
//
// Thread safety: Start/Stop from one thread. The body function runs on the server's
// thread and must be thread safe.
#pragma once

#include <atomic>
#include <functional>
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

  // Listens on 127.0.0.1:port (0: any free port, see port()) and starts serving.
  // IOError naming the port if it cannot listen (e.g. already in use).
  Status Start(int port);
  // Stops serving and closes the socket. Idempotent.
  void Stop();
  // The port listened on (after Start).
  int port() const { return port_; }

 private:
  void Run();
  void Serve(int fd);

  std::function<std::string()> body_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace docshift::status
