// Signals of the long-running commands (capture, apply, snapshot, ship, ...):
//   SIGINT/SIGTERM  a stop flag that they poll, so they finish the batch in hand, write
//                   their checkpoint or seal, and exit 0; a service manager is told
//                   STOPPING=1. A second signal exits at once (nothing is lost:
//                   everything acknowledged is already durable).
//   SIGHUP          flush the logs and, with --log_dir, close the log files and continue
//                   in new ones (glog names each file by its start time and pid, so there
//                   is no file to reopen in place: a rotator moves or compresses the closed
//                   ones). Never stops the process and re-reads nothing. At most one
//                   rotation a second; HUPs arriving meanwhile are folded into one.
// Both are handled off the signal handler, on a thread of their own (self-pipe).
#pragma once

#include <atomic>

namespace docshift::cli {

// Installs the handlers above (once; later calls return the same flag).
const std::atomic<bool>* InstallStopSignals();
// Sets the stop flag as a first signal would (for a helper thread that must stop the
// command, e.g. capture's shipper).
void RequestStop();

}  // namespace docshift::cli
