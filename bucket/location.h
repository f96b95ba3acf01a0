// Where a spool lives in a bucket, and the names of its objects (spool/FORMAT.md, "Bucket
// layout"). ON THE WIRE: never rename a key.
//
//   PREFIX/log/<20-digit n>                the commit log, n = 1, 2, ... (bucket/log.h)
//   PREFIX/segments/<20-digit seq>.seg     sealed segments, byte for byte as on disk
//   PREFIX/checkpoints/<name>.ckpt         apply checkpoints (same framing as on disk)
//   PREFIX/snapshot/STATE                  the snapshot's state (same framing as on disk)
//   PREFIX/deadletter/<name>.dlq           dead letters of apply <name> (a copy)
//   PREFIX/status/capture.status           capture's ProcessStatus, uploaded by the shipper
//                                          (advisory; for `status`/`cutover --spool s3://`)
//   PREFIX/snapshot/{PLAN,claims/*,done/*} a snapshot by several workers (snapshot/bucket_snapshot.h)
//
// PREFIX may be empty (the spool fills the bucket); otherwise keys are PREFIX + "/" + name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/status.h"

namespace docshift::bucket {

inline constexpr std::string_view kS3Scheme = "s3://";
inline constexpr size_t kLogNumberDigits = 20;

struct BucketLocation {
  std::string bucket;
  std::string prefix;  // no leading or trailing '/'; may be empty

  // "s3://bucket/prefix", for messages.
  std::string ToString() const;
  // PREFIX + "/" + name (or name when PREFIX is empty).
  std::string Key(std::string_view name) const;
  // "s3://bucket/" + Key(name), for messages.
  std::string Url(std::string_view name) const;

  std::string LogDir() const;             // Key("log/")
  std::string LogKey(uint64_t n) const;   // Key("log/000...n")
  std::string SegmentKey(std::string_view file_name) const;
  std::string CheckpointsDir() const;     // Key("checkpoints/")
  std::string CheckpointKey(std::string_view name) const;
  std::string SnapshotStateKey() const;
  std::string DeadLetterKey(std::string_view name) const;
  std::string CaptureStatusKey() const;   // Key("status/capture.status")
};

// True for "s3://..." (the caller then parses it with ParseBucketUrl).
bool IsBucketUrl(std::string_view s);
// "s3://BUCKET" or "s3://BUCKET/PREFIX" (trailing '/' ignored). InvalidArgument naming
// `flag` and the rule for anything else: no bucket, a bucket name S3 refuses (3-63 of
// [a-z0-9.-], starting and ending with a letter or digit), empty path components, "." or
// "..", or characters outside [A-Za-z0-9._-/].
StatusOr<BucketLocation> ParseBucketUrl(std::string_view url, std::string_view flag);

// The n of a key "…log/<20 digits>" (its last component); nullopt if the name is not that.
std::optional<uint64_t> ParseLogNumber(std::string_view key_name);

}  // namespace docshift::bucket
