#include "cli/signals.h"

#include <fcntl.h>
#include <glog/logging.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "util/service_notify.h"

namespace docshift::cli {
namespace {

std::atomic<bool> g_stop{false};
int g_pipe[2] = {-1, -1};  // handlers write one byte: 'S' stop, 'H' hangup

void OnStopSignal(int) {
  if (g_stop.exchange(true)) _exit(130);
  const char msg[] = "docshift: stopping (signal again to exit at once)\n";
  (void)!write(2, msg, sizeof(msg) - 1);
  (void)!write(g_pipe[1], "S", 1);
}

void OnHangup(int) { (void)!write(g_pipe[1], "H", 1); }

// glog's own naming of a log file, up to the time and pid it appends:
// <dir>/docshift.<host>.<user>.log.<SEVERITY>.
std::string LogBase(const std::string& dir, int severity) {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) std::strcpy(host, "(unknown)");
  std::string user;
  if (const char* u = std::getenv("USER"); u != nullptr && *u != '\0') {
    user = u;
  } else if (const passwd* pw = getpwuid(geteuid()); pw != nullptr) {
    user = pw->pw_name;
  } else {
    user = "invalid-user";
  }
  return dir + "docshift." + host + "." + user + ".log." + google::GetLogSeverityName(severity) + ".";
}

// SIGHUP. glog reopens a file only when its base name changes, and names a new file by
// the time it is created (to the second, opened O_EXCL): the base name alternates between
// DIR/ and DIR/./ (the same directory), and a rotation waits until a second has passed
// since the previous one.
void RotateLogs() {
  if (FLAGS_log_dir.empty() || FLAGS_logtostderr) {
    LOG(INFO) << "SIGHUP: logs go to stderr: flushed, no file to reopen";
    google::FlushLogFiles(google::GLOG_INFO);
    return;
  }
  static int generation = 0;
  static auto last = std::chrono::steady_clock::time_point{};
  const auto since = std::chrono::steady_clock::now() - last;
  if (generation > 0 && since < std::chrono::milliseconds(1100)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1100) - since);
  }
  LOG(INFO) << "SIGHUP: closing this log file; logging goes on in a new file in " << FLAGS_log_dir;
  google::FlushLogFiles(google::GLOG_INFO);
  ++generation;
  const std::string dir = FLAGS_log_dir + (generation % 2 == 1 ? "/./" : "/");
  for (int sev = google::GLOG_INFO; sev < google::NUM_SEVERITIES; ++sev) {
    google::SetLogDestination(sev, LogBase(dir, sev).c_str());
  }
  last = std::chrono::steady_clock::now();
  LOG(INFO) << "SIGHUP: new log file started (rotation " << generation << ")";
  google::FlushLogFiles(google::GLOG_INFO);
}

void SignalThread() {
  for (;;) {
    char c;
    const ssize_t n = read(g_pipe[0], &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    if (c == 'S') {
      NotifyStopping("stopping: finishing the batch in hand");
    } else if (c == 'H') {
      RotateLogs();
    }
  }
}

}  // namespace

const std::atomic<bool>* InstallStopSignals() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (pipe2(g_pipe, O_CLOEXEC) != 0) PLOG(FATAL) << "signals: pipe";
    // A full pipe (thousands of signals unread) drops the byte instead of blocking a handler.
    fcntl(g_pipe[1], F_SETFL, fcntl(g_pipe[1], F_GETFL) | O_NONBLOCK);
    std::thread(SignalThread).detach();
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_handler = OnStopSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    // A HUP must not turn a blocking call elsewhere into EINTR where it can be avoided.
    sa.sa_handler = OnHangup;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, nullptr);
  });
  return &g_stop;
}

void RequestStop() { g_stop = true; }

}  // namespace docshift::cli
