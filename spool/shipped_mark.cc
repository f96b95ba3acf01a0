#include "spool/shipped_mark.h"

#include <algorithm>
#include <cstdio>

#include "spool/checkpoint.h"
#include "spool/format.h"

namespace docshift::spool {
namespace {

std::string DestinationId(const std::string& to) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : to) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

std::string ShippedMarkPath(const std::string& spool_dir, const std::string& to) {
  return JoinPath(JoinPath(spool_dir, kShippedDir), DestinationId(to) + std::string(kShippedMarkSuffix));
}

Status WriteShippedMark(Env* env, const std::string& spool_dir, const pb::ShippedMark& mark) {
  RETURN_IF_ERROR(env->CreateDirIfMissing(JoinPath(spool_dir, kShippedDir)));
  return WriteStateFile(env, ShippedMarkPath(spool_dir, mark.to()), kShippedMarkMagic, kRecordShippedMark, mark);
}

StatusOr<std::vector<pb::ShippedMark>> ListShippedMarks(Env* env, const std::string& spool_dir) {
  std::vector<pb::ShippedMark> out;
  const std::string dir = JoinPath(spool_dir, kShippedDir);
  if (!env->FileExists(dir)) return out;
  ASSIGN_OR_RETURN(auto names, env->GetChildren(dir));
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    if (n.size() <= kShippedMarkSuffix.size() ||
        n.compare(n.size() - kShippedMarkSuffix.size(), kShippedMarkSuffix.size(), kShippedMarkSuffix) != 0) {
      continue;  // temp files
    }
    pb::ShippedMark m;
    RETURN_IF_ERROR(ReadStateFile(env, JoinPath(dir, n), kShippedMarkMagic, kRecordShippedMark, &m));
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace docshift::spool
