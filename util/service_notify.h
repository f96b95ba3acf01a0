// Tells a service manager (systemd, `Type=notify`) how the process is doing, through the
// sd_notify protocol (libsystemd): READY=1 once the service does its work, STATUS= one line
// of progress, WATCHDOG=1 keep-alives, STOPPING=1 when a stop begins.
//
// Every function is a no-op when NOTIFY_SOCKET is unset (not started by a service manager),
// and a failed send is ignored (it never stops docshift). The environment is left as it
// is. Thread safe: each call is one datagram; WatchdogPing's rate limit is an atomic.
#pragma once

#include <cstdint>
#include <string>

namespace docshift {

// READY=1 and STATUS=status.
void NotifyReady(const std::string& status);
// STATUS=status (shown by `systemctl status`). Newlines are replaced by spaces.
void NotifyStatus(const std::string& status);
// STOPPING=1 and STATUS=status.
void NotifyStopping(const std::string& status);
// WATCHDOG=1 when the service manager asked for keep-alives (WATCHDOG_USEC set, and
// WATCHDOG_PID unset or this process), at most once every third of the interval, so a
// loop may call it on every turn. Call it only from the loop whose progress it vouches for.
void WatchdogPing();
// The keep-alive interval the service manager asked for, in microseconds (0: none).
uint64_t WatchdogIntervalUs();

}  // namespace docshift
