// Apply checkpoints: checkpoints/<name>.ckpt, one ApplyCheckpoint record in a framed
// file, replaced atomically (temp → fsync → rename → fsync directory), so a reader sees
// the old or the new checkpoint, never a mix.
#pragma once

#include <string>
#include <vector>

#include "proto/spool.pb.h"
#include "util/env.h"
#include "util/status.h"

namespace docshift::spool {

std::string CheckpointPath(const std::string& spool_dir, const std::string& name);
// Writes durably; returns only after the new checkpoint is on disk.
Status WriteCheckpoint(Env* env, const std::string& spool_dir, const std::string& name,
                       const pb::ApplyCheckpoint& ckpt);
// NotFound if there is none; Corruption naming the file if it is damaged.
Status ReadCheckpoint(Env* env, const std::string& path, pb::ApplyCheckpoint* ckpt);

struct NamedCheckpoint {
  std::string name;
  pb::ApplyCheckpoint ckpt;
};
// Every checkpoint in the spool (one per apply name). Corrupt ones are an error.
StatusOr<std::vector<NamedCheckpoint>> ListCheckpoints(Env* env, const std::string& spool_dir);

}  // namespace docshift::spool
