#include "apply/slot_routing.h"

#include <bson/bson.h>

#include <cstdlib>

namespace docshift::apply {

uint64_t Fnv1a64(std::string_view bytes, uint64_t h) {
  for (const char c : bytes) {
    h ^= static_cast<uint8_t>(c);
    h *= kFnvPrime;
  }
  return h;
}

uint64_t SlotHash(std::string_view ns, const std::string& document_key, bool by_namespace) {
  uint64_t h = Fnv1a64(ns);
  if (by_namespace) return h;
  h = Fnv1a64(std::string_view("\0", 1), h);
  bson_t b;
  bson_iter_t it;
  const auto* data = reinterpret_cast<const uint8_t*>(document_key.data());
  if (document_key.size() >= 5 && bson_init_static(&b, data, document_key.size()) &&
      bson_validate(&b, BSON_VALIDATE_NONE, nullptr) && bson_iter_init_find(&it, &b, "_id")) {
    // The element as it is in the key: its type byte, then its value bytes (after the name).
    const char type = static_cast<char>(bson_iter_type(&it));
    h = Fnv1a64(std::string_view(&type, 1), h);
    const auto* value = reinterpret_cast<const char*>(it.raw + it.d1);
    return Fnv1a64(std::string_view(value, it.next_off - it.d1), h);
  }
  return Fnv1a64(document_key, h);
}

int SlotOf(std::string_view ns, const std::string& document_key, bool by_namespace, int slot_count) {
  return static_cast<int>(SlotHash(ns, document_key, by_namespace) % static_cast<uint64_t>(slot_count));
}

BarrierDecision DecideBarrier(int my_slot, int owner, uint64_t seq,
                              const std::vector<std::optional<uint64_t>>& checkpoints) {
  BarrierDecision d;
  if (my_slot != owner) {
    const auto& o = checkpoints[static_cast<size_t>(owner)];
    if (o && *o >= seq) {
      d.step = BarrierStep::kPass;
    } else {
      d.waiting_for.push_back(owner);
    }
    return d;
  }
  for (size_t j = 0; j < checkpoints.size(); ++j) {
    if (static_cast<int>(j) == my_slot) continue;
    if (!checkpoints[j] || *checkpoints[j] < seq - 1) d.waiting_for.push_back(static_cast<int>(j));
  }
  d.step = d.waiting_for.empty() ? BarrierStep::kRun : BarrierStep::kWait;
  return d;
}

}  // namespace docshift::apply
