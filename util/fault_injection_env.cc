#include "util/fault_injection_env.h"

#include <algorithm>
#include <cerrno>

namespace docshift {
namespace {

class FaultWritableFile final : public WritableFile {
 public:
  FaultWritableFile(FaultInjectionEnv* env, std::unique_ptr<WritableFile> base)
      : env_(env), base_(std::move(base)) {}
  Status Append(std::string_view data) override {
    size_t allowed = env_->TakeBudget(data.size());
    if (allowed > 0) RETURN_IF_ERROR(base_->Append(data.substr(0, allowed)));
    if (allowed < data.size()) return Status::FromErrno("write " + path(), ENOSPC);
    return Status::OK();
  }
  Status Sync() override {
    RETURN_IF_ERROR(base_->Sync());
    env_->OnSynced(path(), base_->Size());
    return Status::OK();
  }
  Status Close() override { return base_->Close(); }
  uint64_t Size() const override { return base_->Size(); }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultInjectionEnv* env_;
  std::unique_ptr<WritableFile> base_;
};

}  // namespace

void FaultInjectionEnv::SetWriteBudget(int64_t bytes) {
  std::lock_guard<std::mutex> l(mu_);
  write_budget_ = bytes;
}

size_t FaultInjectionEnv::TakeBudget(size_t n) {
  std::lock_guard<std::mutex> l(mu_);
  if (write_budget_ < 0) return n;
  size_t allowed = std::min<size_t>(n, static_cast<size_t>(write_budget_));
  write_budget_ -= static_cast<int64_t>(allowed);
  return allowed;
}

void FaultInjectionEnv::OnSynced(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  files_[path].synced_size = size;
}

StatusOr<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewWritableFile(
    const std::string& path) {
  ASSIGN_OR_RETURN(auto f, base_->NewWritableFile(path));
  {
    std::lock_guard<std::mutex> l(mu_);
    files_[path] = FileState{0, false};
  }
  return std::unique_ptr<WritableFile>(new FaultWritableFile(this, std::move(f)));
}

StatusOr<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewAppendableFile(
    const std::string& path) {
  ASSIGN_OR_RETURN(auto f, base_->NewAppendableFile(path));
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = files_.find(path);
    // A file we have not seen is taken as fully durable as it is now.
    if (it == files_.end()) files_[path] = FileState{f->Size(), true};
  }
  return std::unique_ptr<WritableFile>(new FaultWritableFile(this, std::move(f)));
}

Status FaultInjectionEnv::DeleteFile(const std::string& path) {
  RETURN_IF_ERROR(base_->DeleteFile(path));
  std::lock_guard<std::mutex> l(mu_);
  files_.erase(path);
  return Status::OK();
}

Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  RETURN_IF_ERROR(base_->RenameFile(from, to));
  std::lock_guard<std::mutex> l(mu_);
  auto it = files_.find(from);
  if (it != files_.end()) {
    files_[to] = it->second;
    files_.erase(it);
  } else {
    files_.erase(to);
  }
  return Status::OK();
}

Status FaultInjectionEnv::Truncate(const std::string& path, uint64_t size) {
  RETURN_IF_ERROR(base_->Truncate(path, size));
  std::lock_guard<std::mutex> l(mu_);
  auto it = files_.find(path);
  if (it != files_.end()) it->second.synced_size = size;
  return Status::OK();
}

Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  RETURN_IF_ERROR(base_->SyncDir(dir));
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [path, st] : files_) {
    if (DirName(path) == dir || DirName(path) == DirName(dir + "/x")) st.name_durable = true;
  }
  return Status::OK();
}

Status FaultInjectionEnv::SyncPath(const std::string& path, uint64_t covered_size) {
  RETURN_IF_ERROR(base_->SyncPath(path, covered_size));
  std::lock_guard<std::mutex> l(mu_);
  auto& st = files_[path];
  st.synced_size = std::max(st.synced_size, covered_size);
  return Status::OK();
}

Status FaultInjectionEnv::SimulateCrash() {
  std::map<std::string, FileState> files;
  {
    std::lock_guard<std::mutex> l(mu_);
    files.swap(files_);
    write_budget_ = -1;
  }
  for (const auto& [path, st] : files) {
    if (!base_->FileExists(path)) continue;
    if (!st.name_durable) {
      RETURN_IF_ERROR(base_->DeleteFile(path));
      continue;
    }
    ASSIGN_OR_RETURN(uint64_t size, base_->GetFileSize(path));
    if (size > st.synced_size) RETURN_IF_ERROR(base_->Truncate(path, st.synced_size));
  }
  return Status::OK();
}

}  // namespace docshift
