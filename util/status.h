// Status and StatusOr<T>: how every docshift library reports errors.
//
// No exceptions cross a module boundary. A Status is one pointer: null when OK, so the
// success path costs nothing (leveldb's include/leveldb/status.h). Codes map to the
// process exit codes documented in README.md (see ExitCodeFor in cli/).
//
// Thread safety: a Status is a value; distinct objects may be used from distinct
// threads freely.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace docshift {

class [[nodiscard]] Status {
 public:
  enum class Code : int {
    kOk = 0,
    kNotFound = 1,
    kCorruption = 2,        // Bad bytes on disk: names the file and offset.
    kInvalidArgument = 3,   // Bad input from the user: names the input and the fix.
    kIOError = 4,           // The OS refused (disk full, permission, ...).
    kBusy = 5,              // Another process holds what we need (spool lock).
    kFailedPrecondition = 6,// State forbids the operation (wrong source, gap in history).
    kUnavailable = 7,       // A server could not be reached; transient.
    kInternal = 8,
    kEndOfFile = 9,         // Reader reached a clean end.
    kAborted = 10,          // Stopped on request (signal).
    kNotSupported = 11,     // Written by a newer docshift (a format version this build
                            // cannot read): names the file, both versions, and the fix.
  };

  Status() = default;
  Status(const Status& o) : rep_(o.rep_ ? std::make_unique<Rep>(*o.rep_) : nullptr) {}
  Status& operator=(const Status& o) {
    if (this != &o) rep_ = o.rep_ ? std::make_unique<Rep>(*o.rep_) : nullptr;
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status OK() { return Status(); }
  static Status NotFound(std::string_view m) { return Status(Code::kNotFound, m); }
  static Status Corruption(std::string_view m) { return Status(Code::kCorruption, m); }
  static Status InvalidArgument(std::string_view m) { return Status(Code::kInvalidArgument, m); }
  static Status IOError(std::string_view m) { return Status(Code::kIOError, m); }
  static Status Busy(std::string_view m) { return Status(Code::kBusy, m); }
  static Status FailedPrecondition(std::string_view m) {
    return Status(Code::kFailedPrecondition, m);
  }
  static Status Unavailable(std::string_view m) { return Status(Code::kUnavailable, m); }
  static Status Internal(std::string_view m) { return Status(Code::kInternal, m); }
  static Status EndOfFile(std::string_view m = "end of file") {
    return Status(Code::kEndOfFile, m);
  }
  static Status Aborted(std::string_view m) { return Status(Code::kAborted, m); }
  static Status NotSupported(std::string_view m) { return Status(Code::kNotSupported, m); }
  // errno-derived IO error: "<context>: <strerror>".
  static Status FromErrno(std::string_view context, int err);

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  bool IsNotFound() const { return code() == Code::kNotFound; }
  bool IsCorruption() const { return code() == Code::kCorruption; }
  bool IsEndOfFile() const { return code() == Code::kEndOfFile; }
  bool IsBusy() const { return code() == Code::kBusy; }
  bool IsInvalidArgument() const { return code() == Code::kInvalidArgument; }
  bool IsIOError() const { return code() == Code::kIOError; }
  bool IsUnavailable() const { return code() == Code::kUnavailable; }
  bool IsFailedPrecondition() const { return code() == Code::kFailedPrecondition; }
  bool IsAborted() const { return code() == Code::kAborted; }
  bool IsNotSupported() const { return code() == Code::kNotSupported; }

  // The message without the code name.
  std::string message() const { return rep_ ? rep_->msg : std::string(); }
  // "Corruption: <message>" or "OK".
  std::string ToString() const;
  static const char* CodeName(Code c);

  // Returns a copy with "<context>: " prepended to the message.
  Status WithContext(std::string_view context) const;

 private:
  struct Rep {
    Code code;
    std::string msg;
  };
  Status(Code c, std::string_view m) : rep_(std::make_unique<Rep>(Rep{c, std::string(m)})) {}
  std::unique_ptr<Rep> rep_;
};

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  StatusOr(Status status) : v_(std::move(status)) {}   // NOLINT: REQUIRES: !status.ok()
  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status::OK() : std::get<Status>(v_); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace docshift

#define DS_CONCAT_INNER(a, b) a##b
#define DS_CONCAT(a, b) DS_CONCAT_INNER(a, b)

// Returns early from the enclosing function with the error, if any.
#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::docshift::Status _ds_st = (expr);                \
    if (!_ds_st.ok()) return _ds_st;                   \
  } while (0)

// Same, with "<context>: " prepended to the message.
#define RETURN_IF_ERROR_CTX(expr, context)             \
  do {                                                 \
    ::docshift::Status _ds_st = (expr);                \
    if (!_ds_st.ok()) return _ds_st.WithContext(context); \
  } while (0)

// ASSIGN_OR_RETURN(auto x, MakeX()); returns the error if MakeX failed.
#define ASSIGN_OR_RETURN(lhs, expr)                                  \
  auto DS_CONCAT(_ds_sor_, __LINE__) = (expr);                       \
  if (!DS_CONCAT(_ds_sor_, __LINE__).ok())                           \
    return DS_CONCAT(_ds_sor_, __LINE__).status();                   \
  lhs = std::move(DS_CONCAT(_ds_sor_, __LINE__)).value()
