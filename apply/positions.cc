#include "apply/positions.h"

#include <algorithm>

#include "spool/inspect.h"
#include "util/duration.h"

namespace docshift::apply {
namespace {

std::string Seq(uint64_t s) { return std::to_string(s); }

Status Refuse(const std::string& flag, const std::string& what, const SpoolRange& spool,
              const std::string& fix) {
  return Status::InvalidArgument(flag + " " + what + ": the spool holds " + DescribeRange(spool) +
                                 "; " + fix);
}

}  // namespace

StatusOr<Point> ParsePoint(const std::string& text, const std::string& flag) {
  Point p;
  if (text.empty()) return p;
  p.set = true;
  if (text.find_first_not_of("0123456789") == std::string::npos) {
    auto seq = ParseUint64(text);
    if (!seq.ok()) {
      return Status::InvalidArgument(flag + " " + text + " is not a sequence number (at most " +
                                     std::to_string(UINT64_MAX) + ")");
    }
    p.seq = seq.value();
    return p;
  }
  auto t = spool::ParseTimeMs(text);
  if (!t.ok()) return t.status().WithContext(flag);
  p.is_time = true;
  p.time_ms = t.value();
  return p;
}

std::string DescribeRange(const SpoolRange& r) {
  if (r.next_seq <= r.first_seq) {
    return "no events (the next one will be seq " + Seq(r.next_seq) + ")";
  }
  std::string s = "seq " + Seq(r.first_seq) + ".." + Seq(r.next_seq - 1);
  if (r.first_time_ms != 0 || r.last_time_ms != 0) {
    s += " (source times " + spool::FormatTimeMs(r.first_time_ms) + ".." +
         spool::FormatTimeMs(r.last_time_ms) + ")";
  }
  return s;
}

StatusOr<ApplyRange> ResolveRange(const Point& from, const Point& until, const SpoolRange& spool) {
  ApplyRange r;
  const bool empty = spool.next_seq <= spool.first_seq;
  const uint64_t last = spool.next_seq - 1;
  if (from.set) {
    r.replay = true;
    if (empty) return Refuse("--from", "has nothing to replay", spool, "run apply without --from");
    if (from.is_time) {
      if (from.time_ms > spool.last_time_ms) {
        return Refuse("--from", spool::FormatTimeMs(from.time_ms) + " is after the newest event",
                      spool, "give a time up to " + spool::FormatTimeMs(spool.last_time_ms));
      }
      r.from_seq = spool.first_seq;  // scan from the start, skip earlier events
      r.from_time_ms = from.time_ms;
    } else {
      if (from.seq < spool.first_seq) {
        return Refuse("--from", Seq(from.seq) + (from.seq == 0 ? " is not a sequence number (they start at 1)"
                                                                : " was pruned or never existed"),
                      spool, "give a sequence from " + Seq(spool.first_seq) + " to " + Seq(last));
      }
      if (from.seq > last) {
        return Refuse("--from", Seq(from.seq) + " is past the end of the spool", spool,
                      "give a sequence from " + Seq(spool.first_seq) + " to " + Seq(last));
      }
      r.from_seq = from.seq;
    }
  }
  if (until.set) {
    if (until.is_time) {
      if (!empty && until.time_ms < spool.first_time_ms) {
        return Refuse("--until", spool::FormatTimeMs(until.time_ms) + " is before the first event",
                      spool, "give a later time, or leave --until out");
      }
      if (from.set && from.is_time && until.time_ms < from.time_ms) {
        return Status::InvalidArgument("--until " + spool::FormatTimeMs(until.time_ms) +
                                       " is before --from " + spool::FormatTimeMs(from.time_ms) +
                                       ": the range selects no event; give --until at or after --from");
      }
      r.until_time_ms = until.time_ms;
    } else {
      if (until.seq < spool.first_seq) {
        return Refuse("--until", Seq(until.seq) + " is before the first event", spool,
                      "give a sequence from " + Seq(spool.first_seq) + " on, or leave --until out");
      }
      if (from.set && !from.is_time && until.seq < from.seq) {
        return Status::InvalidArgument("--until " + Seq(until.seq) + " is before --from " +
                                       Seq(from.seq) +
                                       ": the range selects no event; give --until at or after --from");
      }
      r.until_seq = until.seq;
    }
  }
  return r;
}

Status CheckUntilAfterStart(const ApplyRange& range, uint64_t start, const std::string& name) {
  if (range.until_seq != std::numeric_limits<uint64_t>::max() && range.until_seq < start) {
    return Status::InvalidArgument("--until " + Seq(range.until_seq) + " is before seq " +
                                   Seq(start) + ", where apply '" + name +
                                   "' resumes: nothing to apply; give a later --until, or "
                                   "--from to replay earlier events");
  }
  return Status::OK();
}

int64_t EventTimeMs(const pb::ChangeEvent& e) {
  if (e.cluster_time() != 0) return static_cast<int64_t>(e.cluster_time() >> 32) * 1000;
  if (e.wall_time_ms() != 0) return e.wall_time_ms();
  return e.capture_wall_ms();
}

}  // namespace docshift::apply
