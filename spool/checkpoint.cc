#include "spool/checkpoint.h"

#include "spool/format.h"
#include "spool/record.h"

namespace docshift::spool {

std::string CheckpointPath(const std::string& spool_dir, const std::string& name) {
  return JoinPath(JoinPath(spool_dir, kCheckpointsDir), name + std::string(kCheckpointSuffix));
}

Status WriteCheckpoint(Env* env, const std::string& spool_dir, const std::string& name,
                       const pb::ApplyCheckpoint& ckpt) {
  const std::string dir = JoinPath(spool_dir, kCheckpointsDir);
  RETURN_IF_ERROR(env->CreateDirIfMissing(dir));
  std::string buf = EncodePreamble(kCheckpointMagic);
  EncodeRecord(kRecordCheckpoint, ckpt.SerializeAsString(), &buf);
  return env->WriteFileAtomic(CheckpointPath(spool_dir, name), buf);
}

Status ReadCheckpoint(Env* env, const std::string& path, pb::ApplyCheckpoint* ckpt) {
  if (!env->FileExists(path)) return Status::NotFound(path);
  ASSIGN_OR_RETURN(auto file, env->NewRandomAccessFile(path));
  ASSIGN_OR_RETURN(uint64_t size, file->Size());
  if (size > kMaxStateFileBytes) return CorruptionAt(path, 0, "checkpoint file too large");
  RecordScanner scanner(file.get(), size);
  Status s = scanner.ReadPreamble(kCheckpointMagic);
  if (s.IsEndOfFile()) return CorruptionAt(path, 0, "checkpoint is " + scanner.stop_reason());
  RETURN_IF_ERROR(s);
  Record rec;
  s = scanner.Next(&rec);
  if (s.IsEndOfFile()) {
    return CorruptionAt(path, scanner.stop_offset(), "checkpoint record missing or torn");
  }
  RETURN_IF_ERROR(s);
  if (rec.type != kRecordCheckpoint || !ckpt->ParseFromString(rec.payload)) {
    return CorruptionAt(path, rec.offset, "not a checkpoint record");
  }
  if (scanner.position() != size) {
    return CorruptionAt(path, scanner.position(), "bytes after the checkpoint record");
  }
  return Status::OK();
}

StatusOr<std::vector<NamedCheckpoint>> ListCheckpoints(Env* env, const std::string& spool_dir) {
  std::vector<NamedCheckpoint> out;
  const std::string dir = JoinPath(spool_dir, kCheckpointsDir);
  if (!env->FileExists(dir)) return out;
  ASSIGN_OR_RETURN(auto names, env->GetChildren(dir));
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    if (n.size() <= kCheckpointSuffix.size() ||
        n.compare(n.size() - kCheckpointSuffix.size(), std::string::npos, kCheckpointSuffix) != 0)
      continue;
    NamedCheckpoint c;
    c.name = n.substr(0, n.size() - kCheckpointSuffix.size());
    RETURN_IF_ERROR(ReadCheckpoint(env, JoinPath(dir, n), &c.ckpt));
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace docshift::spool
