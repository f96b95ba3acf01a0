#include "util/service_notify.h"

#include <systemd/sd-daemon.h>

#include <atomic>
#include <chrono>
#include <cstdlib>

namespace docshift {
namespace {

bool Enabled() {
  const char* s = std::getenv("NOTIFY_SOCKET");
  return s != nullptr && *s != '\0';
}

std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

void Send(const std::string& message) {
  if (!Enabled()) return;
  (void)sd_notify(/*unset_environment=*/0, message.c_str());
}

int64_t SteadyUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

void NotifyReady(const std::string& status) { Send("READY=1\nSTATUS=" + OneLine(status)); }

void NotifyStatus(const std::string& status) { Send("STATUS=" + OneLine(status)); }

void NotifyStopping(const std::string& status) { Send("STOPPING=1\nSTATUS=" + OneLine(status)); }

uint64_t WatchdogIntervalUs() {
  if (!Enabled()) return 0;
  static const uint64_t interval = [] {
    uint64_t us = 0;
    return sd_watchdog_enabled(/*unset_environment=*/0, &us) > 0 ? us : 0;
  }();
  return interval;
}

void WatchdogPing() {
  const uint64_t interval = WatchdogIntervalUs();
  if (interval == 0) return;
  static std::atomic<int64_t> last_us{0};
  const int64_t now = SteadyUs();
  int64_t last = last_us.load();
  if (last != 0 && now - last < static_cast<int64_t>(interval / 3)) return;
  if (!last_us.compare_exchange_strong(last, now)) return;  // another thread just pinged
  Send("WATCHDOG=1");
}

}  // namespace docshift
