// Record framing shared by every spool file (segments, manifest, checkpoints).
//
// A file is: preamble (magic + version) then records, each
//   [u32 payload length][u32 masked crc32c(type || payload)][u8 type][payload]
// The reader distinguishes three ways a scan can stop (leveldb's log_reader, Kudu's
// log_util): a clean end, a *torn tail* (the writer died mid-append: an incomplete
// header or payload at the end of the file, or a bad record after which no valid record
// follows), and *corruption* (a bad record with valid data after it, or a bad preamble).
// The reader only reports; the owner decides the policy (truncate a torn tail of an open
// file during recovery; refuse anything wrong in a sealed one).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "spool/format.h"
#include "util/env.h"
#include "util/status.h"

namespace docshift::spool {

// Appends the framed record to *dst.
void EncodeRecord(RecordType type, std::string_view payload, std::string* dst);
std::string EncodePreamble(std::string_view magic);

struct Record {
  RecordType type = kRecordZero;
  uint64_t offset = 0;        // of the record header in the file
  std::string payload;
};

// Sequential scanner over one file. Not thread safe.
class RecordScanner {
 public:
  enum class Stop { kNone, kCleanEnd, kTornTail, kCorruption };

  // REQUIRES: file outlives the scanner.
  RecordScanner(const RandomAccessFile* file, uint64_t file_size);

  // Checks the preamble. Corruption names file and offset 0; a version above
  // kFormatVersion is NotSupported (NewerFormat). An empty file or one
  // shorter than the preamble is reported as a torn tail at offset 0 (Stop::kTornTail).
  Status ReadPreamble(std::string_view magic);

  // Next record. OK with *rec filled; or EndOfFile with stop() telling why the scan
  // ended (clean end or torn tail at stop_offset()); or Corruption naming file and
  // offset. Payload length is bounded by kMaxRecordPayload before allocating.
  Status Next(Record* rec);

  // Offset just past the last valid record (the size to truncate to on a torn tail).
  uint64_t valid_end() const { return valid_end_; }
  Stop stop() const { return stop_; }
  uint64_t stop_offset() const { return stop_offset_; }
  const std::string& stop_reason() const { return stop_reason_; }
  // Position of the next read; lets an owner read trailing non-record bytes (end magic).
  uint64_t position() const { return pos_; }
  void set_position(uint64_t pos) { pos_ = pos; }
  // After a clean end or torn tail, continues from valid_end() over a file that has grown
  // to new_size (tailing a segment another process is appending to). No-op after
  // corruption.
  void Resume(uint64_t new_size);
  // Treats the record at `offset` (already returned) as a torn tail: the scan ends there
  // and a Resume() re-reads it.
  void Unread(uint64_t offset, const std::string& why);

 private:
  // Whether any valid record header+payload starts at or after `from`.
  bool ValidRecordFollows(uint64_t from) const;
  Status Fail(uint64_t offset, const std::string& why);

  const RandomAccessFile* file_;
  uint64_t size_;
  uint64_t pos_ = 0;
  uint64_t valid_end_ = 0;
  Stop stop_ = Stop::kNone;
  uint64_t stop_offset_ = 0;
  std::string stop_reason_;
  std::string buf_;
};

// "file: what at offset N" for Corruption messages.
Status CorruptionAt(const std::string& path, uint64_t offset, std::string_view what);
// NotSupported: "file: written by a newer docshift (format version N, this build reads up
// to M); upgrade docshift". For a preamble or a header field carrying a version above
// kFormatVersion: the file is intact, this build is too old to read it.
Status NewerFormat(const std::string& path, uint64_t version);

}  // namespace docshift::spool
