// The file layer. Everything docshift writes to disk goes through Env, so that tests can
// substitute an Env that throws away every byte not protected by a Sync (see
// util/fault_injection_env.h), as leveldb's db/fault_injection_test.cc does.
//
// Durability contract (see STYLE.md): data appended to a WritableFile is durable only
// after Sync() returns OK; a newly created or renamed file's *name* is durable only after
// SyncDir() of its parent returns OK. No Env method ever opens an existing spool file
// with O_TRUNC.
//
// Thread safety: Env::Default() is safe to use from many threads. A WritableFile or
// RandomAccessFile object is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace docshift {

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends data at the end of the file. Not durable until Sync().
  virtual Status Append(std::string_view data) = 0;
  // Makes everything appended so far durable (fdatasync).
  virtual Status Sync() = 0;
  virtual Status Close() = 0;
  // Bytes in the file, including not-yet-synced appends.
  virtual uint64_t Size() const = 0;
  virtual const std::string& path() const = 0;
};

class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to n bytes at offset into *out (replacing its contents). Fewer bytes than
  // n means end of file.
  virtual Status Read(uint64_t offset, size_t n, std::string* out) const = 0;
  virtual StatusOr<uint64_t> Size() const = 0;
  virtual const std::string& path() const = 0;
};

// An exclusive advisory lock (flock). Released when destroyed or when the process dies.
// The lock file holds the holder's pid as its first line.
class FileLock {
 public:
  virtual ~FileLock() = default;
  // Replaces the lock file's contents in place (the same inode, so the lock stays): other
  // processes see them at once. Not synced: a lock and what it says end with its process.
  virtual Status Rewrite(std::string_view contents) = 0;
};

class Env {
 public:
  virtual ~Env() = default;
  // The process-wide POSIX Env. Never null; never deleted.
  static Env* Default();

  // Creates a new file; fails with IOError if it already exists (O_EXCL: we never
  // truncate a spool file by opening it).
  virtual StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
  // Opens an existing file for appending at its end.
  virtual StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) = 0;
  virtual StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) = 0;

  virtual bool FileExists(const std::string& path) = 0;
  virtual StatusOr<uint64_t> GetFileSize(const std::string& path) = 0;
  // Names (not paths) of the entries of dir, excluding "." and "..".
  virtual StatusOr<std::vector<std::string>> GetChildren(const std::string& dir) = 0;
  virtual Status CreateDirIfMissing(const std::string& dir) = 0;
  virtual Status DeleteFile(const std::string& path) = 0;
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  // Truncates to size and syncs the file. Used only by recovery to cut a torn tail.
  virtual Status Truncate(const std::string& path, uint64_t size) = 0;
  // fdatasync of a file by path, from any thread, while another thread may be appending
  // to it through a WritableFile (fsync is per file, not per descriptor). Makes at least
  // the first `covered_size` bytes durable (those appended before this call began).
  virtual Status SyncPath(const std::string& path, uint64_t covered_size) = 0;
  // fsync of a directory: makes created/renamed/deleted names in it durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  // Takes an exclusive lock on path (creating it). Busy if another process holds it.
  virtual StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;
  // Checks that the directory exists and that we may create files in it.
  virtual Status CheckWritableDir(const std::string& dir) = 0;

  // Convenience: whole file into *out. REQUIRES: the file is small (state files).
  Status ReadFileToString(const std::string& path, std::string* out, uint64_t max_bytes);
  // Small state file, atomically: path.tmp → write → fsync → rename → fsync dir.
  Status WriteFileAtomic(const std::string& path, std::string_view contents);
  // Small advisory file, replaced atomically for readers but not made durable:
  // path.tmp → write → rename (no fsync). After a machine crash the file may hold an
  // older version or be missing; readers must treat that as "nothing published".
  Status PublishFile(const std::string& path, std::string_view contents);
};

// "a/b" + "c" → "a/b/c".
std::string JoinPath(std::string_view a, std::string_view b);
std::string DirName(std::string_view path);
std::string BaseName(std::string_view path);

}  // namespace docshift
