// The one table of what every valued flag of every command accepts (its range), checked
// centrally by ParseCommandFlags on the text of the value before gflags stores it, so a
// command never sees an out-of-range value and an error is one line naming the flag and
// the valid range. `docshift CMD --help` prints each flag's range from this table;
// README.md's "Flag ranges" table is the same list.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace docshift::cli {

enum class FlagKind {
  kInteger,      // a whole number in [min, max]
  kDuration,     // 500ms, 30s, 15m, 24h, 7d or bare seconds; [min, max] in ms
  kSeqOrTime,    // a sequence number in [min, max], or a time (RFC 3339 UTC)
  kTime,         // RFC 3339 UTC or seconds since the epoch
  kClusterTime,  // SECONDS or SECONDS.INCREMENT, not in the future
  kApplyName,    // spool::CheckApplyName
  kChoice,       // one of `choices`
  kSlot,         // I/N, apply slots (spool::ParseSlot)
};

struct FlagRange {
  std::string flag;                   // gflags name, without "--"
  FlagKind kind;
  int64_t min = 0, max = 0;           // kInteger, kSeqOrTime (the number), kDuration (ms)
  bool empty_ok = false;              // "" means unset (the default) and is accepted
  std::vector<std::string> commands;  // the commands this row applies to
  std::vector<std::string> choices;   // kChoice: the accepted values
};

// Every row; a flag may have rows with different ranges for different commands.
const std::vector<FlagRange>& FlagRanges();
// The row for `flag` of `command`, or null when the flag is not ranged there.
const FlagRange* FindFlagRange(std::string_view command, std::string_view flag);
// "1..64", "10ms..1h", "a sequence number 1..9223372036854775807 or a time (RFC 3339 UTC)".
std::string DescribeRange(const FlagRange& r);
// OK if `value` is valid for the row; else InvalidArgument, one line, naming --flag, the
// value and DescribeRange. Never throws.
Status CheckFlagValue(const FlagRange& r, const std::string& value);

// SECONDS or SECONDS.INCREMENT (a cluster time) → (SECONDS << 32) | INCREMENT, refused
// when SECONDS is 0 or after now_ms. `flag` names the input in the message.
StatusOr<uint64_t> ParseClusterTime(const std::string& text, int64_t now_ms,
                                    std::string_view flag);

// Two flags that bound a range, e.g. --from_seq/--until_seq: InvalidArgument naming both
// when lo > hi. Call only when both are set.
Status CheckFlagOrder(std::string_view lo_flag, const std::string& lo_text, int64_t lo,
                      std::string_view hi_flag, const std::string& hi_text, int64_t hi);

}  // namespace docshift::cli
