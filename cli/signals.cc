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

void ScrubPasswordsFromArgv(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    char* s = argv[i];
    char* scheme = std::strstr(s, "://");
    if (scheme == nullptr) continue;
    char* userinfo = scheme + 3;
    char* at = std::strchr(userinfo, '@');
    char* slash = std::strchr(userinfo, '/');
    if (at == nullptr || (slash != nullptr && slash < at)) continue;
    char* colon = std::strchr(userinfo, ':');
    if (colon == nullptr || colon > at) continue;
    for (char* p = colon + 1; p < at; ++p) *p = 'x';
  }
}

}  // namespace docshift::cli
