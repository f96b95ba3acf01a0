#include "spool/manifest.h"

namespace docshift::spool {

Status ReadManifest(Env* env, const std::string& path, ManifestState* state,
                    bool keep_entries) {
  *state = ManifestState();
  ASSIGN_OR_RETURN(auto file, env->NewRandomAccessFile(path));
  ASSIGN_OR_RETURN(uint64_t size, file->Size());
  RecordScanner scanner(file.get(), size);
  Status s = scanner.ReadPreamble(kManifestMagic);
  if (s.IsEndOfFile()) {
    return CorruptionAt(path, 0, "manifest is " + std::string(scanner.stop_reason()) +
                                     "; it must start with a SpoolCreated record");
  }
  RETURN_IF_ERROR(s);
  Record rec;
  bool first = true;
  while (true) {
    s = scanner.Next(&rec);
    if (s.IsEndOfFile()) break;
    RETURN_IF_ERROR(s);
    if (rec.type != kRecordManifest) {
      return CorruptionAt(path, rec.offset,
                          "unexpected record type " + std::to_string(rec.type) +
                              " in the manifest");
    }
    pb::ManifestRecord r;
    if (!r.ParseFromString(rec.payload)) {
      return CorruptionAt(path, rec.offset, "manifest record does not parse");
    }
    if (first) {
      if (!r.has_created()) {
        return CorruptionAt(path, rec.offset, "first manifest record is not SpoolCreated");
      }
      if (r.created().format_version() > kFormatVersion) {
        return NewerFormat(path, r.created().format_version());
      }
      state->created = r.created();
      first = false;
    } else if (r.has_created()) {
      return CorruptionAt(path, rec.offset, "second SpoolCreated record");
    } else if (r.has_sealed()) {
      const auto& sealed = r.sealed();
      uint64_t expect = state->next_seq_after_sealed();
      if (!state->segments.empty() || !state->deleted.empty()) {
        if (sealed.first_seq() != expect) {
          return CorruptionAt(path, rec.offset,
                              "sealed segment " + sealed.file_name() + " starts at sequence " +
                                  std::to_string(sealed.first_seq()) + ", expected " +
                                  std::to_string(expect));
        }
      }
      if (sealed.last_seq() < sealed.first_seq()) {
        return CorruptionAt(path, rec.offset,
                            "sealed segment " + sealed.file_name() + " has no events");
      }
      state->segments.push_back(sealed);
    } else if (r.has_deleted()) {
      const auto& del = r.deleted();
      auto it = state->segments.begin();
      for (; it != state->segments.end(); ++it)
        if (it->file_name() == del.file_name()) break;
      if (it == state->segments.end()) {
        return CorruptionAt(path, rec.offset,
                            "deletion of " + del.file_name() + ", which is not a live segment");
      }
      state->segments.erase(it);
      state->deleted.push_back(del);
      if (state->segments.empty()) state->first_seq_after_deleted = del.last_seq() + 1;
    } else {
      return CorruptionAt(path, rec.offset, "empty manifest record");
    }
    if (keep_entries) state->entries.push_back(ManifestEntry{rec.offset, std::move(r)});
  }
  if (first) {
    return CorruptionAt(path, scanner.valid_end(),
                        "manifest has no SpoolCreated record");
  }
  state->valid_end = scanner.valid_end();
  state->torn_tail = scanner.stop() == RecordScanner::Stop::kTornTail;
  if (state->torn_tail) state->torn_reason = scanner.stop_reason();
  return Status::OK();
}

ManifestWriter::ManifestWriter(Env* env, std::string path, std::unique_ptr<WritableFile> f,
                               uint64_t records)
    : env_(env), path_(std::move(path)), file_(std::move(f)), records_(records) {}

StatusOr<std::unique_ptr<ManifestWriter>> ManifestWriter::Create(
    Env* env, const std::string& path, const pb::SpoolCreated& created) {
  // Built under a temporary name and renamed, so a crash never leaves a manifest
  // without its SpoolCreated record.
  std::string buf = EncodePreamble(kManifestMagic);
  pb::ManifestRecord r;
  *r.mutable_created() = created;
  EncodeRecord(kRecordManifest, r.SerializeAsString(), &buf);
  RETURN_IF_ERROR(env->WriteFileAtomic(path, buf));
  ASSIGN_OR_RETURN(auto f, env->NewAppendableFile(path));
  return std::unique_ptr<ManifestWriter>(new ManifestWriter(env, path, std::move(f), 1));
}

StatusOr<std::unique_ptr<ManifestWriter>> ManifestWriter::Open(Env* env, const std::string& path,
                                                               const ManifestState& state) {
  if (state.torn_tail) RETURN_IF_ERROR(env->Truncate(path, state.valid_end));
  ASSIGN_OR_RETURN(auto f, env->NewAppendableFile(path));
  uint64_t records = 1 + state.segments.size() + state.deleted.size();
  return std::unique_ptr<ManifestWriter>(new ManifestWriter(env, path, std::move(f), records));
}

Status ManifestWriter::Append(const pb::ManifestRecord& record) {
  buf_.clear();
  EncodeRecord(kRecordManifest, record.SerializeAsString(), &buf_);
  const uint64_t before = file_->Size();
  Status s = file_->Append(buf_);
  if (!s.ok()) {
    // Never leave half a record that a later append would follow: cut it off.
    file_.reset();
    Status t = env_->Truncate(path_, before);
    auto f = env_->NewAppendableFile(path_);
    if (t.ok() && f.ok()) file_ = std::move(f).value();
    return s.WithContext("appending to the manifest");
  }
  RETURN_IF_ERROR_CTX(file_->Sync(), "syncing the manifest");
  records_++;
  return Status::OK();
}

Status ManifestWriter::Compact(const ManifestState& state) {
  std::string buf = EncodePreamble(kManifestMagic);
  pb::ManifestRecord r;
  *r.mutable_created() = state.created;
  EncodeRecord(kRecordManifest, r.SerializeAsString(), &buf);
  // Retention never deletes the newest sealed segment (see Spool::Prune), so the live
  // segments always carry the next sequence number across a compaction.
  if (state.segments.empty() && !state.deleted.empty()) {
    return Status::Internal("refusing to compact a manifest whose segments were all deleted");
  }
  for (const auto& seg : state.segments) {
    pb::ManifestRecord s;
    *s.mutable_sealed() = seg;
    EncodeRecord(kRecordManifest, s.SerializeAsString(), &buf);
  }
  file_.reset();
  Status s = env_->WriteFileAtomic(path_, buf);
  // On failure the old manifest (or, if only the directory sync failed, the new one) is
  // in place: keep appending to whichever it is.
  ASSIGN_OR_RETURN(file_, env_->NewAppendableFile(path_));
  RETURN_IF_ERROR_CTX(s, "compacting the manifest");
  records_ = 1 + state.segments.size();
  return Status::OK();
}

}  // namespace docshift::spool
