// Apply slot names (`apply --slot I/N`, issue #13): slot I of N of apply NAME writes its
// checkpoint, dead letters and status file under NAME.slot-I-of-N. Here, not in apply/,
// because status reads them too (and the spool library knows nothing of MongoDB).
#pragma once

#include <optional>
#include <string>

#include "util/status.h"

namespace docshift::spool {

inline constexpr int kMaxSlots = 64;

// "I/N" → (I, N), 1 <= N <= kMaxSlots, 0 <= I < N. InvalidArgument naming --slot otherwise.
struct SlotSpec {
  int index = 0;
  int count = 0;  // 0: no --slot
};
StatusOr<SlotSpec> ParseSlot(const std::string& text);
// The checkpoint (and dead-letter, status file) name of a slot: "NAME.slot-I-of-N".
std::string SlotName(const std::string& name, int index, int count);
// Parses "NAME.slot-I-of-N" for this NAME: the (index, count) if `full` is a slot name of
// it, nullopt otherwise.
std::optional<SlotSpec> ParseSlotName(const std::string& name, const std::string& full);

}  // namespace docshift::spool
