#include "util/duration.h"

#include <cctype>

namespace docshift {

StatusOr<int64_t> ParseDurationMs(const std::string& text) {
  size_t i = 0;
  int64_t value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    if (value > (INT64_MAX / 10) - 10) break;
    value = value * 10 + (text[i] - '0');
    ++i;
  }
  const std::string unit = text.substr(i);
  int64_t scale = 0;
  if (unit == "ms") scale = 1;
  else if (unit == "s" || unit.empty()) scale = 1000;
  else if (unit == "m") scale = 60'000;
  else if (unit == "h") scale = 3'600'000;
  else if (unit == "d") scale = 86'400'000;
  if (i == 0 || scale == 0 || value > INT64_MAX / scale) {
    return Status::InvalidArgument("'" + text +
                                   "' is not a duration; use e.g. 500ms, 30s, 15m, 24h or 7d");
  }
  return value * scale;
}

}  // namespace docshift
