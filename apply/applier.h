// `docshift apply`: replays a spool onto a target, idempotently, with a durable checkpoint.
//
// Pipeline: one reader (SpoolTail) → N lanes → target. Events are hashed by (namespace,
// document key) over the lanes, so each document's changes apply in order; a namespace
// whose target collection has a secondary unique index goes through one lane (hashing by
// _id across lanes is how peers stall on duplicate keys). DDL events are barriers: every
// lane drains, the DDL runs, then the stream continues.
//
// One apply per name: locks/apply-<name>.lock (spool/apply_lock.h) is held for the run; it
// records the start sequence, which prune keeps.
//
// Checkpoint: the highest sequence S such that every event <= S is applied (the minimum
// over lanes of their oldest unfinished event, minus one), written atomically at an
// interval and at exit. Restarting resumes at S+1; events in (S, what was written] are
// written again, which the idempotent translation (translate.h) makes harmless.
//
// Slots (ApplyOptions::slot_count > 0): N workers share the spool; see slot_routing.h for
// the routing and the DDL barrier (the owner of a DDL's namespace runs it once every other
// slot's checkpoint is just before it; the others wait until the owner's checkpoint passes
// it). A slot that is down holds the others at the next DDL: they wait, never skip.
//
// Errors: transient ones (network, not primary, shutdown) are retried with backoff, and so
// is the target's push-back (mongo::IsThrottled: Cosmos DB 16500, write concern
// timeouts), after the server's retry-after when it gives one, counted. A
// permanent per-document error goes with the event and the server's message to
// deadletter/<name>.dlq in the spool (synced before the checkpoint passes it) and apply
// continues, or stops with on_error=kStop.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "apply/positions.h"
#include "spool/checkpoint_store.h"
#include "util/status.h"

namespace docshift::apply {

struct ApplyOptions {
  std::string spool_dir;
  std::string target_uri;
  std::string name = "apply";  // checkpoint and dead-letter file name
  int lanes = 4;
  int batch_max_ops = 1000;
  // Most update/replace statements in one bulk's "update" command; 0 = no limit, -1 = auto:
  // mongo::UpdateStatementCap (no limit, except 32/lanes on a FerretDB target, whose v1.24
  // update handler deadlocks past its connection pool: a workaround, named there).
  int max_update_statements = -1;
  // --from: replay from this point (a sequence, or the first event at/after a source
  // time) instead of the checkpoint, leaving the checkpoint alone. --until: stop after
  // the last event at/before it. Checked against the spool (positions.h).
  Point from;
  Point until;
  // Stop once everything currently in the spool is applied (instead of following).
  bool stop_when_drained = false;
  bool dry_run = false;
  std::vector<std::string> maps;  // "db.coll=db2.coll2", "db=db2"
  // --transforms: a JSON rules file (apply/transform.h), applied to each event as it is
  // read; an event a rule cannot transform is dead-lettered. Empty = none.
  std::string transforms_file;
  bool stop_on_error = false;
  // --transactions=atomic: each source transaction (its events consecutive in the spool)
  // as one target transaction (apply/transaction.h); refused at start by a target without
  // transactions. Default: each event on its own, as lanes write them.
  bool atomic_transactions = false;
  int64_t checkpoint_interval_ms = 1000;
  int64_t progress_interval_ms = 10'000;
  // How often a drained reader looks for new batches in the spool (an fstat): a term of
  // the end-to-end lag, so short (issue #6: 100 ms cost ~50 ms on average).
  int64_t poll_interval_ms = 10;
  // Status file (status/apply-<name>.status) interval, and the Prometheus endpoint on
  // HTTP endpoint (/metrics, /progress) on http_host:metrics_port (0 = none).
  int64_t status_interval_ms = 1000;
  std::string http_host = "127.0.0.1";
  int metrics_port = 0;
  // Set from a signal handler to stop cleanly (drain lanes, write the checkpoint).
  const std::atomic<bool>* stop = nullptr;
  // Where the checkpoint is read and written. Null: the spool directory's checkpoints/.
  spool::CheckpointStore* checkpoints = nullptr;
  // --slot I/N (issue #13; slot_routing.h): this worker writes only the events whose
  // "fnv1a64-ns-id/1" slot is slot_index, under the name NAME.slot-I-of-N (checkpoint,
  // dead letters, status file), and passes DDL only as a barrier shared with the other
  // slots through `checkpoints`. slot_count 0: no slots (the whole spool, as before).
  int slot_index = 0;
  int slot_count = 0;
  // With stop_when_drained: the spool directory is filled by someone else (a bucket
  // spool's cache, apply/bucket_apply.h); drained means the end of the spool once this is
  // true, not the end of what is there now. Null: the spool is all there.
  const std::atomic<bool>* source_complete = nullptr;
  // Set (with `stop`) when this apply must not write another event: its checkpoint was
  // taken over by another apply of the name (a bucket spool's lease). Lanes drop what is
  // queued instead of draining it; a bulk already sent completes. Null: never.
  const std::atomic<bool>* abort_writes = nullptr;
  // A replay (--from) writes no checkpoint; when set, it stores here how far it has
  // applied (every sequence <= the value) each time it would have written one, so a
  // bucket spool's cache can evict what the replay has passed. Null: not needed.
  std::atomic<uint64_t>* replay_applied_seq = nullptr;
  // --max_ops_per_s (issue #14): events written per second by the whole process (every
  // lane draws on one token bucket, util/load_limit.h); 0 = unlimited.
  double max_ops_per_s = 0;
};

struct ApplyResult {
  uint64_t events_applied = 0;  // written or dead-lettered (not those skipped by --from TIME)
  uint64_t first_seq = 0, last_seq = 0;  // of those; 0 when none
  uint64_t dead_letters = 0;
  uint64_t checkpoint_seq = 0;
  uint64_t transactions = 0;  // applied as target transactions (--transactions=atomic)
  bool replay = false;  // --from: the checkpoint was neither read nor written
  // --slot: document events of this slot's share written (or dead-lettered), and those
  // of other slots' shares passed; DDL barriers this slot ran (as owner) and passed.
  uint64_t slot_events_mine = 0, slot_events_others = 0;
  uint64_t slot_ddl_run = 0, slot_ddl_passed = 0;
  // Writes the target pushed back (throttled, retried: mongo::IsThrottled).
  uint64_t throttled = 0;
};

StatusOr<ApplyResult> RunApply(const ApplyOptions& opts);

}  // namespace docshift::apply
