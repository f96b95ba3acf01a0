#include "spool/dead_letter.h"

#include <chrono>

#include "spool/format.h"
#include "spool/record.h"

namespace docshift::spool {

std::string DeadLetterPath(const std::string& spool_dir, const std::string& name) {
  return JoinPath(JoinPath(spool_dir, "deadletter"), name + ".dlq");
}

DeadLetterWriter::DeadLetterWriter(Env* env, std::string spool_dir, std::string name)
    : env_(env), spool_dir_(std::move(spool_dir)), name_(std::move(name)) {}

Status DeadLetterWriter::Open() {
  std::lock_guard<std::mutex> l(mu_);
  const std::string dir = JoinPath(spool_dir_, "deadletter");
  RETURN_IF_ERROR(env_->CreateDirIfMissing(dir));
  const std::string path = DeadLetterPath(spool_dir_, name_);
  if (!env_->FileExists(path)) {
    ASSIGN_OR_RETURN(file_, env_->NewWritableFile(path));
    RETURN_IF_ERROR(file_->Append(EncodePreamble(kDeadLetterMagic)));
    RETURN_IF_ERROR(file_->Sync());
    return env_->SyncDir(dir);
  }
  ASSIGN_OR_RETURN(auto f, env_->NewRandomAccessFile(path));
  ASSIGN_OR_RETURN(uint64_t size, f->Size());
  RecordScanner scanner(f.get(), size);
  Status s = scanner.ReadPreamble(kDeadLetterMagic);
  if (s.IsEndOfFile()) {
    // Creation cut short: start the file again.
    f.reset();
    RETURN_IF_ERROR(env_->DeleteFile(path));
    ASSIGN_OR_RETURN(file_, env_->NewWritableFile(path));
    RETURN_IF_ERROR(file_->Append(EncodePreamble(kDeadLetterMagic)));
    RETURN_IF_ERROR(file_->Sync());
    return env_->SyncDir(dir);
  }
  RETURN_IF_ERROR(s);
  Record rec;
  recorded_.clear();
  while ((s = scanner.Next(&rec)).ok()) {
    pb::DeadLetter d;
    if (rec.type != kRecordDeadLetter || !d.ParseFromString(rec.payload)) {
      return CorruptionAt(path, rec.offset, "not a dead-letter record");
    }
    if (d.seq() != 0) recorded_.insert(d.seq());
  }
  if (!s.IsEndOfFile()) return s;
  if (scanner.stop() == RecordScanner::Stop::kTornTail) {
    RETURN_IF_ERROR(env_->Truncate(path, scanner.valid_end()));
  }
  ASSIGN_OR_RETURN(file_, env_->NewAppendableFile(path));
  return Status::OK();
}

Status DeadLetterWriter::Append(uint64_t seq, const pb::ChangeEvent& event, int code,
                                const std::string& message, const std::string& target_ns,
                                bool* appended) {
  if (appended != nullptr) *appended = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (seq != 0 && recorded_.count(seq) != 0) return Status::OK();
  }
  pb::DeadLetter d;
  d.set_seq(seq);
  *d.mutable_event() = event;
  d.set_error_code(code);
  d.set_error_message(message);
  d.set_target_ns(target_ns);
  d.set_wall_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count());
  std::string buf;
  EncodeRecord(kRecordDeadLetter, d.SerializeAsString(), &buf);
  std::lock_guard<std::mutex> l(mu_);
  if (!file_) return Status::Internal("dead-letter file not open");
  if (seq != 0 && !recorded_.insert(seq).second) return Status::OK();  // a racing lane
  Status s = file_->Append(buf);
  if (!s.ok()) {
    recorded_.erase(seq);
    return s;
  }
  dirty_ = true;
  if (appended != nullptr) *appended = true;
  return Status::OK();
}

Status DeadLetterWriter::Sync() {
  std::lock_guard<std::mutex> l(mu_);
  if (!dirty_ || !file_) return Status::OK();
  RETURN_IF_ERROR(file_->Sync());
  dirty_ = false;
  return Status::OK();
}

Status ReadDeadLetters(Env* env, const std::string& path,
                       const std::function<void(uint64_t, const pb::DeadLetter&)>& fn) {
  if (!env->FileExists(path)) return Status::NotFound(path);
  ASSIGN_OR_RETURN(auto f, env->NewRandomAccessFile(path));
  ASSIGN_OR_RETURN(uint64_t size, f->Size());
  RecordScanner scanner(f.get(), size);
  Status s = scanner.ReadPreamble(kDeadLetterMagic);
  if (s.IsEndOfFile()) return Status::OK();
  RETURN_IF_ERROR(s);
  Record rec;
  while ((s = scanner.Next(&rec)).ok()) {
    pb::DeadLetter d;
    if (rec.type != kRecordDeadLetter || !d.ParseFromString(rec.payload)) {
      return CorruptionAt(path, rec.offset, "not a dead-letter record");
    }
    fn(rec.offset, d);
  }
  return s.IsEndOfFile() ? Status::OK() : s;
}

}  // namespace docshift::spool
