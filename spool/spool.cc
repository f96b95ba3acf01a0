#include "spool/spool.h"

#include <glog/logging.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "spool/apply_lock.h"
#include "spool/checkpoint.h"
#include "spool/format.h"
#include "spool/shipped_mark.h"
#include "util/duration.h"

namespace docshift::spool {
namespace {

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), std::string::npos, suffix) == 0;
}

Status RemoveTempFiles(Env* env, const std::string& dir, int* removed) {
  ASSIGN_OR_RETURN(auto names, env->GetChildren(dir));
  bool any = false;
  for (const auto& n : names) {
    if (!EndsWith(n, kTempSuffix)) continue;
    RETURN_IF_ERROR(env->DeleteFile(JoinPath(dir, n)));
    ++*removed;
    any = true;
  }
  if (any) RETURN_IF_ERROR(env->SyncDir(dir));
  return Status::OK();
}

pb::SegmentSealed SealedFromReader(const SegmentReader& r) {
  const SegmentStats& st = r.stats();
  pb::SegmentSealed s;
  s.set_file_name(BaseName(r.path()));
  s.set_first_seq(st.first_seq);
  s.set_last_seq(st.next_seq - 1);
  s.set_first_cluster_time(st.first_cluster_time);
  s.set_last_cluster_time(st.last_cluster_time);
  s.set_event_count(st.event_count);
  s.set_file_bytes(r.file_size());
  s.set_raw_bytes(st.raw_bytes);
  s.set_file_crc32c(r.file_crc());
  s.set_last_resume_token(st.last_resume_token);
  s.set_resume_cluster_time(st.resume_cluster_time);
  s.set_sealed_wall_ms(r.footer().sealed_wall_ms());
  s.set_first_wall_ms(st.first_wall_ms);
  s.set_last_wall_ms(st.last_wall_ms);
  return s;
}

// A seal whose manifest append failed (disk full) leaves a sealed segment, ending at
// next_seq - 1, that the manifest does not list. Records it, as recovery would, before
// anything else goes into the manifest. REQUIRES: no segment is open.
Status RecordUnlistedSeal(Env* env, const std::string& segments_dir, uint64_t next_seq,
                          ManifestState* manifest, ManifestWriter* writer) {
  const uint64_t first = manifest->next_seq_after_sealed();
  if (first == next_seq) return Status::OK();
  ASSIGN_OR_RETURN(auto reader, SegmentReader::Open(env, JoinPath(segments_dir,
                                                                  SegmentFileName(first)),
                                                    /*compute_file_crc=*/true));
  pb::ChangeBatch batch;
  Status s;
  while ((s = reader->Next(&batch)).ok()) {
  }
  if (!s.IsEndOfFile()) return s;
  if (!reader->sealed() || reader->stats().next_seq != next_seq) {
    return Status::Internal(reader->path() + ": expected a sealed segment ending at sequence " +
                            std::to_string(next_seq - 1));
  }
  pb::ManifestRecord r;
  *r.mutable_sealed() = SealedFromReader(*reader);
  RETURN_IF_ERROR(writer->Append(r));
  manifest->segments.push_back(r.sealed());
  return Status::OK();
}

}  // namespace

std::string RecoveryReport::ToString() const {
  std::string s;
  auto add = [&](const std::string& part) {
    if (!s.empty()) s += "; ";
    s += part;
  };
  if (created) add("created a new spool");
  if (temp_files_removed) add("removed " + std::to_string(temp_files_removed) + " temp files");
  if (orphan_segments_removed)
    add("removed " + std::to_string(orphan_segments_removed) + " files of deleted segments");
  if (manifest_tail_truncated) add("truncated a torn manifest tail");
  if (open_segment_truncated_bytes)
    add("truncated a torn tail of " + std::to_string(open_segment_truncated_bytes) +
        " bytes from the open segment");
  if (open_segment_sealed_by_recovery) add("recorded a segment whose seal was interrupted");
  if (empty_open_segment_removed) add("removed a segment whose creation was interrupted");
  if (s.empty()) s = "clean";
  return s;
}

SpoolWriter::SpoolWriter(const SpoolWriterOptions& opts)
    : opts_(opts), env_(opts.env), segments_dir_(JoinPath(opts.dir, kSegmentsDir)),
      mark_(std::make_unique<DurableMarkPublisher>(opts.env, opts.dir)) {}

void SpoolWriter::PublishMark(uint64_t segment_first_seq, uint64_t durable_bytes) {
  Status s = mark_->Publish(segment_first_seq, durable_bytes);
  if (!s.ok()) {
    LOG(WARNING) << s.ToString() << "; apply waits for the next sync to see new events";
  }
}

SpoolWriter::~SpoolWriter() {
  if (inflight_.valid()) inflight_.wait();  // never leave the sync thread running
}

StatusOr<std::unique_ptr<SpoolWriter>> SpoolWriter::Open(const SpoolWriterOptions& opts,
                                                         RecoveryReport* report) {
  RecoveryReport local;
  if (report == nullptr) report = &local;
  Env* env = opts.env;
  const std::string& dir = opts.dir;
  if (dir.empty()) return Status::InvalidArgument("--spool is required: the spool directory");
  RETURN_IF_ERROR_CTX(env->CreateDirIfMissing(dir), "spool directory");
  RETURN_IF_ERROR_CTX(env->CheckWritableDir(dir), "spool directory");
  std::unique_ptr<SpoolWriter> w(new SpoolWriter(opts));
  auto lock = env->LockFile(JoinPath(dir, kLockFile));
  if (!lock.ok()) {
    if (lock.status().IsBusy()) {
      return Status::Busy("spool " + dir + " is in use by another docshift capture (" +
                          lock.status().message() +
                          "); stop that process or use another --spool");
    }
    return lock.status();
  }
  w->lock_ = std::move(lock).value();
  RETURN_IF_ERROR(env->CreateDirIfMissing(w->segments_dir_));
  RETURN_IF_ERROR(w->Recover(report));
  return w;
}

Status SpoolWriter::Recover(RecoveryReport* report) {
  const std::string& dir = opts_.dir;
  RETURN_IF_ERROR(RemoveTempFiles(env_, dir, &report->temp_files_removed));
  RETURN_IF_ERROR(RemoveTempFiles(env_, segments_dir_, &report->temp_files_removed));

  ASSIGN_OR_RETURN(auto names, env_->GetChildren(segments_dir_));
  std::vector<std::pair<uint64_t, std::string>> segs;
  for (const auto& n : names) {
    uint64_t seq;
    if (ParseSegmentFileName(n, &seq)) segs.emplace_back(seq, n);
  }
  std::sort(segs.begin(), segs.end());

  const std::string manifest_path = JoinPath(dir, kManifestFile);
  if (!env_->FileExists(manifest_path)) {
    if (!segs.empty()) {
      return Status::Corruption("spool " + dir + " has segment files but no MANIFEST; " +
                                "refusing to guess its state (restore the MANIFEST or use a " +
                                "new --spool)");
    }
    pb::SpoolCreated created;
    created.set_format_version(kFormatVersion);
    created.set_source_id(opts_.source_id);
    created.set_source_kind(opts_.source_kind);
    created.set_created_wall_ms(NowMs());
    if (opts_.namespace_filter != nullptr) *created.mutable_namespace_filter() = *opts_.namespace_filter;
    created.set_dynamodb_numbers(opts_.dynamodb_numbers);
    ASSIGN_OR_RETURN(manifest_writer_, ManifestWriter::Create(env_, manifest_path, created));
    RETURN_IF_ERROR(ReadManifest(env_, manifest_path, &manifest_));
    report->created = true;
  } else {
    RETURN_IF_ERROR(ReadManifest(env_, manifest_path, &manifest_));
    if (manifest_.created.source_id() != opts_.source_id) {
      return Status::FailedPrecondition(
          "spool " + dir + " belongs to source '" + manifest_.created.source_id() +
          "', not '" + opts_.source_id +
          "'; point --source at the original source or use a new --spool directory");
    }
    if (opts_.namespace_filter != nullptr && manifest_.created.has_namespace_filter()) {
      const pb::NamespaceFilterSpec& was = manifest_.created.namespace_filter();
      if (DescribeNamespaceFilter(was) != DescribeNamespaceFilter(*opts_.namespace_filter)) {
        return Status::FailedPrecondition(
            "spool " + dir + " was captured with " + DescribeNamespaceFilter(was) + ", not " +
            DescribeNamespaceFilter(*opts_.namespace_filter) +
            "; restart capture with the spool's filter or use a new --spool directory");
      }
    }
    if (!opts_.dynamodb_numbers.empty()) {
      const std::string& was = manifest_.created.dynamodb_numbers();
      const std::string recorded = was.empty() ? "decimal" : was;
      if (recorded != opts_.dynamodb_numbers) {
        return Status::FailedPrecondition(
            "spool " + dir + " was captured with --dynamodb_numbers=" + recorded + ", not " +
            opts_.dynamodb_numbers + "; restart capture with the spool's mode or use a new --spool directory");
      }
    }
    report->manifest_tail_truncated = manifest_.torn_tail;
    ASSIGN_OR_RETURN(manifest_writer_, ManifestWriter::Open(env_, manifest_path, manifest_));
    manifest_.torn_tail = false;
  }

  std::set<std::string> live, deleted;
  for (const auto& s : manifest_.segments) live.insert(s.file_name());
  for (const auto& d : manifest_.deleted) deleted.insert(d.file_name());
  for (const auto& s : manifest_.segments) {
    if (!env_->FileExists(JoinPath(segments_dir_, s.file_name()))) {
      return Status::Corruption("spool " + dir + ": the manifest lists sealed segment " +
                                s.file_name() + " but the file is missing");
    }
  }
  const uint64_t next_after_sealed = manifest_.next_seq_after_sealed();
  std::vector<std::string> open;
  bool removed_any = false;
  for (const auto& [seq, name] : segs) {
    if (live.count(name)) continue;
    if (deleted.count(name)) {
      // Deletion recorded, unlink interrupted.
      RETURN_IF_ERROR(env_->DeleteFile(JoinPath(segments_dir_, name)));
      report->orphan_segments_removed++;
      removed_any = true;
      continue;
    }
    if (seq == next_after_sealed) {
      open.push_back(name);
      continue;
    }
    return Status::Corruption("spool " + dir + ": segment file " + name +
                              " is neither in the manifest nor the open segment (expected " +
                              SegmentFileName(next_after_sealed) + ")");
  }
  if (removed_any) RETURN_IF_ERROR(env_->SyncDir(segments_dir_));
  next_seq_ = next_after_sealed;
  if (!manifest_.segments.empty()) {
    durable_.resume_token = manifest_.segments.back().last_resume_token();
    durable_.resume_cluster_time = manifest_.segments.back().resume_cluster_time();
  }
  if (!open.empty()) RETURN_IF_ERROR(RecoverOpenSegment(open.front(), report));
  durable_.next_seq = next_seq_;
  pending_ = durable_;
  if (open_) {
    // What a killed capture appended may still be only in the page cache: make it
    // durable before any reader is told it may read it.
    RETURN_IF_ERROR(env_->SyncPath(open_->path(), open_->file_size()));
    PublishMark(open_->stats().first_seq, open_->file_size());
  } else {
    PublishMark(next_seq_, 0);
  }
  return Status::OK();
}

Status SpoolWriter::RecoverOpenSegment(const std::string& name, RecoveryReport* report) {
  const std::string path = JoinPath(segments_dir_, name);
  report->open_segment_found = true;
  ASSIGN_OR_RETURN(auto reader, SegmentReader::Open(env_, path, /*compute_file_crc=*/true));
  if (!reader->has_header()) {
    // Creation cut short: nothing in it was ever synced as a batch.
    RETURN_IF_ERROR(env_->DeleteFile(path));
    RETURN_IF_ERROR(env_->SyncDir(segments_dir_));
    report->empty_open_segment_removed = true;
    return Status::OK();
  }
  if (reader->header().source_id() != manifest_.created.source_id()) {
    return Status::Corruption(path + ": segment header names source '" +
                              reader->header().source_id() + "', the manifest '" +
                              manifest_.created.source_id() + "'");
  }
  pb::ChangeBatch batch;
  Status s;
  while ((s = reader->Next(&batch)).ok()) {
  }
  if (!s.IsEndOfFile()) return s;  // corruption in the open segment: refuse
  if (reader->sealed()) {
    // Sealed on disk, manifest entry missing: finish the seal.
    RETURN_IF_ERROR(RecordSealed(SealedFromReader(*reader)));
    report->open_segment_sealed_by_recovery = true;
    next_seq_ = reader->stats().next_seq;
    if (!reader->stats().last_resume_token.empty()) {
      durable_.resume_token = reader->stats().last_resume_token;
      durable_.resume_cluster_time = reader->stats().resume_cluster_time;
    }
    return Status::OK();
  }
  const uint64_t valid_end = reader->valid_end();
  if (valid_end < reader->file_size()) {
    LOG(WARNING) << path << ": truncating torn tail at offset " << valid_end << " ("
                 << reader->stop_reason() << "); " << (reader->file_size() - valid_end)
                 << " bytes were never acknowledged";
    RETURN_IF_ERROR(env_->Truncate(path, valid_end));
    report->open_segment_truncated_bytes = reader->file_size() - valid_end;
  }
  const SegmentStats& st = reader->stats();
  ASSIGN_OR_RETURN(open_, SegmentWriter::Reopen(env_, path, st, reader->file_crc(),
                                                opts_.zstd_level));
  next_seq_ = st.next_seq;
  if (!st.last_resume_token.empty()) {
    durable_.resume_token = st.last_resume_token;
    durable_.resume_cluster_time = st.resume_cluster_time;
  }
  return Status::OK();
}

Status SpoolWriter::RecordSealed(const pb::SegmentSealed& sealed) {
  pb::ManifestRecord r;
  *r.mutable_sealed() = sealed;
  RETURN_IF_ERROR(manifest_writer_->Append(r));
  manifest_.segments.push_back(sealed);
  return Status::OK();
}

Status SpoolWriter::Append(pb::ChangeBatch* batch) {
  if (!open_) {
    RETURN_IF_ERROR(RecordUnlistedSeal(env_, segments_dir_, next_seq_, &manifest_,
                                       manifest_writer_.get()));
    pb::SegmentHeader h;
    h.set_format_version(kFormatVersion);
    h.set_first_seq(next_seq_);
    h.set_source_id(manifest_.created.source_id());
    h.set_created_wall_ms(NowMs());
    h.set_writer_version(DOCSHIFT_VERSION);
    ASSIGN_OR_RETURN(open_, SegmentWriter::Create(env_, segments_dir_, h, opts_.zstd_level));
    PublishMark(next_seq_, open_->file_size());  // Create synced the header
  }
  batch->set_first_seq(next_seq_);
  RETURN_IF_ERROR(open_->Append(*batch));
  next_seq_ += static_cast<uint64_t>(batch->events_size());
  pending_.next_seq = next_seq_;
  if (!batch->resume_token().empty()) {
    pending_.resume_token = batch->resume_token();
    pending_.resume_cluster_time = batch->resume_cluster_time();
  }
  dirty_ = true;
  return Status::OK();
}

Status SpoolWriter::WaitSync() {
  if (!inflight_.valid()) return Status::OK();
  Status s = inflight_.get();
  RETURN_IF_ERROR(s);
  durable_ = inflight_state_;
  return Status::OK();
}

Status SpoolWriter::SyncAsync() {
  RETURN_IF_ERROR(WaitSync());
  if (!dirty_) return Status::OK();
  inflight_state_ = pending_;
  dirty_ = false;
  const std::string path = open_->path();
  const uint64_t covered = open_->file_size();
  const uint64_t first_seq = open_->stats().first_seq;
  Env* env = env_;
  inflight_ = std::async(std::launch::async, [this, env, path, covered, first_seq] {
    Status s = env->SyncPath(path, covered);
    if (s.ok()) PublishMark(first_seq, covered);
    return s;
  });
  return Status::OK();
}

Status SpoolWriter::Sync() {
  RETURN_IF_ERROR(WaitSync());
  if (!dirty_) return Status::OK();
  RETURN_IF_ERROR(open_->Sync());
  durable_ = pending_;
  dirty_ = false;
  PublishMark(open_->stats().first_seq, open_->file_size());
  return Status::OK();
}

Status SpoolWriter::MaybeRoll(int64_t now_ms) {
  if (!open_ || open_->stats().event_count == 0) return Status::OK();
  if (open_->file_size() >= opts_.segment_max_bytes ||
      now_ms - open_->opened_wall_ms() >= opts_.segment_max_age_ms) {
    return SealOpenSegment(now_ms);
  }
  return Status::OK();
}

Status SpoolWriter::SealOpenSegment(int64_t now_ms) {
  if (!open_ || open_->stats().event_count == 0) return Status::OK();
  RETURN_IF_ERROR(Sync());
  ASSIGN_OR_RETURN(pb::SegmentSealed sealed, open_->Seal(now_ms));
  open_.reset();
  RETURN_IF_ERROR(RecordSealed(sealed));
  PublishMark(sealed.last_seq() + 1, 0);  // every segment before the next is sealed
  return Status::OK();
}

Status SpoolWriter::Close(int64_t now_ms) {
  RETURN_IF_ERROR(Sync());
  return SealOpenSegment(now_ms);
}

StatusOr<PruneResult> SpoolWriter::Prune(int64_t retention_ms, int64_t now_ms,
                                           int64_t lock_timeout_ms) {
  PruneResult result;
  RETURN_IF_ERROR(WaitSync());
  if (!open_) {
    RETURN_IF_ERROR(RecordUnlistedSeal(env_, segments_dir_, next_seq_, &manifest_,
                                       manifest_writer_.get()));
  }
  // Held until the deletions are done: no apply decides its start meanwhile (apply_lock.h).
  ASSIGN_OR_RETURN(auto prune_lock, LockPrune(env_, opts_.dir, lock_timeout_ms));
  ASSIGN_OR_RETURN(auto ckpts, ListCheckpoints(env_, opts_.dir));
  ASSIGN_OR_RETURN(auto marks, ListShippedMarks(env_, opts_.dir));
  result.checkpoints = static_cast<int>(ckpts.size());
  result.shipped_marks = static_cast<int>(marks.size());
  // Nothing is deleted that no apply has passed here, unless the spool is shipped: then its
  // applies read the bucket (their checkpoints are there), and what counts here is that
  // every destination has committed it.
  if (ckpts.empty() && marks.empty()) return result;
  uint64_t min_applied = UINT64_MAX;
  for (const auto& c : ckpts) min_applied = std::min(min_applied, c.ckpt.applied_seq());
  for (const auto& m : marks) min_applied = std::min(min_applied, m.shipped_seq());
  // A running apply reads from its recorded start on (or has not recorded one yet: keep all).
  ASSIGN_OR_RETURN(const LiveApplies live, ReadLiveApplies(env_, opts_.dir));
  result.running_applies = live.running;
  if (live.running > 0) {
    result.lowest_running_start = live.lowest_start;
    min_applied = std::min(min_applied, live.lowest_start == 0 ? 0 : live.lowest_start - 1);
  }
  result.min_applied_seq = min_applied;
  while (manifest_.segments.size() > 1) {
    const pb::SegmentSealed seg = manifest_.segments.front();
    if (seg.last_seq() > min_applied) break;
    if (now_ms - seg.sealed_wall_ms() < retention_ms) break;
    pb::ManifestRecord r;
    auto* d = r.mutable_deleted();
    d->set_file_name(seg.file_name());
    d->set_first_seq(seg.first_seq());
    d->set_last_seq(seg.last_seq());
    d->set_deleted_wall_ms(now_ms);
    // Recorded before the unlink: a crash in between leaves an orphan file that recovery
    // removes, never a manifest entry without its file.
    RETURN_IF_ERROR(manifest_writer_->Append(r));
    manifest_.segments.erase(manifest_.segments.begin());
    manifest_.deleted.push_back(*d);
    RETURN_IF_ERROR(env_->DeleteFile(JoinPath(segments_dir_, seg.file_name())));
    result.segments_deleted++;
    result.bytes_deleted += seg.file_bytes();
  }
  if (result.segments_deleted > 0) {
    RETURN_IF_ERROR(env_->SyncDir(segments_dir_));
    if (manifest_.deleted.size() >= 64) {
      RETURN_IF_ERROR(manifest_writer_->Compact(manifest_));
      manifest_.deleted.clear();
    }
  }
  return result;
}

// ---- Readers ----

Status OpenSpoolView(Env* env, const std::string& dir, SpoolView* view,
                     bool keep_manifest_entries) {
  view->dir = dir;
  view->segments.clear();
  view->unexpected_files.clear();
  const std::string manifest_path = JoinPath(dir, kManifestFile);
  if (!env->FileExists(manifest_path)) {
    return Status::NotFound("no spool at " + dir + " (no MANIFEST file); check --spool");
  }
  RETURN_IF_ERROR(ReadManifest(env, manifest_path, &view->manifest, keep_manifest_entries));
  const std::string seg_dir = JoinPath(dir, kSegmentsDir);
  std::vector<std::pair<uint64_t, std::string>> files;
  if (env->FileExists(seg_dir)) {
    ASSIGN_OR_RETURN(auto names, env->GetChildren(seg_dir));
    for (const auto& n : names) {
      uint64_t seq;
      if (ParseSegmentFileName(n, &seq)) files.emplace_back(seq, n);
    }
  }
  std::sort(files.begin(), files.end());
  std::set<std::string> live;
  for (const auto& s : view->manifest.segments) {
    live.insert(s.file_name());
    SegmentListing l;
    l.file_name = s.file_name();
    l.path = JoinPath(seg_dir, s.file_name());
    l.first_seq = s.first_seq();
    l.sealed = true;
    l.manifest_entry = &s;
    view->segments.push_back(std::move(l));
  }
  const uint64_t next = view->manifest.next_seq_after_sealed();
  for (const auto& [seq, name] : files) {
    if (live.count(name)) continue;
    if (seq >= next) {
      SegmentListing l;
      l.file_name = name;
      l.path = JoinPath(seg_dir, name);
      l.first_seq = seq;
      view->segments.push_back(std::move(l));
    } else {
      view->unexpected_files.push_back(name);
    }
  }
  return Status::OK();
}

StatusOr<SpoolEnd> ReadSpoolEnd(Env* env, const std::string& dir) {
  SpoolView view;
  RETURN_IF_ERROR(OpenSpoolView(env, dir, &view, /*keep_manifest_entries=*/false));
  SpoolEnd end;
  end.next_seq = view.manifest.next_seq_after_sealed();
  if (!view.manifest.segments.empty()) {
    const pb::SegmentSealed& last = view.manifest.segments.back();
    end.has_position = true;
    end.resume_cluster_time = last.resume_cluster_time();
    end.last_event_wall_ms = last.last_wall_ms();
    end.last_batch_wall_ms = last.sealed_wall_ms();
  }
  if (!view.segments.empty() && !view.segments.back().sealed) {
    // The open segment, up to what capture has made durable (DIR/SYNCED). (If capture
    // seals it meanwhile, a newer segment is missed, so the answer may be a little
    // behind, never ahead.)
    const uint64_t limit =
        ReadableBytes(ReadDurableMark(env, dir), view.segments.back().first_seq, false);
    auto reader = SegmentReader::Open(env, view.segments.back().path, false, limit);
    if (reader.ok() && (*reader)->has_header()) {
      pb::ChangeBatch batch;
      Status s;
      while ((s = (*reader)->Next(&batch)).ok()) {
        end.has_position = true;
        end.next_seq = batch.first_seq() + batch.events_size();
        if (batch.resume_cluster_time() != 0) end.resume_cluster_time = batch.resume_cluster_time();
        if (batch.events_size() > 0) {
          end.last_event_wall_ms = batch.events(batch.events_size() - 1).capture_wall_ms();
        }
        end.last_batch_wall_ms = batch.written_wall_ms();
      }
      if (!s.IsEndOfFile()) return s;
    } else if (!reader.ok() && !reader.status().IsNotFound()) {
      return reader.status();
    }
  }
  return end;
}

SpoolReader::SpoolReader(Env* env, const SpoolView* view, Options opts)
    : env_(env), view_(view), opts_(opts) {}

Status SpoolReader::Next(pb::ChangeBatch* batch, std::string* segment_name,
                         uint64_t* record_offset) {
  while (index_ < view_->segments.size()) {
    const SegmentListing& seg = view_->segments[index_];
    if (!cur_) {
      if (!seg.sealed && !opts_.include_open_segment) return Status::EndOfFile();
      if (seg.sealed && seg.manifest_entry->last_seq() < opts_.from_seq) {
        ++index_;
        continue;
      }
      ASSIGN_OR_RETURN(cur_, SegmentReader::Open(env_, seg.path, opts_.compute_file_crc));
      if (seg.sealed && !cur_->has_header()) {
        return CorruptionAt(seg.path, 0, "sealed segment has no complete header");
      }
    }
    uint64_t offset = 0;
    Status s = cur_->Next(batch, &offset);
    if (s.ok()) {
      const uint64_t first = batch->first_seq();
      const uint64_t count = static_cast<uint64_t>(batch->events_size());
      if (first + count <= opts_.from_seq) continue;  // entirely before the start
      if (first < opts_.from_seq) {
        const int drop = static_cast<int>(opts_.from_seq - first);
        batch->mutable_events()->DeleteSubrange(0, drop);
        batch->set_first_seq(opts_.from_seq);
      }
      if (segment_name) *segment_name = seg.file_name;
      if (record_offset) *record_offset = offset;
      return Status::OK();
    }
    if (!s.IsEndOfFile()) return s;
    if (seg.sealed) {
      if (!cur_->sealed()) {
        // A footer without its end magic stops no scan: report it at the footer.
        const bool scan_stopped = cur_->stop() != RecordScanner::Stop::kNone;
        return CorruptionAt(seg.path, scan_stopped ? cur_->stop_offset() : cur_->valid_end(),
                            "segment is sealed in the manifest but " +
                                (scan_stopped ? cur_->stop_reason() : s.message()));
      }
      const auto& m = *seg.manifest_entry;
      if (cur_->stats().event_count != m.event_count() ||
          cur_->stats().next_seq - 1 != m.last_seq()) {
        return Status::Corruption(seg.path + ": contents (" +
                                  std::to_string(cur_->stats().event_count) +
                                  " events) disagree with the manifest (" +
                                  std::to_string(m.event_count()) + " events)");
      }
    }
    cur_.reset();
    ++index_;
  }
  return Status::EndOfFile();
}

std::string DescribeNamespaceFilter(const pb::NamespaceFilterSpec& f) {
  auto join = [](const auto& list) {
    std::string out;
    for (const auto& g : list) out += (out.empty() ? "" : ",") + g;
    return out;
  };
  std::string out;
  if (f.include_size() > 0) out += "--include '" + join(f.include()) + "'";
  if (f.exclude_size() > 0) out += std::string(out.empty() ? "" : " ") + "--exclude '" + join(f.exclude()) + "'";
  return out.empty() ? "no --include/--exclude (every namespace)" : out;
}

}  // namespace docshift::spool
