// An Env for tests that simulates a machine crash: SimulateCrash() throws away every byte
// appended after the last Sync() of each file, and every file created since the last
// SyncDir() of its directory — the bytes an OS may lose in a power failure. It can also
// make writes fail partway, as a full disk does (ENOSPC after a short write).
//
// Modelled on leveldb's db/fault_injection_test.cc. Known simplification: renames and
// deletes are treated as durable immediately (only creations wait for SyncDir).
//
// Thread safety: all methods take an internal mutex; files may be used from any thread.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "util/env.h"

namespace docshift {

class FaultInjectionEnv final : public Env {
 public:
  explicit FaultInjectionEnv(Env* base) : base_(base) {}

  // Drops unsynced data as a crash would. Open WritableFile objects must not be used
  // afterwards (destroy them first, as the crashed process would be gone).
  Status SimulateCrash();
  // After this many more bytes are appended (across all files), Append writes what fits
  // and fails with IOError "No space left on device". -1 disables.
  void SetWriteBudget(int64_t bytes);

  StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override;
  StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) override {
    return base_->NewRandomAccessFile(path);
  }
  bool FileExists(const std::string& path) override { return base_->FileExists(path); }
  StatusOr<uint64_t> GetFileSize(const std::string& path) override {
    return base_->GetFileSize(path);
  }
  StatusOr<std::vector<std::string>> GetChildren(const std::string& dir) override {
    return base_->GetChildren(dir);
  }
  Status CreateDirIfMissing(const std::string& dir) override {
    return base_->CreateDirIfMissing(dir);
  }
  Status DeleteFile(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status Truncate(const std::string& path, uint64_t size) override;
  Status SyncDir(const std::string& dir) override;
  Status SyncPath(const std::string& path, uint64_t covered_size) override;
  StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    return base_->LockFile(path);
  }
  Status CheckWritableDir(const std::string& dir) override {
    return base_->CheckWritableDir(dir);
  }

  // For the wrapped files.
  void OnSynced(const std::string& path, uint64_t size);
  // Returns how many of n bytes may be written now, consuming budget.
  size_t TakeBudget(size_t n);

 private:
  struct FileState {
    uint64_t synced_size = 0;
    bool name_durable = true;  // false from creation until SyncDir of its directory
  };
  Env* base_;
  std::mutex mu_;
  std::map<std::string, FileState> files_;
  int64_t write_budget_ = -1;
};

}  // namespace docshift
