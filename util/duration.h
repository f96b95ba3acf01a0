// Numbers and human durations for flags, parsed without exceptions: "500ms", "30s", "15m",
// "24h", "7d", or a bare number of seconds; decimal integers with an optional sign.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "util/status.h"

namespace docshift {

// InvalidArgument naming the text and the accepted forms if it does not parse.
StatusOr<int64_t> ParseDurationMs(const std::string& text);
// "90000" → "90s", "3600000" → "1h": the largest unit that divides the value exactly.
std::string FormatDurationMs(int64_t ms);

// A whole decimal number ("-12", "+7", "300"): no spaces, no hex, no fraction.
// InvalidArgument naming the text and the representable range if it does not parse or
// does not fit. Never throws.
StatusOr<int64_t> ParseInt64(const std::string& text);
StatusOr<uint64_t> ParseUint64(const std::string& text);

// Wall-clock time, ms since the Unix epoch.
inline int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace docshift
