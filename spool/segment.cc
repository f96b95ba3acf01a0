#include "spool/segment.h"

#include <algorithm>

#include <zstd.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "util/crc32c.h"
#include "util/duration.h"

namespace docshift::spool {
namespace {

}  // namespace

std::string SegmentFileName(uint64_t first_seq) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020llu", static_cast<unsigned long long>(first_seq));
  return std::string(buf) + std::string(kSegmentSuffix);
}

bool ParseSegmentFileName(const std::string& name, uint64_t* first_seq) {
  if (name.size() != kSegmentNameDigits + kSegmentSuffix.size()) return false;
  if (name.compare(kSegmentNameDigits, std::string::npos, kSegmentSuffix) != 0) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < kSegmentNameDigits; ++i) {
    char c = name[i];
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *first_seq = v;
  return true;
}

// ---- BatchCodec ----

struct BatchCodec::Impl {
  struct CctxFree {
    void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
  };
  struct DctxFree {
    void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
  };
  std::unique_ptr<ZSTD_CCtx, CctxFree> cctx;
  std::unique_ptr<ZSTD_DCtx, DctxFree> dctx;
  int level;
  std::string raw;
};

BatchCodec::BatchCodec(int zstd_level) : impl_(std::make_unique<Impl>()) {
  impl_->level = zstd_level;
}
BatchCodec::~BatchCodec() = default;

Status BatchCodec::Encode(const pb::ChangeBatch& batch, std::string* out, uint64_t* raw_size) {
  if (!impl_->cctx) {
    impl_->cctx.reset(ZSTD_createCCtx());
    if (!impl_->cctx) return Status::Internal("ZSTD_createCCtx failed");
    ZSTD_CCtx_setParameter(impl_->cctx.get(), ZSTD_c_compressionLevel, impl_->level);
    // The frame records its content size, so a reader can bound the allocation first.
    ZSTD_CCtx_setParameter(impl_->cctx.get(), ZSTD_c_contentSizeFlag, 1);
  }
  if (!batch.SerializeToString(&impl_->raw)) return Status::Internal("serializing batch failed");
  if (impl_->raw.size() > kMaxBatchRawBytes) {
    return Status::InvalidArgument("batch of " + std::to_string(impl_->raw.size()) +
                                   " bytes exceeds the per-batch limit");
  }
  *raw_size = impl_->raw.size();
  out->resize(ZSTD_compressBound(impl_->raw.size()));
  size_t n = ZSTD_compress2(impl_->cctx.get(), out->data(), out->size(), impl_->raw.data(),
                            impl_->raw.size());
  if (ZSTD_isError(n)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(n));
  out->resize(n);
  return Status::OK();
}

Status BatchCodec::Decode(std::string_view payload, const std::string& path, uint64_t offset,
                          pb::ChangeBatch* batch, uint64_t* raw_size) {
  if (!impl_->dctx) {
    impl_->dctx.reset(ZSTD_createDCtx());
    if (!impl_->dctx) return Status::Internal("ZSTD_createDCtx failed");
  }
  unsigned long long size = ZSTD_getFrameContentSize(payload.data(), payload.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
    return CorruptionAt(path, offset, "batch is not a zstd frame with a content size");
  }
  if (size > kMaxBatchRawBytes) {
    return CorruptionAt(path, offset, "batch claims " + std::to_string(size) +
                                          " uncompressed bytes, over the limit");
  }
  impl_->raw.resize(size);
  size_t n = ZSTD_decompressDCtx(impl_->dctx.get(), impl_->raw.data(), impl_->raw.size(),
                                 payload.data(), payload.size());
  if (ZSTD_isError(n) || n != size) {
    return CorruptionAt(path, offset,
                        std::string("zstd decompression failed: ") +
                            (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "size mismatch"));
  }
  if (!batch->ParseFromString(impl_->raw)) {
    return CorruptionAt(path, offset, "batch does not parse as a ChangeBatch");
  }
  if (raw_size) *raw_size = size;
  return Status::OK();
}

// ---- SegmentStats ----

void SegmentStats::Add(const pb::ChangeBatch& batch, uint64_t raw, uint64_t compressed) {
  batch_count++;
  raw_bytes += raw;
  compressed_bytes += compressed;
  for (const auto& e : batch.events()) {
    if (event_count == 0) {
      first_cluster_time = e.cluster_time();
      first_wall_ms = e.capture_wall_ms();
    }
    event_count++;
    if (e.cluster_time() != 0) last_cluster_time = e.cluster_time();
    last_wall_ms = e.capture_wall_ms();
  }
  next_seq = first_seq + event_count;
  if (!batch.resume_token().empty()) {
    last_resume_token = batch.resume_token();
    resume_cluster_time = batch.resume_cluster_time();
  }
}

void SegmentStats::ToFooter(pb::SegmentFooter* f) const {
  f->set_first_seq(first_seq);
  f->set_last_seq(next_seq - 1);
  f->set_event_count(event_count);
  f->set_batch_count(batch_count);
  f->set_first_cluster_time(first_cluster_time);
  f->set_last_cluster_time(last_cluster_time);
  f->set_raw_bytes(raw_bytes);
  f->set_compressed_bytes(compressed_bytes);
  f->set_last_resume_token(last_resume_token);
}

// ---- SegmentWriter ----

SegmentWriter::SegmentWriter(Env* env, std::unique_ptr<WritableFile> file, int zstd_level)
    : env_(env), file_(std::move(file)), codec_(zstd_level), opened_wall_ms_(NowMs()) {}

SegmentWriter::~SegmentWriter() = default;

StatusOr<std::unique_ptr<SegmentWriter>> SegmentWriter::Create(Env* env, const std::string& dir,
                                                               const pb::SegmentHeader& header,
                                                               int zstd_level) {
  const std::string path = JoinPath(dir, SegmentFileName(header.first_seq()));
  ASSIGN_OR_RETURN(auto file, env->NewWritableFile(path));
  std::unique_ptr<SegmentWriter> w(new SegmentWriter(env, std::move(file), zstd_level));
  w->stats_.first_seq = w->stats_.next_seq = header.first_seq();
  std::string buf = EncodePreamble(kSegmentMagic);
  EncodeRecord(kRecordSegmentHeader, header.SerializeAsString(), &buf);
  Status s = w->AppendRaw(buf);
  if (s.ok()) s = w->file_->Sync();
  if (s.ok()) s = env->SyncDir(dir);
  if (!s.ok()) {
    // Nothing in it was acknowledged: remove it, or a retry could never create it.
    w.reset();
    Status d = env->DeleteFile(path);
    if (!d.ok()) return s.WithContext(d.ToString());
    return s;
  }
  return w;
}

StatusOr<std::unique_ptr<SegmentWriter>> SegmentWriter::Reopen(Env* env, const std::string& path,
                                                               const SegmentStats& stats,
                                                               uint32_t file_crc,
                                                               int zstd_level) {
  ASSIGN_OR_RETURN(auto file, env->NewAppendableFile(path));
  std::unique_ptr<SegmentWriter> w(new SegmentWriter(env, std::move(file), zstd_level));
  w->stats_ = stats;
  w->file_crc_ = file_crc;
  return w;
}

Status SegmentWriter::AppendRaw(std::string_view data) {
  if (broken_) return Status::IOError(path() + ": writer is unusable after an earlier error");
  const uint64_t before = file_->Size();
  Status s = file_->Append(data);
  if (!s.ok()) {
    // Cut the partial record off so the file again ends on a record boundary.
    Status t = env_->Truncate(path(), before);
    if (!t.ok()) broken_ = true;
    // Reopen the descriptor's notion of size.
    // (The old file stays open until the new one is: path() reads it.)
    if (!broken_) {
      auto f = env_->NewAppendableFile(path());
      if (f.ok()) {
        file_ = std::move(f).value();
      } else {
        broken_ = true;
      }
    }
    return s;
  }
  file_crc_ = crc32c::Extend(file_crc_, data.data(), data.size());
  return Status::OK();
}

Status SegmentWriter::Append(const pb::ChangeBatch& batch) {
  if (batch.first_seq() != stats_.next_seq) {
    return Status::Internal("batch first_seq " + std::to_string(batch.first_seq()) +
                            " != segment next_seq " + std::to_string(stats_.next_seq));
  }
  uint64_t raw = 0;
  RETURN_IF_ERROR(codec_.Encode(batch, &compressed_, &raw));
  buf_.clear();
  EncodeRecord(kRecordBatch, compressed_, &buf_);
  RETURN_IF_ERROR(AppendRaw(buf_));
  stats_.Add(batch, raw, compressed_.size());
  return Status::OK();
}

Status SegmentWriter::Sync() {
  if (broken_) return Status::IOError(path() + ": writer is unusable after an earlier error");
  return file_->Sync();
}

StatusOr<pb::SegmentSealed> SegmentWriter::Seal(int64_t now_ms) {
  pb::SegmentFooter footer;
  stats_.ToFooter(&footer);
  footer.set_sealed_wall_ms(now_ms);
  buf_.clear();
  EncodeRecord(kRecordSegmentFooter, footer.SerializeAsString(), &buf_);
  buf_.append(kSegmentEndMagic);
  RETURN_IF_ERROR(AppendRaw(buf_));
  RETURN_IF_ERROR(file_->Sync());
  RETURN_IF_ERROR(file_->Close());
  pb::SegmentSealed sealed;
  sealed.set_file_name(BaseName(path()));
  sealed.set_first_seq(stats_.first_seq);
  sealed.set_last_seq(stats_.next_seq - 1);
  sealed.set_first_cluster_time(stats_.first_cluster_time);
  sealed.set_last_cluster_time(stats_.last_cluster_time);
  sealed.set_event_count(stats_.event_count);
  sealed.set_file_bytes(file_->Size());
  sealed.set_raw_bytes(stats_.raw_bytes);
  sealed.set_file_crc32c(file_crc_);
  sealed.set_last_resume_token(stats_.last_resume_token);
  sealed.set_resume_cluster_time(stats_.resume_cluster_time);
  sealed.set_sealed_wall_ms(now_ms);
  sealed.set_first_wall_ms(stats_.first_wall_ms);
  sealed.set_last_wall_ms(stats_.last_wall_ms);
  return sealed;
}

// ---- SegmentReader ----

SegmentReader::SegmentReader(std::unique_ptr<RandomAccessFile> f, uint64_t size, bool compute_crc)
    : file_(std::move(f)), file_size_(size), scanner_(file_.get(), size),
      compute_crc_(compute_crc) {}

StatusOr<std::unique_ptr<SegmentReader>> SegmentReader::Open(Env* env, const std::string& path,
                                                             bool compute_file_crc,
                                                             uint64_t read_limit) {
  ASSIGN_OR_RETURN(auto f, env->NewRandomAccessFile(path));
  ASSIGN_OR_RETURN(uint64_t size, f->Size());
  size = std::min(size, read_limit);
  std::unique_ptr<SegmentReader> r(new SegmentReader(std::move(f), size, compute_file_crc));
  Status s = r->scanner_.ReadPreamble(kSegmentMagic);
  if (s.IsEndOfFile()) {
    // Empty or shorter than the preamble: a segment whose creation was cut short.
    r->done_ = true;
    return r;
  }
  RETURN_IF_ERROR(s);
  s = r->scanner_.Next(&r->rec_);
  if (s.IsEndOfFile()) {
    r->done_ = true;  // header record torn: the creation was cut short
    return r;
  }
  RETURN_IF_ERROR(s);
  if (r->rec_.type != kRecordSegmentHeader) {
    return CorruptionAt(path, r->rec_.offset,
                        "expected segment header record, found type " +
                            std::to_string(r->rec_.type));
  }
  if (!r->header_.ParseFromString(r->rec_.payload)) {
    return CorruptionAt(path, r->rec_.offset, "segment header does not parse");
  }
  if (r->header_.format_version() > kFormatVersion) {
    return NewerFormat(path, r->header_.format_version());
  }
  uint64_t named_seq = 0;
  if (ParseSegmentFileName(BaseName(path), &named_seq) && named_seq != r->header_.first_seq()) {
    return CorruptionAt(path, r->rec_.offset,
                        "header says first sequence " + std::to_string(r->header_.first_seq()) +
                            " but the file is named for " + std::to_string(named_seq));
  }
  r->has_header_ = true;
  r->stats_.first_seq = r->stats_.next_seq = r->header_.first_seq();
  r->valid_end_ = r->scanner_.valid_end();
  r->ExtendCrc(r->valid_end_);
  return r;
}

void SegmentReader::ExtendCrc(uint64_t upto) {
  if (!compute_crc_ || upto <= crc_pos_) return;
  std::string chunk;
  while (crc_pos_ < upto) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(upto - crc_pos_, 4u << 20));
    if (!file_->Read(crc_pos_, n, &chunk).ok() || chunk.empty()) return;
    crc_ = crc32c::Extend(crc_, chunk.data(), chunk.size());
    crc_pos_ += chunk.size();
  }
}

Status SegmentReader::CheckFooterAndEnd(const Record& rec) {
  const std::string& p = path();
  if (!footer_.ParseFromString(rec.payload)) {
    return CorruptionAt(p, rec.offset, "segment footer does not parse");
  }
  const uint64_t end_pos = scanner_.position();
  if (file_size_ - end_pos < kSegmentEndMagic.size()) {
    // Footer written, end magic not (yet): the seal was cut short. Not sealed; the
    // truncation point stays before the footer.
    scanner_.Unread(rec.offset, "footer without end magic");
    return Status::EndOfFile("footer without end magic");
  }
  std::string magic;
  RETURN_IF_ERROR(file_->Read(end_pos, kSegmentEndMagic.size(), &magic));
  if (magic != kSegmentEndMagic) return CorruptionAt(p, end_pos, "bad end magic after footer");
  if (end_pos + kSegmentEndMagic.size() != file_size_) {
    return CorruptionAt(p, end_pos + kSegmentEndMagic.size(), "bytes after the end magic");
  }
  if (footer_.first_seq() != stats_.first_seq || footer_.last_seq() != stats_.next_seq - 1 ||
      footer_.event_count() != stats_.event_count ||
      footer_.batch_count() != stats_.batch_count) {
    return CorruptionAt(p, rec.offset,
                        "footer (seq " + std::to_string(footer_.first_seq()) + ".." +
                            std::to_string(footer_.last_seq()) + ", " +
                            std::to_string(footer_.event_count()) +
                            " events) disagrees with the records (seq " +
                            std::to_string(stats_.first_seq) + ".." +
                            std::to_string(stats_.next_seq - 1) + ", " +
                            std::to_string(stats_.event_count) + " events)");
  }
  sealed_ = true;
  ExtendCrc(file_size_);
  return Status::OK();
}

Status SegmentReader::Refresh(uint64_t read_limit) {
  if (sealed_) return Status::OK();
  if (!has_header_) return Status::Unavailable(path() + ": header not complete yet; reopen");
  if (scanner_.stop() == RecordScanner::Stop::kCorruption) {
    return CorruptionAt(path(), scanner_.stop_offset(), scanner_.stop_reason());
  }
  ASSIGN_OR_RETURN(uint64_t size, file_->Size());
  size = std::min(size, read_limit);
  if (size < file_size_) size = file_size_;  // a limit never takes back what was read
  // A footer whose end magic was still missing is re-read as a record.
  scanner_.Resume(size);
  file_size_ = size;
  done_ = false;
  return Status::OK();
}

Status SegmentReader::Next(pb::ChangeBatch* batch, uint64_t* offset) {
  if (done_) return Status::EndOfFile();
  Status s = scanner_.Next(&rec_);
  if (!s.ok()) {
    done_ = true;
    return s;  // EndOfFile (clean or torn) or Corruption
  }
  switch (rec_.type) {
    case kRecordBatch: {
      uint64_t raw = 0;
      RETURN_IF_ERROR(codec_.Decode(rec_.payload, path(), rec_.offset, batch, &raw));
      if (batch->first_seq() != stats_.next_seq) {
        done_ = true;
        return CorruptionAt(path(), rec_.offset,
                            "batch starts at sequence " + std::to_string(batch->first_seq()) +
                                ", expected " + std::to_string(stats_.next_seq));
      }
      stats_.Add(*batch, raw, rec_.payload.size());
      valid_end_ = scanner_.valid_end();
      ExtendCrc(valid_end_);
      if (offset) *offset = rec_.offset;
      return Status::OK();
    }
    case kRecordSegmentFooter: {
      done_ = true;
      Status f = CheckFooterAndEnd(rec_);
      if (f.IsEndOfFile()) return f;
      RETURN_IF_ERROR(f);
      return Status::EndOfFile("sealed");
    }
    default:
      done_ = true;
      return CorruptionAt(path(), rec_.offset,
                          "unexpected record type " + std::to_string(rec_.type) +
                              " in a segment");
  }
}

}  // namespace docshift::spool
