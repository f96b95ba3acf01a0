#include "bucket/location.h"

#include <cstdio>

#include "spool/format.h"

namespace docshift::bucket {
namespace {

bool IsBucketChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'; }
bool IsAlnumLower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsPrefixChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-' || c == '/';
}

std::string Digits(uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020llu", static_cast<unsigned long long>(n));
  return buf;
}

}  // namespace

std::string BucketLocation::ToString() const {
  return std::string(kS3Scheme) + bucket + (prefix.empty() ? "" : "/" + prefix);
}
std::string BucketLocation::Key(std::string_view name) const {
  return prefix.empty() ? std::string(name) : prefix + "/" + std::string(name);
}
std::string BucketLocation::Url(std::string_view name) const {
  return std::string(kS3Scheme) + bucket + "/" + Key(name);
}
std::string BucketLocation::LogDir() const { return Key("log/"); }
std::string BucketLocation::LogKey(uint64_t n) const { return Key("log/" + Digits(n)); }
std::string BucketLocation::SegmentKey(std::string_view file_name) const {
  return Key(std::string(spool::kSegmentsDir) + "/" + std::string(file_name));
}
std::string BucketLocation::CheckpointsDir() const { return Key(std::string(spool::kCheckpointsDir) + "/"); }
std::string BucketLocation::CheckpointKey(std::string_view name) const {
  return Key(std::string(spool::kCheckpointsDir) + "/" + std::string(name) + std::string(spool::kCheckpointSuffix));
}
std::string BucketLocation::SnapshotStateKey() const {
  return Key(std::string(spool::kSnapshotDir) + "/" + std::string(spool::kSnapshotStateFile));
}
std::string BucketLocation::DeadLetterKey(std::string_view name) const {
  return Key("deadletter/" + std::string(name) + ".dlq");
}
std::string BucketLocation::CaptureStatusKey() const {
  return Key(std::string(spool::kStatusDir) + "/capture.status");
}

bool IsBucketUrl(std::string_view s) { return s.substr(0, kS3Scheme.size()) == kS3Scheme; }

StatusOr<BucketLocation> ParseBucketUrl(std::string_view url, std::string_view flag) {
  const std::string rule =
      " (expected s3://BUCKET or s3://BUCKET/PREFIX: a bucket name of 3-63 characters "
      "[a-z0-9.-], a prefix of [A-Za-z0-9._-] components separated by '/')";
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(std::string(flag) + " '" + std::string(url) + "': " + std::string(why) + rule);
  };
  if (!IsBucketUrl(url)) return bad("not an s3:// URL");
  std::string_view rest = url.substr(kS3Scheme.size());
  const size_t slash = rest.find('/');
  BucketLocation loc;
  loc.bucket = std::string(rest.substr(0, slash));
  std::string_view prefix = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  if (loc.bucket.empty()) return bad("no bucket name");
  if (loc.bucket.size() < 3 || loc.bucket.size() > 63) return bad("the bucket name must have 3 to 63 characters");
  for (char c : loc.bucket) {
    if (!IsBucketChar(c)) return bad("the bucket name has a character S3 refuses");
  }
  if (!IsAlnumLower(loc.bucket.front()) || !IsAlnumLower(loc.bucket.back())) {
    return bad("the bucket name must start and end with a letter or digit");
  }
  for (char c : prefix) {
    if (!IsPrefixChar(c)) return bad("the prefix has a character outside [A-Za-z0-9._-/]");
  }
  size_t start = 0;
  while (start <= prefix.size() && !prefix.empty()) {
    size_t end = prefix.find('/', start);
    if (end == std::string_view::npos) end = prefix.size();
    const std::string_view part = prefix.substr(start, end - start);
    if (part.empty()) return bad("the prefix has an empty component ('//' or a leading '/')");
    if (part == "." || part == "..") return bad("the prefix has a '.' or '..' component");
    start = end + 1;
  }
  loc.prefix = std::string(prefix);
  return loc;
}

std::optional<uint64_t> ParseLogNumber(std::string_view key_name) {
  const size_t slash = key_name.rfind('/');
  if (slash != std::string_view::npos) key_name = key_name.substr(slash + 1);
  if (key_name.size() != kLogNumberDigits) return std::nullopt;
  uint64_t n = 0;
  for (char c : key_name) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (n > (UINT64_MAX - d) / 10) return std::nullopt;
    n = n * 10 + d;
  }
  if (n == 0) return std::nullopt;
  return n;
}

}  // namespace docshift::bucket
