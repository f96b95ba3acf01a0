// Human durations for flags: "500ms", "30s", "15m", "24h", "7d", or a bare number of
// seconds.
#pragma once

#include <string>

#include "util/status.h"

namespace docshift {

// InvalidArgument naming the text and the accepted forms if it does not parse.
StatusOr<int64_t> ParseDurationMs(const std::string& text);

}  // namespace docshift
