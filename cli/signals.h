// SIGINT/SIGTERM → a stop flag that long-running commands poll, so they finish the batch
// in hand, write their checkpoint or seal, and exit 0. A second signal exits at once
// (nothing is lost: everything acknowledged is already durable).
#pragma once

#include <atomic>

namespace docshift::cli {

const std::atomic<bool>* InstallStopSignals();

// Overwrites the password in any mongodb:// URI in argv with 'x', so `ps` and
// /proc/PID/cmdline stop showing it once flags are parsed.
void ScrubPasswordsFromArgv(int argc, char** argv);

}  // namespace docshift::cli
