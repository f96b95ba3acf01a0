// Human durations for flags: "500ms", "30s", "15m", "24h", "7d", or a bare number of
// seconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "util/status.h"

namespace docshift {

// InvalidArgument naming the text and the accepted forms if it does not parse.
StatusOr<int64_t> ParseDurationMs(const std::string& text);

// Wall-clock time, ms since the Unix epoch.
inline int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace docshift
