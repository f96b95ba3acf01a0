#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/env.h"

namespace docshift {
namespace {

Status Errno(std::string_view what, const std::string& path, int err) {
  std::string m(what);
  m += " ";
  m += path;
  return Status::FromErrno(m, err);
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Append(std::string_view data) override {
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        // A short write may have put part of the data in the file; size_ is advanced by
        // what was written so callers that truncate on error know where to cut.
        return Errno("write", path_, errno);
      }
      p += n;
      left -= static_cast<size_t>(n);
      size_ += static_cast<uint64_t>(n);
    }
    return Status::OK();
  }
  Status Sync() override {
    if (::fdatasync(fd_) != 0) return Errno("fdatasync", path_, errno);
    return Status::OK();
  }
  Status Close() override {
    if (fd_ < 0) return Status::OK();
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return Errno("close", path_, errno);
    return Status::OK();
  }
  uint64_t Size() const override { return size_; }
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  int fd_;
  uint64_t size_;
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }
  Status Read(uint64_t offset, size_t n, std::string* out) const override {
    out->resize(n);
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd_, out->data() + got, n - got, static_cast<off_t>(offset + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Errno("read", path_, errno);
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    out->resize(got);
    return Status::OK();
  }
  StatusOr<uint64_t> Size() const override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return Errno("stat", path_, errno);
    return static_cast<uint64_t>(st.st_size);
  }
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  int fd_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
  Status Rewrite(std::string_view contents) override {
    if (::pwrite(fd_, contents.data(), contents.size(), 0) != static_cast<ssize_t>(contents.size()) ||
        ::ftruncate(fd_, static_cast<off_t>(contents.size())) != 0) {
      return Status::FromErrno("rewrite lock file", errno);
    }
    return Status::OK();
  }

 private:
  int fd_;
};

class PosixEnv final : public Env {
 public:
  StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("create", path, errno);
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd, 0));
  }
  StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) return Errno("open for append", path, errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int e = errno;
      ::close(fd);
      return Errno("stat", path, e);
    }
    return std::unique_ptr<WritableFile>(
        new PosixWritableFile(path, fd, static_cast<uint64_t>(st.st_size)));
  }
  StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open", path, errno);
    return std::unique_ptr<RandomAccessFile>(new PosixRandomAccessFile(path, fd));
  }
  bool FileExists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }
  StatusOr<uint64_t> GetFileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return Errno("stat", path, errno);
    return static_cast<uint64_t>(st.st_size);
  }
  StatusOr<std::vector<std::string>> GetChildren(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return Errno("list directory", dir, errno);
    std::vector<std::string> out;
    while (struct dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      out.emplace_back(e->d_name);
    }
    ::closedir(d);
    return out;
  }
  Status CreateDirIfMissing(const std::string& dir) override {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return Errno("mkdir", dir, errno);
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) return Errno("stat", dir, errno);
    if (!S_ISDIR(st.st_mode)) return Status::IOError(dir + " exists and is not a directory");
    return Status::OK();
  }
  Status DeleteFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Errno("delete", path, errno);
    return Status::OK();
  }
  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return Errno("rename to " + to, from, errno);
    return Status::OK();
  }
  Status Truncate(const std::string& path, uint64_t size) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open for truncate", path, errno);
    Status s;
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
      s = Errno("truncate", path, errno);
    } else if (::fsync(fd) != 0) {
      s = Errno("fsync", path, errno);
    }
    ::close(fd);
    return s;
  }
  Status SyncPath(const std::string& path, uint64_t) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open for sync", path, errno);
    Status s;
    if (::fdatasync(fd) != 0) s = Errno("fdatasync", path, errno);
    ::close(fd);
    return s;
  }
  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Errno("open directory", dir, errno);
    Status s;
    if (::fsync(fd) != 0) s = Errno("fsync directory", dir, errno);
    ::close(fd);
    return s;
  }
  StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("open lock file", path, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      std::string holder(32, '\0');
      ssize_t n = ::pread(fd, holder.data(), holder.size(), 0);
      ::close(fd);
      holder.resize(n > 0 ? static_cast<size_t>(n) : 0);
      holder = holder.substr(0, holder.find('\n'));  // the first line: the pid
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) holder.pop_back();
      if (e == EWOULDBLOCK) {
        return Status::Busy(path + " is held by pid " + (holder.empty() ? "?" : holder));
      }
      return Errno("lock", path, e);
    }
    // The holder's pid, for the message another process prints. The lock file carries no
    // data, so rewriting it is safe.
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
      int e = errno;
      ::close(fd);
      return Errno("write pid to", path, e);
    }
    return std::unique_ptr<FileLock>(new PosixFileLock(fd));
  }
  Status CheckWritableDir(const std::string& dir) override {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) return Errno("stat", dir, errno);
    if (!S_ISDIR(st.st_mode)) return Status::IOError(dir + " is not a directory");
    if (::access(dir.c_str(), W_OK | X_OK) != 0) return Errno("no write permission on", dir, errno);
    return Status::OK();
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv();
  return env;
}

Status Env::ReadFileToString(const std::string& path, std::string* out, uint64_t max_bytes) {
  ASSIGN_OR_RETURN(auto f, NewRandomAccessFile(path));
  ASSIGN_OR_RETURN(uint64_t size, f->Size());
  if (size > max_bytes) {
    return Status::Corruption(path + ": file is " + std::to_string(size) +
                              " bytes, more than the limit of " + std::to_string(max_bytes));
  }
  return f->Read(0, size, out);
}

Status Env::WriteFileAtomic(const std::string& path, std::string_view contents) {
  const std::string tmp = path + ".tmp";
  if (FileExists(tmp)) RETURN_IF_ERROR(DeleteFile(tmp));
  {
    ASSIGN_OR_RETURN(auto f, NewWritableFile(tmp));
    RETURN_IF_ERROR(f->Append(contents));
    RETURN_IF_ERROR(f->Sync());
    RETURN_IF_ERROR(f->Close());
  }
  RETURN_IF_ERROR(RenameFile(tmp, path));
  return SyncDir(DirName(path));
}

Status Env::PublishFile(const std::string& path, std::string_view contents) {
  const std::string tmp = path + ".tmp";
  if (FileExists(tmp)) RETURN_IF_ERROR(DeleteFile(tmp));
  {
    ASSIGN_OR_RETURN(auto f, NewWritableFile(tmp));
    RETURN_IF_ERROR(f->Append(contents));
    RETURN_IF_ERROR(f->Close());
  }
  return RenameFile(tmp, path);
}

std::string JoinPath(std::string_view a, std::string_view b) {
  std::string r(a);
  if (!r.empty() && r.back() != '/') r += '/';
  r += b;
  return r;
}

std::string DirName(std::string_view path) {
  auto pos = path.rfind('/');
  if (pos == std::string_view::npos) return ".";
  if (pos == 0) return "/";
  return std::string(path.substr(0, pos));
}

std::string BaseName(std::string_view path) {
  auto pos = path.rfind('/');
  return std::string(pos == std::string_view::npos ? path : path.substr(pos + 1));
}

}  // namespace docshift
