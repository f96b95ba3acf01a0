// The manifest: an append-only, fsynced log of what the spool holds (the "DynamoDB table"
// of seed 000). Records: one SpoolCreated first, then SegmentSealed / SegmentDeleted in
// the order they happened. Capture resumes from it; apply reads segments in its order.
//
//   preamble("DSHMAN01", version) | MANIFEST record*
//
// Each append is synced before it is acknowledged. Compaction rewrites the file with only
// the live records, atomically (temp → fsync → rename → fsync directory).
//
// Thread safety: ManifestWriter is used by one thread. ReadManifest may run in any
// process concurrently with a writer: a torn tail it sees is an append in progress.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "proto/spool.pb.h"
#include "spool/record.h"
#include "util/env.h"
#include "util/status.h"

namespace docshift::spool {

struct ManifestEntry {
  uint64_t offset = 0;
  pb::ManifestRecord record;
};

struct ManifestState {
  pb::SpoolCreated created;
  std::vector<pb::SegmentSealed> segments;  // live sealed segments, ascending sequence
  std::vector<pb::SegmentDeleted> deleted;  // every deletion recorded since compaction
  uint64_t valid_end = 0;                   // offset after the last valid record
  bool torn_tail = false;                   // an incomplete record follows valid_end
  std::string torn_reason;
  std::vector<ManifestEntry> entries;       // every record, if requested

  // Next sequence after the last sealed segment (1 for a new spool).
  uint64_t next_seq_after_sealed() const {
    return segments.empty() ? first_seq_after_deleted : segments.back().last_seq() + 1;
  }
  uint64_t first_seq_after_deleted = 1;  // when every sealed segment was deleted
};

// Reads and validates a manifest: framing, CRCs, a SpoolCreated first, sealed segments
// contiguous in sequence, deletions naming live segments. A torn tail is not an error
// (torn_tail is set); anything else wrong is Corruption naming file and offset.
Status ReadManifest(Env* env, const std::string& path, ManifestState* state,
                    bool keep_entries = false);

class ManifestWriter {
 public:
  // Creates a new manifest holding only `created`; syncs file and directory.
  static StatusOr<std::unique_ptr<ManifestWriter>> Create(Env* env, const std::string& path,
                                                          const pb::SpoolCreated& created);
  // Opens an existing manifest for appending. If state.torn_tail, first truncates the
  // file to state.valid_end (recovery; REQUIRES the writer lock).
  static StatusOr<std::unique_ptr<ManifestWriter>> Open(Env* env, const std::string& path,
                                                        const ManifestState& state);

  // Appends one record and syncs it. Acknowledged only when this returns OK.
  Status Append(const pb::ManifestRecord& record);
  // Rewrites the manifest with only `created` and the live segments of state, atomically.
  Status Compact(const ManifestState& state);
  uint64_t records_since_compaction() const { return records_; }

 private:
  ManifestWriter(Env* env, std::string path, std::unique_ptr<WritableFile> f, uint64_t records);
  Env* env_;
  std::string path_;
  std::unique_ptr<WritableFile> file_;
  uint64_t records_;
  std::string buf_;
};

}  // namespace docshift::spool
