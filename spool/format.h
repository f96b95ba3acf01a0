// On-disk constants of the spool. ON DISK: never renumber, never change a value; add new
// ones. spool/FORMAT.md is the prose version of this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace docshift::spool {

// Every spool file starts with an 8-byte magic and a 4-byte little-endian format version.
inline constexpr std::string_view kSegmentMagic = "DSHSEG01";
inline constexpr std::string_view kSegmentEndMagic = "DSHSEGND";  // after the footer
inline constexpr std::string_view kManifestMagic = "DSHMAN01";
inline constexpr std::string_view kCheckpointMagic = "DSHCKP01";
inline constexpr std::string_view kDeadLetterMagic = "DSHDLQ01";
inline constexpr std::string_view kSnapshotMagic = "DSHSNP01";
inline constexpr std::string_view kStatusMagic = "DSHSTA01";
inline constexpr std::string_view kVerifyStateMagic = "DSHVFY01";  // verify --state, outside spools
inline constexpr std::string_view kDurableMarkMagic = "DSHSYN01";  // DIR/SYNCED
inline constexpr std::string_view kBucketLogMagic = "DSHBLG01";    // PREFIX/log/<n> in a bucket
inline constexpr std::string_view kShippedMarkMagic = "DSHSHP01";  // DIR/shipped/<id>.mark
inline constexpr std::string_view kSnapshotClaimMagic = "DSHCLM01";  // PREFIX/snapshot/{claims,done}/<id>
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr size_t kPreambleSize = 12;  // magic (8) + version (4)

// Record header: length (4, LE, payload bytes) | masked crc32c (4, LE, over type byte and
// payload) | type (1).
inline constexpr size_t kRecordHeaderSize = 9;

enum RecordType : uint8_t {
  kRecordZero = 0,            // never written; zeroed (preallocated/lost) space reads as this
  kRecordSegmentHeader = 1,   // SegmentHeader protobuf, uncompressed
  kRecordBatch = 2,           // one zstd frame holding a ChangeBatch protobuf
  kRecordSegmentFooter = 3,   // SegmentFooter protobuf, uncompressed
  kRecordManifest = 4,        // ManifestRecord protobuf, uncompressed
  kRecordCheckpoint = 5,      // ApplyCheckpoint protobuf, uncompressed
  kRecordDeadLetter = 6,      // DeadLetter protobuf, uncompressed (apply, future)
  kRecordSnapshotState = 7,   // SnapshotState protobuf, uncompressed
  kRecordProcessStatus = 8,   // ProcessStatus protobuf, uncompressed (advisory)
  kRecordVerifyState = 9,     // VerifyStateRecord protobuf, uncompressed (verify --state)
  kRecordDurableMark = 10,    // DurableMark protobuf, uncompressed (DIR/SYNCED)
  kRecordBucketLog = 11,      // BucketLogRecord protobuf, uncompressed (PREFIX/log/<n>)
  kRecordShippedMark = 12,    // ShippedMark protobuf, uncompressed (DIR/shipped/<id>.mark)
  kRecordSnapshotClaim = 13,  // SnapshotClaim protobuf, uncompressed (PREFIX/snapshot/claims|done/<id>)
};

// Limits checked before anything is allocated. A length above these is corruption.
inline constexpr uint32_t kMaxRecordPayload = 256u << 20;     // 256 MiB compressed
inline constexpr uint64_t kMaxBatchRawBytes = 1024ull << 20;  // 1 GiB decompressed
inline constexpr uint64_t kMaxStateFileBytes = 16u << 20;     // checkpoints

// Segment file names: 20-digit zero-padded first sequence number + ".seg", so that `ls`
// order is replay order (Kafka's convention).
inline constexpr std::string_view kSegmentSuffix = ".seg";
inline constexpr size_t kSegmentNameDigits = 20;

// Layout of a spool directory.
inline constexpr std::string_view kManifestFile = "MANIFEST";
inline constexpr std::string_view kLockFile = "LOCK";
inline constexpr std::string_view kDurableMarkFile = "SYNCED";
inline constexpr std::string_view kSegmentsDir = "segments";
inline constexpr std::string_view kCheckpointsDir = "checkpoints";
inline constexpr std::string_view kCheckpointSuffix = ".ckpt";
inline constexpr std::string_view kSnapshotDir = "snapshot";
inline constexpr std::string_view kSnapshotStateFile = "STATE";
inline constexpr std::string_view kStatusDir = "status";
inline constexpr std::string_view kTempSuffix = ".tmp";
// Apply/prune coordination (spool/apply_lock.h): locks/prune.lock, locks/apply-<name>.lock.
inline constexpr std::string_view kLocksDir = "locks";
inline constexpr std::string_view kPruneLockFile = "prune.lock";
// Shipping to buckets (spool/shipped_mark.h): shipped/<16 hex digits>.mark.
inline constexpr std::string_view kShippedDir = "shipped";
inline constexpr std::string_view kShippedMarkSuffix = ".mark";

}  // namespace docshift::spool
