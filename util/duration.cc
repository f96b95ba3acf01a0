#include "util/duration.h"

#include <cctype>

namespace docshift {
namespace {

// Digits of text[i..] into *value, false on overflow past `limit` or no digits.
bool ParseDigits(const std::string& text, size_t i, uint64_t limit, uint64_t* value) {
  if (i >= text.size()) return false;
  uint64_t v = 0;
  for (; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
    const uint64_t d = static_cast<uint64_t>(text[i] - '0');
    if (v > (limit - d) / 10) return false;
    v = v * 10 + d;
  }
  *value = v;
  return true;
}

}  // namespace

StatusOr<int64_t> ParseInt64(const std::string& text) {
  const bool neg = !text.empty() && text[0] == '-';
  const size_t start = !text.empty() && (text[0] == '-' || text[0] == '+') ? 1 : 0;
  uint64_t v = 0;
  const uint64_t limit = neg ? uint64_t{1} << 63 : uint64_t{INT64_MAX};
  if (!ParseDigits(text, start, limit, &v)) {
    return Status::InvalidArgument("'" + text + "' is not a whole number from " +
                                   std::to_string(INT64_MIN) + " to " +
                                   std::to_string(INT64_MAX));
  }
  return neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
}

StatusOr<uint64_t> ParseUint64(const std::string& text) {
  const size_t start = !text.empty() && text[0] == '+' ? 1 : 0;
  uint64_t v = 0;
  if (!ParseDigits(text, start, UINT64_MAX, &v)) {
    return Status::InvalidArgument("'" + text + "' is not a whole number from 0 to " +
                                   std::to_string(UINT64_MAX));
  }
  return v;
}

StatusOr<int64_t> ParseDurationMs(const std::string& text) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  const std::string unit = text.substr(i);
  int64_t scale = 0;
  if (unit == "ms") scale = 1;
  else if (unit == "s" || unit.empty()) scale = 1000;
  else if (unit == "m") scale = 60'000;
  else if (unit == "h") scale = 3'600'000;
  else if (unit == "d") scale = 86'400'000;
  uint64_t value = 0;
  if (i == 0 || scale == 0 || !ParseDigits(text.substr(0, i), 0, INT64_MAX / scale, &value)) {
    return Status::InvalidArgument("'" + text +
                                   "' is not a duration; use e.g. 500ms, 30s, 15m, 24h or 7d");
  }
  return static_cast<int64_t>(value) * scale;
}

std::string FormatDurationMs(int64_t ms) {
  struct Unit {
    int64_t scale;
    const char* name;
  };
  for (const Unit& u : {Unit{86'400'000, "d"}, Unit{3'600'000, "h"}, Unit{60'000, "m"},
                        Unit{1000, "s"}}) {
    if (ms != 0 && ms % u.scale == 0) return std::to_string(ms / u.scale) + u.name;
  }
  return std::to_string(ms) + (ms == 0 ? "s" : "ms");
}

}  // namespace docshift
