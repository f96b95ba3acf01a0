#include "spool/checkpoint.h"

#include "spool/format.h"
#include "spool/record.h"
#include "util/memory_file.h"

namespace docshift::spool {

Status CheckApplyName(const std::string& name, std::string_view flag) {
  auto alnum = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  };
  bool ok = !name.empty() && name.size() <= 64 && alnum(name[0]);
  for (char c : name) ok = ok && (alnum(c) || c == '.' || c == '_' || c == '-');
  if (ok) return Status::OK();
  std::string shown = name.substr(0, 80);
  for (char& c : shown) c = static_cast<unsigned char>(c) < 0x20 ? '?' : c;  // one line
  return Status::InvalidArgument(std::string(flag) + " '" + shown +
                                 "' is not an apply name: use " + std::string(kApplyNameRule));
}

std::string CheckpointPath(const std::string& spool_dir, const std::string& name) {
  return JoinPath(JoinPath(spool_dir, kCheckpointsDir), name + std::string(kCheckpointSuffix));
}

namespace {

// The one record of a state file (preamble, one record, nothing after it).
Status ReadStateRecord(const RandomAccessFile* file, std::string_view magic, RecordType type,
                       google::protobuf::MessageLite* msg) {
  const std::string& path = file->path();
  ASSIGN_OR_RETURN(uint64_t size, file->Size());
  if (size > kMaxStateFileBytes) return CorruptionAt(path, 0, "state file too large");
  RecordScanner scanner(file, size);
  Status s = scanner.ReadPreamble(magic);
  if (s.IsEndOfFile()) return CorruptionAt(path, 0, "state file is " + scanner.stop_reason());
  RETURN_IF_ERROR(s);
  Record rec;
  s = scanner.Next(&rec);
  if (s.IsEndOfFile()) {
    return CorruptionAt(path, scanner.stop_offset(), "state record missing or torn");
  }
  RETURN_IF_ERROR(s);
  if (rec.type != type || !msg->ParseFromString(rec.payload)) {
    return CorruptionAt(path, rec.offset, "not the expected state record");
  }
  if (scanner.position() != size) {
    return CorruptionAt(path, scanner.position(), "bytes after the state record");
  }
  return Status::OK();
}

}  // namespace

Status WriteStateFile(Env* env, const std::string& path, std::string_view magic,
                      RecordType type, const google::protobuf::MessageLite& msg) {
  std::string buf = EncodePreamble(magic);
  EncodeRecord(type, msg.SerializeAsString(), &buf);
  return env->WriteFileAtomic(path, buf);
}

Status ReadStateFile(Env* env, const std::string& path, std::string_view magic,
                     RecordType type, google::protobuf::MessageLite* msg) {
  if (!env->FileExists(path)) return Status::NotFound(path);
  ASSIGN_OR_RETURN(auto file, env->NewRandomAccessFile(path));
  return ReadStateRecord(file.get(), magic, type, msg);
}

Status DecodeStateFile(std::string_view body, const std::string& where, std::string_view magic,
                       RecordType type, google::protobuf::MessageLite* msg) {
  MemoryFile file(where, body);
  return ReadStateRecord(&file, magic, type, msg);
}

Status WriteCheckpoint(Env* env, const std::string& spool_dir, const std::string& name,
                       const pb::ApplyCheckpoint& ckpt) {
  RETURN_IF_ERROR(CheckApplyName(name, "apply name"));
  RETURN_IF_ERROR(env->CreateDirIfMissing(JoinPath(spool_dir, kCheckpointsDir)));
  return WriteStateFile(env, CheckpointPath(spool_dir, name), kCheckpointMagic,
                        kRecordCheckpoint, ckpt);
}

Status ReadCheckpoint(Env* env, const std::string& path, pb::ApplyCheckpoint* ckpt) {
  return ReadStateFile(env, path, kCheckpointMagic, kRecordCheckpoint, ckpt);
}

std::string SnapshotStatePath(const std::string& spool_dir) {
  return JoinPath(JoinPath(spool_dir, kSnapshotDir), std::string(kSnapshotStateFile));
}

Status WriteSnapshotState(Env* env, const std::string& spool_dir,
                          const pb::SnapshotState& state) {
  RETURN_IF_ERROR(env->CreateDirIfMissing(JoinPath(spool_dir, kSnapshotDir)));
  return WriteStateFile(env, SnapshotStatePath(spool_dir), kSnapshotMagic,
                        kRecordSnapshotState, state);
}

Status ReadSnapshotState(Env* env, const std::string& spool_dir, pb::SnapshotState* state) {
  return ReadStateFile(env, SnapshotStatePath(spool_dir), kSnapshotMagic, kRecordSnapshotState,
                       state);
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
