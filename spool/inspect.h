// `docshift inspect`: offline views of a spool. Needs no database and never takes the
// spool lock, so it can run beside a live capture and apply. Each function writes
// human-readable text (dump: one relaxed Extended JSON object per line) to `out`.
//
// Errors: NotFound when there is no spool at the directory; Corruption naming file and
// offset for damage that stops the view (Verify instead reports every problem it finds
// and returns their count).
#pragma once

#include <cstdint>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "util/env.h"
#include "util/status.h"

namespace docshift::spool {

struct InspectOptions {
  std::string dir;
  // Filters (dump, stats). Namespace globs like "shop.*" (fnmatch); empty = all.
  std::vector<std::string> ns_globs;
  // Operation names as printed ("insert", "update", ...); empty = all.
  std::vector<std::string> ops;
  uint64_t from_seq = 0;
  uint64_t until_seq = std::numeric_limits<uint64_t>::max();  // inclusive
  // Source time window in ms since epoch, inclusive (cluster time, else wall time).
  int64_t from_time_ms = std::numeric_limits<int64_t>::min();
  int64_t until_time_ms = std::numeric_limits<int64_t>::max();
  uint64_t limit = std::numeric_limits<uint64_t>::max();  // dump: events printed at most
};

Status InspectSegments(Env* env, const InspectOptions& opts, std::ostream& out);
Status InspectManifest(Env* env, const InspectOptions& opts, std::ostream& out);
Status InspectDump(Env* env, const InspectOptions& opts, std::ostream& out);
Status InspectStats(Env* env, const InspectOptions& opts, std::ostream& out);
// Every dead letter of every apply (deadletter/*.dlq): sequence, namespace, the server's
// error, and the event as relaxed Extended JSON. Returns how many were printed.
StatusOr<uint64_t> InspectDeadLetters(Env* env, const InspectOptions& opts, std::ostream& out);
// Checks every checksum, framing rule and cross-reference; prints each problem with file
// and offset. Returns the number of problems (0 = spool intact), or NotSupported (after
// printing every problem) when a file is from a newer format version.
StatusOr<int> InspectVerify(Env* env, const InspectOptions& opts, std::ostream& out);

// Parses "insert|update|..." to the OpType number; -1 if unknown.
int ParseOpName(const std::string& name);
const char* OpName(int op);
// Parses RFC 3339 UTC ("2026-11-22T01:00:00Z", fractional seconds allowed) or integer
// seconds since the epoch into ms. InvalidArgument naming the text otherwise.
StatusOr<int64_t> ParseTimeMs(const std::string& text);
std::string FormatTimeMs(int64_t ms);
// s as a JSON string literal: quoted, with quotes, backslashes and control characters
// escaped.
std::string JsonString(const std::string& s);

}  // namespace docshift::spool
