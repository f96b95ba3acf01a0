// Apply slots (`docshift apply --slot I/N`, issue #13): N workers, possibly on different
// machines and built differently, each read the whole spool and write only their share.
// Which share an event is in is decided here, by pure functions (no server, no state),
// unit-tested in slot_routing_test.cc. The hash is part of the spool format
// (spool/FORMAT.md, "Apply slots"), recorded in every slot's checkpoint as kSlotHashName,
// so a worker built with another rule refuses to start rather than route differently.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spool/slot_name.h"
#include "util/status.h"

namespace docshift::apply {

// On disk (ApplyCheckpoint.slot_hash); never change what it names: a new rule gets a new name.
inline constexpr std::string_view kSlotHashName = "fnv1a64-ns-id/1";

// FNV-1a 64 over bytes, continuing from h (start with kFnvOffset).
inline constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
inline constexpr uint64_t kFnvPrime = 0x100000001b3ull;
uint64_t Fnv1a64(std::string_view bytes, uint64_t h = kFnvOffset);

// "fnv1a64-ns-id/1" of an event on target namespace `ns` ("db.coll", after --map):
//   by_namespace (DDL, or a namespace whose target has a secondary unique index):
//     FNV-1a 64 of the namespace's UTF-8 bytes;
//   else FNV-1a 64 of the namespace bytes, one 0x00 byte, then the _id element's BSON
//     type byte and value bytes as they appear in `document_key` (BSON). A key that is
//     not BSON or has no _id hashes its whole bytes in place of type + value (such an
//     event is dead-lettered by every slot's translation anyway; it only needs one owner).
uint64_t SlotHash(std::string_view ns, const std::string& document_key, bool by_namespace);
// The slot (0..slot_count-1) of that hash: SlotHash % slot_count.
int SlotOf(std::string_view ns, const std::string& document_key, bool by_namespace, int slot_count);

// --slot parsing and slot names live in spool/slot_name.h (status reads them too).
using spool::kMaxSlots;
using spool::ParseSlot;
using spool::ParseSlotName;
using spool::SlotName;
using spool::SlotSpec;

// The DDL barrier (issue #13). An event at `seq` that every slot must see applied in
// order (a DDL) is run by its owner (the slot of its namespace alone). Given this slot,
// the owner and what the store holds for every slot's checkpoint (applied_seq, or nullopt
// when the slot has written none yet), what this slot does now:
//   kRun   (owner): every other slot's checkpoint is >= seq - 1: run the DDL, then write
//          a checkpoint >= seq.
//   kPass  (not owner): the owner's checkpoint is >= seq: the DDL is done; go on.
//   kWait  otherwise; `waiting_for` names the slots it waits for (a slot without a
//          checkpoint counts as behind). Poll again later; never skip.
// REQUIRES: 0 <= my_slot, owner < checkpoints.size(); seq >= 1. The caller has drained
// its lanes and written its own checkpoint at seq - 1 before asking.
enum class BarrierStep { kWait, kRun, kPass };
struct BarrierDecision {
  BarrierStep step = BarrierStep::kWait;
  std::vector<int> waiting_for;
};
BarrierDecision DecideBarrier(int my_slot, int owner, uint64_t seq,
                              const std::vector<std::optional<uint64_t>>& checkpoints);

}  // namespace docshift::apply
