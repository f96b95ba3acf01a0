// `docshift apply --spool s3://BUCKET/PREFIX`: apply from a spool in a bucket, reading the
// bucket only (spool/FORMAT.md, "Bucket layout").
//
// The bucket is turned into a local spool-shaped cache dir (bucket/cache.h) that the
// ordinary apply (applier.h) reads unchanged; its checkpoint lives in the bucket
// (bucket/checkpoint_store.h), claimed at start under a lease. A background thread, every
// poll_interval_ms: reads new commit records, downloads committed segments ahead (at most
// cache_max_bytes, always the next one needed), copies snapshot/STATE when it changes,
// rewrites the checkpoint at least every heartbeat_interval_ms (the lease), and evicts the
// segments the checkpoint has passed. An error there (a damaged object, a gap in the log,
// the checkpoint taken over by another apply of the same name) stops apply, which
// returns that error: nothing of a damaged segment is ever handed to apply.
//
// Lag: an event reaches this apply about (segment age at seal) + (ship delay) +
// poll_interval_ms after capture; with --segment_max_age 5s and the default 1 s poll,
// within the 10 s when the shipper keeps up.
#pragma once

#include <cstdint>
#include <string>

#include "apply/applier.h"
#include "aws/s3_client.h"
#include "bucket/location.h"
#include "bucket/log.h"
#include "util/status.h"

namespace docshift::apply {

struct BucketApplyOptions {
  ApplyOptions apply;  // spool_dir, checkpoints and source_complete are set here
  bucket::BucketLocation loc;
  aws::S3ClientOptions s3;  // resolved by the caller (aws::S3ClientOptionsFromEnv)
  std::string cache_dir;    // "" -> DefaultCacheDir
  uint64_t cache_max_bytes = uint64_t{1} << 30;
  int64_t poll_interval_ms = 1000;
  int64_t heartbeat_interval_ms = 10'000;
  int64_t lease_ms = 30'000;
};

// $XDG_CACHE_HOME (else $HOME/.cache) + "/docshift/s3/BUCKET/PREFIX/@NAME" ('@' is not
// allowed in a prefix, so two bucket spools or names never share one).
// InvalidArgument when neither variable is set.
StatusOr<std::string> DefaultCacheDir(const bucket::BucketLocation& loc, const std::string& name);

// --from SEQ (a replay): checked against the bucket's log first (InvalidArgument naming
// the oldest replayable sequence when SEQ is below it, or past the committed end; --from
// TIME is not supported); read through a fresh temporary cache dir (removed afterwards)
// unless cache_dir is given, which must still hold SEQ; the checkpoint is claimed (the
// lease: one apply per name) but its position left alone; the cache evicts what the
// replay has applied (ApplyOptions::replay_applied_seq).
//
// Errors: those of RunApply, and: FailedPrecondition when another apply of the name holds the
// checkpoint or takes it over, or the cache dir belongs to another bucket spool;
// NotFound when the bucket holds no spool; Corruption naming the object.
StatusOr<ApplyResult> RunBucketApply(BucketApplyOptions opts);

// Whether a replay may start at `from` in the bucket spool whose log is `st`: OK when
// oldest live committed sequence <= from <= committed end (or the log is empty: the cache
// reports that). InvalidArgument naming the oldest replayable sequence and the range.
Status CheckReplayStart(const bucket::LogState& st, const bucket::BucketLocation& loc, uint64_t from);

}  // namespace docshift::apply
