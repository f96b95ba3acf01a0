#include "cli/flag_ranges.h"

#include "spool/checkpoint.h"
#include "spool/inspect.h"
#include "spool/slot_name.h"
#include "util/duration.h"

namespace docshift::cli {
namespace {

constexpr int64_t kMs = 1, kSec = 1000, kMin = 60 * kSec, kHour = 60 * kMin, kDay = 24 * kHour;
constexpr int64_t kKiB = 1024, kMiB = 1024 * kKiB, kGiB = 1024 * kMiB;
constexpr int64_t kMaxSeq = INT64_MAX;

FlagRange Int(std::string flag, int64_t min, int64_t max, std::vector<std::string> commands) {
  return FlagRange{std::move(flag), FlagKind::kInteger, min, max, false, std::move(commands)};
}
FlagRange Dur(std::string flag, int64_t min, int64_t max, std::vector<std::string> commands,
              bool empty_ok = false) {
  return FlagRange{std::move(flag), FlagKind::kDuration, min, max, empty_ok, std::move(commands)};
}
FlagRange Other(std::string flag, FlagKind kind, std::vector<std::string> commands,
                int64_t min = 0, int64_t max = 0) {
  const bool empty_ok = kind != FlagKind::kApplyName;
  return FlagRange{std::move(flag), kind, min, max, empty_ok, std::move(commands)};
}

FlagRange Choice(std::string flag, std::vector<std::string> choices, std::vector<std::string> commands) {
  FlagRange r{std::move(flag), FlagKind::kChoice, 0, 0, false, std::move(commands)};
  r.choices = std::move(choices);
  return r;
}

std::string Quoted(const std::string& value) {
  std::string v = value.substr(0, 80);
  for (char& c : v) c = static_cast<unsigned char>(c) < 0x20 ? '?' : c;  // stay one line
  return "'" + v + "'";
}

}  // namespace

const std::vector<FlagRange>& FlagRanges() {
  static const std::vector<FlagRange>* rows = new std::vector<FlagRange>{
      // capture
      Other("start_at", FlagKind::kClusterTime, {"capture"}),
      Int("batch_max_events", 1, 1'000'000, {"capture"}),
      Int("batch_max_bytes", 1, 64 * kMiB, {"capture"}),
      Dur("batch_max_time", 1 * kMs, 1 * kMin, {"capture"}),
      Int("segment_max_bytes", 1 * kKiB, 64 * kGiB, {"capture"}),
      Dur("segment_max_age", 100 * kMs, 30 * kDay, {"capture"}),
      Int("zstd_level", 1, 22, {"capture"}),
      Dur("oplog_max_await", 100 * kMs, 1 * kHour, {"capture"}),
      Dur("capture_retention", 0, 3650 * kDay, {"capture"}, /*empty_ok=*/true),
      // capture, apply, snapshot
      Dur("progress_interval", 100 * kMs, 1 * kDay, {"capture", "apply", "snapshot"}),
      Int("metrics_port", 0, 65535, {"capture", "apply"}),
      Other("http_listen", FlagKind::kHostPort, {"capture", "apply"}, 1, 65535),
      // apply
      Int("lanes", 1, 64, {"apply"}),
      Int("batch_max_ops", 1, 100'000, {"apply"}),
      Int("max_update_statements", -1, 100'000, {"apply"}),
      Other("from", FlagKind::kSeqOrTime, {"apply"}, 1, kMaxSeq),
      Other("until", FlagKind::kSeqOrTime, {"apply"}, 1, kMaxSeq),
      Dur("checkpoint_interval", 10 * kMs, 1 * kHour, {"apply"}),
      Int("max_ops_per_s", 0, 1'000'000'000, {"apply"}),
      Other("name", FlagKind::kApplyName, {"apply", "status", "cutover"}),
      Other("slot", FlagKind::kSlot, {"apply"}),
      // apply --spool s3://...
      Int("cache_max_bytes", 1 * kKiB, 1024 * kGiB, {"apply"}),
      Dur("bucket_poll_interval", 10 * kMs, 1 * kMin, {"apply"}),
      // snapshot, verify, reconcile, cutover
      Int("parallel", 1, 64, {"snapshot"}),
      Dur("snapshot_lease", 1 * kSec, 1 * kHour, {"snapshot"}),
      Int("parallel", 1, 256, {"verify", "reconcile", "cutover"}),
      Int("docs_per_range", 1, 1'000'000'000, {"snapshot", "verify", "reconcile"}),
      Int("batch_docs", 1, 100'000, {"snapshot"}),
      Int("max_rcu", 0, 1'000'000'000, {"snapshot"}),
      Int("max_docs_per_s", 0, 1'000'000'000, {"snapshot", "verify", "reconcile"}),
      Int("max_mb_per_s", 0, 1'000'000, {"snapshot", "verify", "reconcile"}),
      Int("recheck_rounds", 0, 100, {"verify"}),
      Dur("recheck_timeout", 0, 1 * kDay, {"verify"}),
      Dur("recheck_delay", 0, 1 * kHour, {"verify"}),
      Int("max_print", 0, 1'000'000, {"verify"}),
      Dur("interval", 0, 30 * kDay, {"reconcile"}),
      Dur("max_lag", 100 * kMs, 1 * kDay, {"cutover"}),
      Dur("quiet_period", 100 * kMs, 1 * kDay, {"cutover"}),
      Dur("timeout", 1 * kSec, 30 * kDay, {"cutover"}),
      // inspect
      Int("from_seq", 0, kMaxSeq, {"inspect"}),
      Int("until_seq", 0, kMaxSeq, {"inspect"}),
      Int("limit", 0, kMaxSeq, {"inspect"}),
      Other("from_time", FlagKind::kTime, {"inspect"}),
      Other("until_time", FlagKind::kTime, {"inspect"}),
      // DynamoDB sources
      Choice("dynamodb_numbers", {"decimal", "string", "double"},
             {"capture", "snapshot", "verify", "reconcile"}),
      // prune, status
      Dur("retention", 0, 3650 * kDay, {"prune"}),
      Dur("watch", 100 * kMs, 1 * kDay, {"status"}, /*empty_ok=*/true),
      // ship
      Dur("ship_poll_interval", 10 * kMs, 1 * kMin, {"ship"}),
      Dur("bucket_retention", 0, 3650 * kDay, {"ship", "capture"}, /*empty_ok=*/true),
      Dur("bucket_retention_interval", 100 * kMs, 1 * kDay, {"ship", "capture"}),
  };
  return *rows;
}

const FlagRange* FindFlagRange(std::string_view command, std::string_view flag) {
  for (const FlagRange& r : FlagRanges()) {
    if (r.flag != flag) continue;
    for (const auto& c : r.commands)
      if (c == command) return &r;
  }
  return nullptr;
}

std::string DescribeRange(const FlagRange& r) {
  switch (r.kind) {
    case FlagKind::kInteger:
      return std::to_string(r.min) + ".." + std::to_string(r.max);
    case FlagKind::kDuration:
      return FormatDurationMs(r.min) + ".." + FormatDurationMs(r.max) +
             " (e.g. 500ms, 30s, 15m, 24h, 7d)";
    case FlagKind::kSeqOrTime:
      return "a sequence number " + std::to_string(r.min) + ".." + std::to_string(r.max) +
             ", or a time (RFC 3339 UTC, e.g. 2026-11-22T01:00:00Z)";
    case FlagKind::kTime:
      return "a time: RFC 3339 UTC (2026-11-22T01:00:00Z) or seconds since the epoch";
    case FlagKind::kClusterTime:
      return "a cluster time SECONDS or SECONDS.INCREMENT, 1..now";
    case FlagKind::kApplyName:
      return std::string(spool::kApplyNameRule);
    case FlagKind::kSlot:
      return "I/N: 1 <= N <= " + std::to_string(spool::kMaxSlots) +
             ", 0 <= I < N (e.g. 0/3); not with --from or --transactions=atomic";
    case FlagKind::kHostPort:
      return "HOST:PORT, [IPv6]:PORT or PORT (host 127.0.0.1), PORT " + std::to_string(r.min) + ".." +
             std::to_string(r.max) + " (e.g. 127.0.0.1:9464, 0.0.0.0:9464)";
    case FlagKind::kChoice: {
      std::string out = "one of ";
      for (size_t i = 0; i < r.choices.size(); ++i) out += (i ? ", " : "") + r.choices[i];
      return out;
    }
  }
  return "";
}

Status CheckFlagValue(const FlagRange& r, const std::string& value) {
  if (value.empty() && r.empty_ok) return Status::OK();
  const std::string flag = "--" + r.flag;
  auto bad = [&](const char* what) {
    return Status::InvalidArgument(flag + " " + Quoted(value) + " " + what + ": use " +
                                   DescribeRange(r));
  };
  switch (r.kind) {
    case FlagKind::kInteger: {
      auto v = ParseInt64(value);
      if (!v.ok()) return bad("is not a whole number");
      if (v.value() < r.min || v.value() > r.max) return bad("is out of range");
      return Status::OK();
    }
    case FlagKind::kDuration: {
      auto v = ParseDurationMs(value);
      if (!v.ok()) return bad("is not a duration");
      if (v.value() < r.min || v.value() > r.max) return bad("is out of range");
      return Status::OK();
    }
    case FlagKind::kSeqOrTime: {
      if (value.find_first_not_of("0123456789") == std::string::npos) {
        auto v = ParseInt64(value);
        if (!v.ok() || v.value() < r.min || v.value() > r.max) return bad("is out of range");
        return Status::OK();
      }
      if (!spool::ParseTimeMs(value).ok()) return bad("is not a sequence number or a time");
      return Status::OK();
    }
    case FlagKind::kTime:
      if (!spool::ParseTimeMs(value).ok()) return bad("is not a time");
      return Status::OK();
    case FlagKind::kClusterTime: {
      auto v = ParseClusterTime(value, NowMs(), flag);
      return v.ok() ? Status::OK() : v.status();
    }
    case FlagKind::kApplyName:
      return spool::CheckApplyName(value, flag);
    case FlagKind::kSlot: {
      if (!spool::ParseSlot(value).ok()) return bad("is not a slot");
      return Status::OK();
    }
    case FlagKind::kHostPort: {
      auto hp = ParseHostPort(value, flag);
      return hp.ok() ? Status::OK() : hp.status();
    }
    case FlagKind::kChoice:
      for (const auto& c : r.choices) {
        if (value == c) return Status::OK();
      }
      return bad("is not a choice");
  }
  return Status::OK();
}

StatusOr<uint64_t> ParseClusterTime(const std::string& text, int64_t now_ms,
                                    std::string_view flag) {
  const size_t dot = text.find('.');
  auto secs = ParseUint64(text.substr(0, dot));
  auto inc = dot == std::string::npos ? StatusOr<uint64_t>(uint64_t{0})
                                      : ParseUint64(text.substr(dot + 1));
  const std::string what = std::string(flag) + " " + Quoted(text);
  if (!secs.ok() || !inc.ok() || text[0] == '+' || (dot != std::string::npos && text[dot + 1] == '+') ||
      inc.value() > 0xffffffffull) {
    return Status::InvalidArgument(what + " is not a cluster time: use SECONDS or "
                                          "SECONDS.INCREMENT, e.g. 1764547200 or 1764547200.3");
  }
  const uint64_t now_secs = static_cast<uint64_t>(now_ms / 1000);
  if (secs.value() == 0 || secs.value() > now_secs) {
    return Status::InvalidArgument(what + " is out of range: use a cluster time 1.." +
                                   std::to_string(now_secs) +
                                   " (now); omit it to start from now");
  }
  return (secs.value() << 32) | inc.value();
}

StatusOr<HostPort> ParseHostPort(const std::string& text, std::string_view flag) {
  auto bad = [&](const std::string& what) {
    return Status::InvalidArgument(std::string(flag) + " " + Quoted(text) + " " + what +
                                   ": use HOST:PORT, [IPv6]:PORT or PORT (host 127.0.0.1), PORT "
                                   "1..65535 (e.g. 127.0.0.1:9464, 0.0.0.0:9464)");
  };
  HostPort hp;
  std::string port;
  if (text.find(':') == std::string::npos) {
    hp.host = "127.0.0.1";
    port = text;
  } else if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("is not [IPv6]:PORT");
    }
    hp.host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (text.find(':') != colon) return bad("has more than one ':' (write an IPv6 address in [])");
    hp.host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (hp.host.empty()) return bad("has no host (0.0.0.0:PORT listens on every interface)");
  auto p = ParseInt64(port);
  if (!p.ok() || port.empty() || port[0] == '+' || port[0] == '-') return bad("has no port number");
  if (p.value() < 1 || p.value() > 65535) return bad("is out of range");
  hp.port = static_cast<int>(p.value());
  return hp;
}

Status CheckFlagOrder(std::string_view lo_flag, const std::string& lo_text, int64_t lo,
                      std::string_view hi_flag, const std::string& hi_text, int64_t hi) {
  if (lo <= hi) return Status::OK();
  return Status::InvalidArgument(std::string(lo_flag) + " " + Quoted(lo_text) + " is after " +
                                 std::string(hi_flag) + " " + Quoted(hi_text) +
                                 ": the range is empty; give " + std::string(lo_flag) +
                                 " <= " + std::string(hi_flag));
}

}  // namespace docshift::cli
