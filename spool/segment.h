// Segment files: the spool's unit of storage (the "S3 objects" of seed 000).
//
//   preamble("DSHSEG01", version) | HEADER record | BATCH record* | FOOTER record | "DSHSEGND"
//
// A segment without footer and end magic is *open*: capture is appending to it, or
// crashed while doing so. Each BATCH record is one zstd frame of a ChangeBatch; its CRC
// covers the compressed bytes. See spool/FORMAT.md.
//
// Thread safety: SegmentWriter and SegmentReader are not thread safe; one thread each.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "proto/spool.pb.h"
#include "spool/record.h"
#include "util/env.h"
#include "util/status.h"

namespace docshift::spool {

std::string SegmentFileName(uint64_t first_seq);
// True if name is a well-formed segment file name; sets *first_seq.
bool ParseSegmentFileName(const std::string& name, uint64_t* first_seq);

// Compresses and decompresses batch payloads. Owns its zstd contexts (reused across
// calls). Not thread safe.
class BatchCodec {
 public:
  explicit BatchCodec(int zstd_level = 1);
  ~BatchCodec();
  BatchCodec(const BatchCodec&) = delete;
  BatchCodec& operator=(const BatchCodec&) = delete;

  // Serializes and compresses batch into *out (replacing it); *raw_size gets the
  // serialized size.
  Status Encode(const pb::ChangeBatch& batch, std::string* out, uint64_t* raw_size);
  // Decompresses and parses. Any failure is Corruption naming path and offset. The
  // decompressed size is bounded by kMaxBatchRawBytes before allocating.
  Status Decode(std::string_view payload, const std::string& path, uint64_t offset,
                pb::ChangeBatch* batch, uint64_t* raw_size = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Running totals of a segment; what the footer and the manifest entry record.
struct SegmentStats {
  uint64_t first_seq = 0;
  uint64_t next_seq = 0;  // first_seq + event_count
  uint64_t event_count = 0;
  uint64_t batch_count = 0;
  uint64_t first_cluster_time = 0;
  uint64_t last_cluster_time = 0;
  uint64_t raw_bytes = 0;
  uint64_t compressed_bytes = 0;
  std::string last_resume_token;
  uint64_t resume_cluster_time = 0;
  int64_t first_wall_ms = 0;  // capture wall time of first/last event
  int64_t last_wall_ms = 0;

  void Add(const pb::ChangeBatch& batch, uint64_t raw, uint64_t compressed);
  void ToFooter(pb::SegmentFooter* f) const;
};

class SegmentWriter {
 public:
  // Creates segments/<first_seq>.seg (never overwriting), writes preamble and header,
  // syncs the file and its directory.
  static StatusOr<std::unique_ptr<SegmentWriter>> Create(Env* env, const std::string& dir,
                                                         const pb::SegmentHeader& header,
                                                         int zstd_level);
  // Continues an open segment after recovery. REQUIRES: the file holds exactly the valid
  // records described by stats (recovery truncated any torn tail) and no footer.
  static StatusOr<std::unique_ptr<SegmentWriter>> Reopen(Env* env, const std::string& path,
                                                         const SegmentStats& stats,
                                                         uint32_t file_crc, int zstd_level);
  ~SegmentWriter();

  // Appends one batch. REQUIRES: batch.first_seq() == stats().next_seq. Not durable
  // until Sync(). On a failed write the partial record is cut off again so the file
  // never holds half a record counted as written; if that fails too, the writer is
  // broken and every later call fails (recovery on restart repairs the file).
  Status Append(const pb::ChangeBatch& batch);
  Status Sync();
  // Writes footer and end magic, syncs and closes. Returns the manifest entry.
  StatusOr<pb::SegmentSealed> Seal(int64_t now_ms);

  const SegmentStats& stats() const { return stats_; }
  uint64_t file_size() const { return file_->Size(); }
  const std::string& path() const { return file_->path(); }
  int64_t opened_wall_ms() const { return opened_wall_ms_; }

 private:
  SegmentWriter(Env* env, std::unique_ptr<WritableFile> file, int zstd_level);
  Status AppendRaw(std::string_view data);

  Env* env_;
  std::unique_ptr<WritableFile> file_;
  BatchCodec codec_;
  SegmentStats stats_;
  uint32_t file_crc_ = 0;
  bool broken_ = false;
  int64_t opened_wall_ms_ = 0;
  std::string buf_;
  std::string compressed_;
};

// Reads one segment front to back, validating framing, checksums, sequence continuity and
// the footer. Bounded memory: one batch at a time.
class SegmentReader {
 public:
  // compute_file_crc: also crc32c the raw file bytes as they are read (recovery and
  // `inspect verify` need it; apply does not).
  // read_limit: read at most this many bytes of the file (the durable watermark of an
  // open segment, spool/durable_mark.h); what lies beyond is treated as not written yet.
  static StatusOr<std::unique_ptr<SegmentReader>> Open(Env* env, const std::string& path,
                                                       bool compute_file_crc = false,
                                                       uint64_t read_limit = UINT64_MAX);

  const pb::SegmentHeader& header() const { return header_; }
  // False when the file ends before a complete header record: a creation cut short
  // by a crash (nothing in it was ever acknowledged).
  bool has_header() const { return has_header_; }
  // Next batch. OK; EndOfFile at the end (then sealed() tells whether the footer and end
  // magic were found, stop() why the scan ended); Corruption naming file and offset.
  Status Next(pb::ChangeBatch* batch, uint64_t* offset = nullptr);
  // For tailing an open segment: after Next() returned EndOfFile at an unsealed end,
  // picks up what the writer appended since. Unavailable if the header itself was not
  // complete when opened (reopen the file instead); no-op once sealed.
  Status Refresh(uint64_t read_limit = UINT64_MAX);
  bool sealed() const { return sealed_; }
  const pb::SegmentFooter& footer() const { return footer_; }
  RecordScanner::Stop stop() const { return scanner_.stop(); }
  const std::string& stop_reason() const { return scanner_.stop_reason(); }
  uint64_t stop_offset() const { return scanner_.stop_offset(); }
  // End of the last complete batch record (the truncation point for an open segment).
  uint64_t valid_end() const { return valid_end_; }
  // crc32c of bytes [0, valid_end()), or of the whole file once sealed() (REQUIRES:
  // opened with compute_file_crc).
  uint32_t file_crc() const { return crc_; }
  const SegmentStats& stats() const { return stats_; }
  uint64_t file_size() const { return file_size_; }
  const std::string& path() const { return file_->path(); }

 private:
  SegmentReader(std::unique_ptr<RandomAccessFile> f, uint64_t size, bool compute_crc);
  Status CheckFooterAndEnd(const Record& rec);
  void ExtendCrc(uint64_t upto);

  std::unique_ptr<RandomAccessFile> file_;
  uint64_t file_size_;
  RecordScanner scanner_;
  BatchCodec codec_;
  pb::SegmentHeader header_;
  pb::SegmentFooter footer_;
  SegmentStats stats_;
  bool sealed_ = false;
  bool done_ = false;
  bool has_header_ = false;
  uint64_t valid_end_ = 0;
  uint32_t crc_ = 0;
  uint64_t crc_pos_ = 0;
  bool compute_crc_ = false;
  Record rec_;
};

}  // namespace docshift::spool
