// Where apply checkpoints live, behind a small interface: the spool directory's
// checkpoints/ (local, this file) or a bucket spool's checkpoints/ (issue #13). Apply,
// and apply slots waiting on each other at a DDL barrier, read and write through it.
//
// Thread safety: one thread per object.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "proto/spool.pb.h"
#include "spool/checkpoint.h"
#include "util/env.h"
#include "util/status.h"

namespace docshift::spool {

class CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;
  // Where the checkpoints are, for messages: "DIR/checkpoints", "s3://BUCKET/PREFIX/checkpoints".
  virtual std::string Describe() const = 0;
  // The checkpoint of `name`: NotFound if there is none; Corruption naming the file or
  // object if it is damaged.
  virtual Status Read(const std::string& name, pb::ApplyCheckpoint* out) = 0;
  // Replaces the checkpoint of `name`; durable when it returns OK. A store that fences
  // writers (a bucket) returns FailedPrecondition when another process of the same name
  // has taken the checkpoint over: the caller must stop.
  virtual Status Write(const std::string& name, const pb::ApplyCheckpoint& ckpt) = 0;
  // Every checkpoint, by name.
  virtual StatusOr<std::vector<NamedCheckpoint>> List() = 0;
};

// checkpoints/<name>.ckpt in a local spool directory (spool/checkpoint.h).
std::unique_ptr<CheckpointStore> NewLocalCheckpointStore(Env* env, std::string spool_dir);

}  // namespace docshift::spool
