// Where an apply starts and stops: the --from/--until points, parsed and checked against
// each other and against the spool. Pure code (no I/O): RunApply reads the spool's range
// and passes it in.
//
// Rules (README, apply):
// - A point is a sequence number ("123") or a source time (RFC 3339 UTC).
// - --from must name an event the spool holds: a sequence in first..last, or a time no
//   later than the newest event's. Past the end, before a pruned start, or in an empty
//   spool it is refused (InvalidArgument naming the flag and the spool's range).
// - --until must leave at least one event: not below --from (or the spool's first
//   event), not before the first event's time.
// - A replay (--from given) neither starts from the checkpoint nor writes it: the name's
//   checkpoint stays where the last normal apply left it.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "proto/spool.pb.h"
#include "util/status.h"

namespace docshift::apply {

struct Point {
  bool set = false;
  bool is_time = false;
  uint64_t seq = 0;
  int64_t time_ms = 0;
};

// "" → unset; "123" → seq 123; else an RFC 3339 UTC time. InvalidArgument naming flag.
StatusOr<Point> ParsePoint(const std::string& text, const std::string& flag);

// The events a spool holds now: first_seq .. next_seq - 1 (empty when equal), and the
// source times of the first and last of them (0 when unknown or empty).
struct SpoolRange {
  uint64_t first_seq = 1;
  uint64_t next_seq = 1;
  int64_t first_time_ms = 0;
  int64_t last_time_ms = 0;
};
// "seq 1..285 (source times 2026-12-03T10:00:00Z..2026-12-03T10:05:00Z)", or "no events".
std::string DescribeRange(const SpoolRange& r);

// The resolved range of one apply run.
struct ApplyRange {
  bool replay = false;     // --from given: start there, leave the checkpoint alone
  uint64_t from_seq = 0;   // replay: the first sequence to read
  int64_t from_time_ms = std::numeric_limits<int64_t>::min();  // skip events before it
  uint64_t until_seq = std::numeric_limits<uint64_t>::max();   // last sequence to apply
  int64_t until_time_ms = std::numeric_limits<int64_t>::max(); // last source time to apply
  // An event inside the range (by its sequence and source time)?
  bool Before(int64_t time_ms) const { return time_ms < from_time_ms; }
  bool Past(uint64_t seq, int64_t time_ms) const { return seq > until_seq || time_ms > until_time_ms; }
};

// Checks from/until against each other and the spool. InvalidArgument naming the flag,
// the spool's range and the fix.
StatusOr<ApplyRange> ResolveRange(const Point& from, const Point& until, const SpoolRange& spool);

// A normal apply resumes at `start` (checkpoint + 1, or the snapshot's start): a
// --until sequence below it selects nothing, which is refused the same way.
Status CheckUntilAfterStart(const ApplyRange& range, uint64_t start, const std::string& name);

// Source time of an event for --from/--until: cluster time (seconds), else the source's
// wall time, else when capture saw it.
int64_t EventTimeMs(const pb::ChangeEvent& e);

}  // namespace docshift::apply
