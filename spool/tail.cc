#include "spool/tail.h"

#include "spool/durable_mark.h"
#include "spool/format.h"
#include "spool/spool.h"

namespace docshift::spool {

SpoolTail::SpoolTail(Env* env, std::string dir, uint64_t from_seq)
    : env_(env), dir_(std::move(dir)), seg_dir_(JoinPath(dir_, kSegmentsDir)),
      next_seq_(from_seq) {}

std::string SpoolTail::current_file() const { return cur_ ? cur_->path() : std::string(); }

uint64_t SpoolTail::ReadLimit(uint64_t first_seq, bool known_sealed) {
  const DurableMark mark = ReadDurableMark(env_, dir_);
  if (known_sealed || mark.segment_first_seq >= first_seq) {
    return ReadableBytes(mark, first_seq, known_sealed);
  }
  // The mark is older than this segment (missing, or capture has not published since a
  // crash): only the manifest can say the segment is sealed.
  SpoolView view;
  if (!OpenSpoolView(env_, dir_, &view).ok()) return 0;
  for (const auto& s : view.segments) {
    if (s.first_seq == first_seq) return ReadableBytes(mark, first_seq, s.sealed);
  }
  return 0;
}

Status SpoolTail::OpenSegmentFor() {
  bool known_sealed = false;
  if (segment_first_ == 0) {
    // Locate the segment holding next_seq_: the last one starting at or before it.
    SpoolView view;
    RETURN_IF_ERROR(OpenSpoolView(env_, dir_, &view));
    const SegmentListing* found = nullptr;
    for (const auto& s : view.segments)
      if (s.first_seq <= next_seq_) found = &s;
    if (found == nullptr) {
      if (!view.segments.empty() && view.segments.front().first_seq > next_seq_) {
        return Status::NotFound("events from sequence " + std::to_string(next_seq_) +
                                " are no longer in spool " + dir_ +
                                " (retention deleted them); the oldest is " +
                                std::to_string(view.segments.front().first_seq));
      }
      // Nothing written yet at or before next_seq_: wait for the first segment.
      if (view.segments.empty() && next_seq_ == view.manifest.next_seq_after_sealed()) {
        segment_first_ = next_seq_;
      } else if (view.segments.empty()) {
        return Status::EndOfFile();
      }
    } else {
      segment_first_ = found->first_seq;
      known_sealed = found->sealed;
    }
  }
  const std::string path = JoinPath(seg_dir_, SegmentFileName(segment_first_));
  if (!env_->FileExists(path)) return Status::EndOfFile();  // not created yet
  const uint64_t limit = ReadLimit(segment_first_, known_sealed);
  if (limit == 0) return Status::EndOfFile();  // nothing of it durable yet
  ASSIGN_OR_RETURN(cur_, SegmentReader::Open(env_, path, false, limit));
  if (!cur_->has_header()) {
    cur_.reset();  // being created; try again later
    return Status::EndOfFile();
  }
  return Status::OK();
}

Status SpoolTail::Next(pb::ChangeBatch* batch) {
  bool refreshed = false;
  for (;;) {
    if (!cur_) RETURN_IF_ERROR(OpenSegmentFor());
    Status s = cur_->Next(batch);
    if (s.ok()) {
      const uint64_t first = batch->first_seq();
      const uint64_t count = static_cast<uint64_t>(batch->events_size());
      if (first + count <= next_seq_) continue;
      if (first < next_seq_) {
        batch->mutable_events()->DeleteSubrange(0, static_cast<int>(next_seq_ - first));
        batch->set_first_seq(next_seq_);
      }
      next_seq_ = batch->first_seq() + static_cast<uint64_t>(batch->events_size());
      return Status::OK();
    }
    if (!s.IsEndOfFile()) return s;
    if (cur_->sealed()) {
      segment_first_ = cur_->stats().next_seq;
      cur_.reset();
      continue;
    }
    // At the end of what the open segment held durably when last looked at: look again
    // once, at what capture has synced since.
    if (refreshed) return Status::EndOfFile();
    RETURN_IF_ERROR(cur_->Refresh(ReadLimit(segment_first_, false)));
    refreshed = true;
  }
}

}  // namespace docshift::spool
