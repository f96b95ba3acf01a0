#include "cli/signals.h"

#include <csignal>
#include <cstring>
#include <unistd.h>

namespace docshift::cli {
namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) {
  if (g_stop.exchange(true)) _exit(130);
  const char msg[] = "docshift: stopping (signal again to exit at once)\n";
  (void)!write(2, msg, sizeof(msg) - 1);
}

}  // namespace

const std::atomic<bool>* InstallStopSignals() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return &g_stop;
}

void RequestStop() { g_stop = true; }

}  // namespace docshift::cli
