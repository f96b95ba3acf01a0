// `docshift capture`: reads a source's changes into the spool.
//
// RunCapture validates the options, connects, opens (and recovers) the spool, picks the
// ChangeSource for --source_kind (capture/source.h; change_stream_source.cc,
// oplog_source.cc) and runs the one writer loop (capture/writer.h), which batches,
// filters by namespace, group-commits and resumes the same way for every source. On
// restart capture resumes from the last durable position (the spool's resume token); if
// the source no longer holds that position, capture stops: the spool is no longer
// continuous and a new snapshot is needed. It never skips.
//
// Resume token stored in the spool (BSON):
//   change streams: {v: 1, kind: "streams", start: Timestamp, streams: [{k: "<db>[.<coll>]", t: <token>}, ...]}
//   oplog:          {v: 1, kind: "oplog", ts: Timestamp[, i: <events of the entry at ts captured>]}
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "mongo/namespaces.h"
#include "util/status.h"

namespace docshift::capture {

struct CaptureOptions {
  std::string source_uri;
  std::string spool_dir;
  std::string source_kind = "mongo";  // mongo | cosmos | oplog | dynamodb (a dynamodb:// source)
  std::string scope = "deployment";   // deployment | database | collection (mongo, cosmos)
  // mongo: ask for the expanded DDL events (showExpandedEvents: createIndexes,
  // dropIndexes, modify, create with its options, shardCollection, ...). auto: where the
  // server accepts it (maxWireVersion >= 17, MongoDB 6.0+), through docshift's own change
  // stream cursor (capture/raw_change_stream.h; libmongoc 1.23 cannot send the option);
  // on: always (a server that refuses it stops capture); off: never (libmongoc's cursor).
  std::string show_expanded_events = "auto";
  // Testing: "raw" forces docshift's own cursor even where the option is not sent, so the
  // test servers (maxWireVersion 8) exercise it; "auto" (default) as above.
  std::string change_stream_cursor = "auto";
  // DynamoDB: TTL deletes (records by dynamodb.amazonaws.com) are applied or skipped.
  std::string ttl_deletes = "apply";  // apply | skip
  // DynamoDB: a number no exact BSON type holds is an error (dead-lettered by apply),
  // a string or a double (aws/dynamodb_types.h). Capture converts with it, so it is
  // recorded in the spool (SpoolCreated.dynamodb_numbers) and a restart with another
  // mode is refused.
  std::string dynamodb_numbers = "decimal";  // decimal | string | double
  mongo::NamespaceFilter namespaces;  // include/exclude globs ("db.*", "db.coll")
  // For a new spool: start at this cluster time ((seconds << 32) | increment); 0 = now.
  uint64_t start_at = 0;
  int batch_max_events = 1000;
  uint64_t batch_max_bytes = 4ull << 20;
  int64_t batch_max_ms = 50;
  uint64_t segment_max_bytes = 64ull << 20;
  int64_t segment_max_age_ms = 60'000;
  int zstd_level = 1;
  int64_t progress_interval_ms = 10'000;
  int64_t discovery_interval_ms = 5'000;
  int64_t retention_ms = -1;
  // Oplog: longest wait of one getMore for new entries (see capture.cc).
  int64_t oplog_max_await_ms = 8'000;  // >= 0: prune applied segments older than this, periodically
  // Status file (status/capture.status) interval, and the Prometheus endpoint on
  // HTTP endpoint (/metrics, /progress) on http_host:metrics_port (0 = none).
  int64_t status_interval_ms = 1000;
  std::string http_host = "127.0.0.1";
  int metrics_port = 0;
  const std::atomic<bool>* stop = nullptr;
};

Status RunCapture(const CaptureOptions& opts);

}  // namespace docshift::capture
