#include "spool/record.h"

#include "util/coding.h"
#include "util/crc32c.h"

namespace docshift::spool {
namespace {

bool KnownType(uint8_t t) { return t >= kRecordSegmentHeader && t <= kRecordSnapshotClaim; }

uint32_t RecordCrc(uint8_t type, std::string_view payload) {
  uint32_t c = crc32c::Value(&type, 1);
  return crc32c::Extend(c, payload.data(), payload.size());
}

// Bounds on the work spent deciding whether valid data follows a bad record. Past them we
// answer "unknown", which callers treat like "yes" (corruption): never truncate on a guess.
constexpr uint64_t kMaxResyncScanBytes = 64ull << 20;
constexpr uint64_t kMaxResyncCrcBytes = 512ull << 20;

}  // namespace

void EncodeRecord(RecordType type, std::string_view payload, std::string* dst) {
  char h[kRecordHeaderSize];
  EncodeFixed32(h, static_cast<uint32_t>(payload.size()));
  EncodeFixed32(h + 4, crc32c::Mask(RecordCrc(type, payload)));
  h[8] = static_cast<char>(type);
  dst->append(h, kRecordHeaderSize);
  dst->append(payload.data(), payload.size());
}

std::string EncodePreamble(std::string_view magic) {
  std::string s(magic);
  PutFixed32(&s, kFormatVersion);
  return s;
}

Status CorruptionAt(const std::string& path, uint64_t offset, std::string_view what) {
  std::string m = BaseName(path);
  m += ": ";
  m += what;
  m += " at offset ";
  m += std::to_string(offset);
  m += " (file ";
  m += path;
  m += ")";
  return Status::Corruption(m);
}

Status NewerFormat(const std::string& path, uint64_t version) {
  return Status::NotSupported(BaseName(path) + ": written by a newer docshift (format version " +
                              std::to_string(version) + ", this build reads up to " +
                              std::to_string(kFormatVersion) + "); upgrade docshift (file " +
                              path + ")");
}

RecordScanner::RecordScanner(const RandomAccessFile* file, uint64_t file_size)
    : file_(file), size_(file_size) {}

Status RecordScanner::ReadPreamble(std::string_view magic) {
  pos_ = 0;
  valid_end_ = 0;
  if (size_ < kPreambleSize) {
    stop_ = Stop::kTornTail;
    stop_offset_ = 0;
    stop_reason_ = size_ == 0 ? "empty file" : "file shorter than its preamble";
    return Status::EndOfFile(stop_reason_);
  }
  RETURN_IF_ERROR(file_->Read(0, kPreambleSize, &buf_));
  if (buf_.size() < kPreambleSize) return Fail(0, "short read of preamble");
  if (std::string_view(buf_.data(), magic.size()) != magic) {
    return CorruptionAt(file_->path(), 0,
                        "wrong magic (expected " + std::string(magic) + ")");
  }
  uint32_t version = DecodeFixed32(buf_.data() + 8);
  if (version > kFormatVersion) return NewerFormat(file_->path(), version);
  if (version != kFormatVersion) {
    return CorruptionAt(file_->path(), 8,
                        "unsupported format version " + std::to_string(version) +
                            " (this docshift reads version " + std::to_string(kFormatVersion) +
                            ")");
  }
  pos_ = valid_end_ = kPreambleSize;
  return Status::OK();
}

Status RecordScanner::Fail(uint64_t offset, const std::string& why) {
  // A bad record: a torn tail if nothing valid follows, else corruption.
  if (ValidRecordFollows(offset + 1)) {
    stop_ = Stop::kCorruption;
    stop_offset_ = offset;
    stop_reason_ = why;
    return CorruptionAt(file_->path(), offset, why);
  }
  stop_ = Stop::kTornTail;
  stop_offset_ = offset;
  stop_reason_ = why;
  return Status::EndOfFile("torn tail: " + why);
}

Status RecordScanner::Next(Record* rec) {
  if (stop_ != Stop::kNone) return Status::EndOfFile(stop_reason_);
  if (pos_ == size_) {
    stop_ = Stop::kCleanEnd;
    stop_offset_ = pos_;
    stop_reason_ = "end of file";
    return Status::EndOfFile();
  }
  if (size_ - pos_ < kRecordHeaderSize) return Fail(pos_, "incomplete record header");
  RETURN_IF_ERROR(file_->Read(pos_, kRecordHeaderSize, &buf_));
  if (buf_.size() < kRecordHeaderSize) return Fail(pos_, "short read of record header");
  const uint32_t length = DecodeFixed32(buf_.data());
  const uint32_t masked = DecodeFixed32(buf_.data() + 4);
  const uint8_t type = static_cast<uint8_t>(buf_[8]);
  if (length > kMaxRecordPayload) {
    return Fail(pos_, "bad record length " + std::to_string(length));
  }
  if (pos_ + kRecordHeaderSize + length > size_) {
    return Fail(pos_, "record length " + std::to_string(length) + " runs past end of file");
  }
  rec->payload.clear();
  RETURN_IF_ERROR(file_->Read(pos_ + kRecordHeaderSize, length, &rec->payload));
  if (rec->payload.size() != length) return Fail(pos_, "short read of record payload");
  if (crc32c::Unmask(masked) != RecordCrc(type, rec->payload)) {
    return Fail(pos_, "checksum mismatch");
  }
  if (!KnownType(type)) {
    // Checksummed and intact, so written deliberately: a newer format or a bug, never a
    // torn write. Always corruption.
    stop_ = Stop::kCorruption;
    stop_offset_ = pos_;
    stop_reason_ = "unknown record type " + std::to_string(type);
    return CorruptionAt(file_->path(), pos_, stop_reason_);
  }
  rec->type = static_cast<RecordType>(type);
  rec->offset = pos_;
  pos_ += kRecordHeaderSize + length;
  valid_end_ = pos_;
  return Status::OK();
}

void RecordScanner::Resume(uint64_t new_size) {
  if (stop_ != Stop::kCleanEnd && stop_ != Stop::kTornTail) return;
  if (pos_ < kPreambleSize) return;  // preamble never read: reopen instead
  stop_ = Stop::kNone;
  stop_reason_.clear();
  pos_ = valid_end_;
  size_ = new_size;
}

void RecordScanner::Unread(uint64_t offset, const std::string& why) {
  pos_ = valid_end_ = offset;
  stop_ = Stop::kTornTail;
  stop_offset_ = offset;
  stop_reason_ = why;
}

bool RecordScanner::ValidRecordFollows(uint64_t from) const {
  if (from >= size_) return false;
  const uint64_t span = size_ - from;
  if (span > kMaxResyncScanBytes) return true;  // too much to check: assume the worst
  std::string rest;
  if (!file_->Read(from, span, &rest).ok()) return true;
  uint64_t crc_budget = kMaxResyncCrcBytes;
  for (size_t i = 0; i + kRecordHeaderSize <= rest.size(); ++i) {
    const uint8_t type = static_cast<uint8_t>(rest[i + 8]);
    if (!KnownType(type)) continue;
    const uint32_t length = DecodeFixed32(rest.data() + i);
    if (length > rest.size() - i - kRecordHeaderSize) continue;
    if (length > crc_budget) return true;
    crc_budget -= length;
    const uint32_t masked = DecodeFixed32(rest.data() + i + 4);
    if (crc32c::Unmask(masked) ==
        RecordCrc(type, std::string_view(rest.data() + i + kRecordHeaderSize, length))) {
      return true;
    }
  }
  return false;
}

}  // namespace docshift::spool
