#include "spool/slot_name.h"

#include <string_view>

namespace docshift::spool {
namespace {

// A non-negative decimal without sign or leading zeros (but "0"); nullopt otherwise.
std::optional<int> ParseSmall(std::string_view s) {
  if (s.empty() || s.size() > 3 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

StatusOr<SlotSpec> ParseSlot(const std::string& text) {
  const size_t slash = text.find('/');
  std::optional<int> i, n;
  if (slash != std::string::npos) {
    i = ParseSmall(std::string_view(text).substr(0, slash));
    n = ParseSmall(std::string_view(text).substr(slash + 1));
  }
  if (!i || !n) {
    return Status::InvalidArgument("--slot '" + text + "' is not I/N (e.g. --slot 0/3: the first of 3 apply slots)");
  }
  if (*n < 1 || *n > kMaxSlots) {
    return Status::InvalidArgument("--slot " + text + ": N must be between 1 and " + std::to_string(kMaxSlots));
  }
  if (*i >= *n) {
    return Status::InvalidArgument("--slot " + text + ": I must be between 0 and N-1 (" + std::to_string(*n - 1) +
                                   "); slots are numbered from 0");
  }
  return SlotSpec{*i, *n};
}

std::string SlotName(const std::string& name, int index, int count) {
  return name + ".slot-" + std::to_string(index) + "-of-" + std::to_string(count);
}

std::optional<SlotSpec> ParseSlotName(const std::string& name, const std::string& full) {
  const std::string prefix = name + ".slot-";
  if (full.size() <= prefix.size() || full.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  const std::string_view rest = std::string_view(full).substr(prefix.size());
  const size_t of = rest.find("-of-");
  if (of == std::string_view::npos) return std::nullopt;
  const auto i = ParseSmall(rest.substr(0, of));
  const auto n = ParseSmall(rest.substr(of + 4));
  if (!i || !n || *n < 1 || *n > kMaxSlots || *i >= *n) return std::nullopt;
  return SlotSpec{*i, *n};
}

}  // namespace docshift::spool
