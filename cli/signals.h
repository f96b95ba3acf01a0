// SIGINT/SIGTERM → a stop flag that long-running commands poll, so they finish the batch
// in hand, write their checkpoint or seal, and exit 0. A second signal exits at once
// (nothing is lost: everything acknowledged is already durable).
#pragma once

#include <atomic>

namespace docshift::cli {

const std::atomic<bool>* InstallStopSignals();
// Sets the stop flag as a first signal would (for a helper thread that must stop the
// command, e.g. capture's shipper).
void RequestStop();

}  // namespace docshift::cli
