// A read-only RandomAccessFile over bytes the caller owns (and keeps alive): for reading
// framed records from memory (an object fetched from a bucket, a fuzz input) with the
// same scanner, and the same Corruption messages naming `path` and the offset, as files.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "util/env.h"

namespace docshift {

class MemoryFile final : public RandomAccessFile {
 public:
  MemoryFile(std::string path, std::string_view data) : path_(std::move(path)), data_(data) {}
  Status Read(uint64_t offset, size_t n, std::string* out) const override {
    if (offset >= data_.size()) {
      out->clear();
      return Status::OK();
    }
    out->assign(data_.substr(offset, n));
    return Status::OK();
  }
  StatusOr<uint64_t> Size() const override { return static_cast<uint64_t>(data_.size()); }
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  std::string_view data_;
};

}  // namespace docshift
