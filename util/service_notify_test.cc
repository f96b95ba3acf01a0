#include "util/service_notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace docshift {
namespace {

// A stand-in for systemd's notification socket: a bound Unix datagram socket.
class NotifySocket {
 public:
  NotifySocket() {
    path_ = "/tmp/docshift_notify_test." + std::to_string(getpid());
    unlink(path_.c_str());
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path_.c_str());
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  }
  ~NotifySocket() {
    close(fd_);
    unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }
  // Every datagram received so far.
  std::vector<std::string> Take() {
    std::vector<std::string> out;
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd_, buf, sizeof(buf), 0)) > 0) out.emplace_back(buf, static_cast<size_t>(n));
    return out;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

TEST(ServiceNotifyTest, NoOpWithoutASocketThenTheProtocolsMessages) {
  NotifySocket sock;
  unsetenv("NOTIFY_SOCKET");
  setenv("WATCHDOG_USEC", "3000000", 1);
  unsetenv("WATCHDOG_PID");
  NotifyReady("not sent");
  WatchdogPing();
  EXPECT_EQ(WatchdogIntervalUs(), 0u);
  EXPECT_TRUE(sock.Take().empty());

  setenv("NOTIFY_SOCKET", sock.path().c_str(), 1);
  EXPECT_EQ(WatchdogIntervalUs(), 3000000u);
  NotifyReady("capture: ready: 2 source stream(s) open");
  NotifyStatus("line one\nline two");
  WatchdogPing();
  WatchdogPing();  // within a third of the interval: not sent again
  NotifyStopping("stopping");
  EXPECT_EQ(sock.Take(), (std::vector<std::string>{"READY=1\nSTATUS=capture: ready: 2 source stream(s) open",
                                                   "STATUS=line one line two", "WATCHDOG=1",
                                                   "STOPPING=1\nSTATUS=stopping"}));
  // The environment is left as it was.
  EXPECT_NE(std::getenv("NOTIFY_SOCKET"), nullptr);
  EXPECT_NE(std::getenv("WATCHDOG_USEC"), nullptr);
  unsetenv("NOTIFY_SOCKET");
}

}  // namespace
}  // namespace docshift
