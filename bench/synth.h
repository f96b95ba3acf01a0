// Deterministic synthetic change events, for benchmarks, the demo and end-to-end CLI tests.
//
// Event i of a stream is a pure function of (SynthConfig, i): the same config and index
// give the same bytes on every run and machine, independent of how the stream is cut into
// batches. So a spool can be extended later (start at next_seq - 1) and stay consistent.
//
// Documents are real BSON built with libbson, shaped like what a change stream delivers:
//   - kYcsb: YCSB "usertable" rows: _id "user<digits>" and field0..field9 of ~100 bytes.
//   - kNested: order-like documents (~1.3 KB) with subdocuments, arrays of subdocuments
//     and int32/int64/double/string/bool/date/ObjectId/binary values.
// Text is drawn from a small vocabulary mixed with numbers, so it compresses like real
// JSON-ish data (zstd -1: about 3.1x YCSB, 3.5x nested), neither random bytes nor
// identical copies.
//
// The op mix is semantically consistent, so apply can replay it against an empty target:
// every update, replace and delete addresses a document inserted earlier and not yet
// deleted (a document inserted at event j can only be deleted at event j + live_window,
// and is only updated in between).
//
// Thread safety: the functions are pure; call them from any thread.
#pragma once

#include <cstdint>
#include <string>

#include "proto/spool.pb.h"

namespace docshift::bench {

enum class DocShape { kYcsb, kNested };

struct SynthConfig {
  uint64_t seed = 1;
  DocShape shape = DocShape::kYcsb;
  // kYcsb only: number of fields and bytes per field value.
  int ycsb_fields = 10;
  int ycsb_field_bytes = 100;
  // Draw of each event's kind, in percent (the four must sum to 100). A drawn delete whose
  // victim slot (event i - live_window) is not an insert becomes an update, and an update
  // that finds no live document becomes an insert, so the delivered mix is about
  // insert 45%, update 38%, replace 10%, delete 7% with the defaults.
  int insert_pct = 45;
  int update_pct = 30;
  int replace_pct = 10;
  int delete_pct = 15;
  // Updates and replaces address a document inserted within the last live_window events;
  // a delete at event i removes the document inserted at event i - live_window.
  int live_window = 1000;
  // Updates also carry the post-image in full_document (fullDocument: "updateLookup").
  bool update_lookup = false;
  // Every document lives in the shape's first namespace (one hot collection).
  bool single_namespace = false;
  // Every txn_every-th group of 4 consecutive events carries an lsid and txnNumber, as
  // the events of a multi-document transaction do. 0 disables.
  int txn_every = 50;
  // Source clock: event i happens at start_unix_s + i / events_per_second; cluster time
  // is (that second, increment) and strictly increases with i.
  int64_t start_unix_s = 1'700'000'000;
  int events_per_second = 1000;
  // capture_wall_ms = source wall time + this (the capture lag).
  int64_t capture_lag_ms = 10;
};

// Returns an empty string if cfg is usable, else what is wrong with it.
std::string ValidateSynthConfig(const SynthConfig& cfg);

// Fills *event (cleared first) with event `index` of the stream.
// REQUIRES: ValidateSynthConfig(cfg) is empty.
void MakeEvent(const SynthConfig& cfg, uint64_t index, pb::ChangeEvent* event);

// Clears *batch and fills it with events [first_event, first_event + events). The batch's
// resume_token / resume_cluster_time are those of its last event, written_wall_ms its
// capture time; first_seq is left 0 (SpoolWriter::Append assigns it).
// REQUIRES: ValidateSynthConfig(cfg) is empty; events >= 0.
void FillBatch(const SynthConfig& cfg, uint64_t first_event, int events, pb::ChangeBatch* batch);

// "insert", "update", ... for summaries.
const char* OpName(pb::OpType op);

}  // namespace docshift::bench
