#include "bucket/retention.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include "spool/slot_name.h"

namespace docshift::bucket {
namespace {

// The first sequence every reader may still need (everything below it may go as far as
// readers are concerned), and who sets it.
struct Floor {
  uint64_t keep_from = std::numeric_limits<uint64_t>::max();
  std::string who;
  void Lower(uint64_t seq, std::string why) {
    if (seq < keep_from) {
      keep_from = seq;
      who = std::move(why);
    }
  }
};

}  // namespace

RetentionDecision DecideBucketRetention(const RetentionInput& in) {
  RetentionDecision d;
  const LogState& log = *in.log;
  if (log.segments.size() <= 1) return d;  // (d): the newest always stays
  if (in.checkpoints.empty()) {
    d.no_checkpoint = true;
    d.held_by = "no apply checkpoint in the bucket yet (an apply may still start from the beginning)";
    return d;
  }
  Floor floor;
  // (b) and the snapshot a checkpoint restarts from.
  for (const pb::SnapshotState& s : in.snapshots) {
    if (s.finished_wall_ms() == 0) {
      floor.Lower(s.start_seq() + 1, "unfinished snapshot " + s.snapshot_id() + " (its apply starts at seq " +
                                         std::to_string(s.start_seq() + 1) + ")");
    }
  }
  // (a) every checkpoint, and every slot of a slot set.
  std::map<std::string, std::set<uint32_t>> slots_seen;  // "NAME/N" -> slot indexes present
  std::map<std::string, std::string> slot_base;          // "NAME/N" -> NAME
  for (const spool::NamedCheckpoint& c : in.checkpoints) {
    uint64_t next = c.ckpt.applied_seq() + 1;
    std::string why = "checkpoint '" + c.name + "' has applied up to seq " + std::to_string(c.ckpt.applied_seq());
    for (const pb::SnapshotState& s : in.snapshots) {
      if (c.ckpt.snapshot_id() != s.snapshot_id() && s.start_seq() + 1 < next) {
        next = s.start_seq() + 1;
        why = "checkpoint '" + c.name + "', which restarts after snapshot " + s.snapshot_id() + " at seq " +
              std::to_string(next);
      }
    }
    floor.Lower(next, why);
    const uint32_t n = c.ckpt.slot_count();
    if (n > 0) {
      const std::string suffix = spool::SlotName("", static_cast<int>(c.ckpt.slot_index()), static_cast<int>(n));
      std::string base = c.name;
      if (base.size() > suffix.size() && base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0) {
        base.resize(base.size() - suffix.size());
      }
      const std::string key = base + "/" + std::to_string(n);
      slots_seen[key].insert(c.ckpt.slot_index());
      slot_base[key] = base;
    }
  }
  for (const auto& [key, seen] : slots_seen) {
    const uint32_t n = static_cast<uint32_t>(std::stoul(key.substr(key.rfind('/') + 1)));
    for (uint32_t i = 0; i < n; ++i) {
      if (seen.count(i) == 0) {
        floor.Lower(1, "slot " + std::to_string(i) + "/" + std::to_string(n) + " of apply '" + slot_base[key] +
                           "' has no checkpoint yet (it starts from the beginning)");
        break;
      }
    }
  }
  for (size_t i = 0; i + 1 < log.segments.size(); ++i) {
    const pb::SegmentSealed& seg = log.segments[i];
    if (seg.last_seq() >= floor.keep_from) {
      d.held_by = floor.who;
      return d;
    }
    auto t = log.committed_wall_ms.find(seg.first_seq());
    if (t == log.committed_wall_ms.end() || in.now_ms - t->second <= in.retention_ms) {
      d.held_by = "segment " + seg.file_name() + " was committed less than the retention window ago";
      return d;
    }
    d.deletable = i + 1;
  }
  return d;
}

}  // namespace docshift::bucket
