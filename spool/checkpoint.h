// Small state files, each one framed protobuf record replaced atomically:
//   checkpoints/<name>.ckpt   ApplyCheckpoint, apply progress
//   snapshot/STATE            SnapshotState, the snapshot's plan and finished ranges
// Apply checkpoints: checkpoints/<name>.ckpt, one ApplyCheckpoint record in a framed
// file, replaced atomically (temp → fsync → rename → fsync directory), so a reader sees
// the old or the new checkpoint, never a mix.
#pragma once

#include <string>
#include <vector>

#include <string_view>

#include <google/protobuf/message_lite.h>

#include "proto/spool.pb.h"
#include "spool/format.h"
#include "util/env.h"
#include "util/status.h"

namespace docshift::spool {

// One protobuf record in a framed file (magic, crc), replaced atomically (durable on
// return). Read: NotFound if absent; Corruption naming the file and offset if damaged.
Status WriteStateFile(Env* env, const std::string& path, std::string_view magic,
                      RecordType type, const google::protobuf::MessageLite& msg);
Status ReadStateFile(Env* env, const std::string& path, std::string_view magic,
                     RecordType type, google::protobuf::MessageLite* msg);
// The same for a state file's bytes in memory (an object read from a bucket); `where`
// names it in Corruption messages ("s3://bucket/key").
Status DecodeStateFile(std::string_view body, const std::string& where, std::string_view magic,
                       RecordType type, google::protobuf::MessageLite* msg);

// An apply name becomes part of file names in the spool (checkpoints/NAME.ckpt,
// deadletter/NAME.dlq, status/apply-NAME.status), so it is one path component from a
// documented set: [A-Za-z0-9][A-Za-z0-9._-]{0,63}. InvalidArgument naming `flag` (e.g.
// "--name") and the set otherwise: "", "../x", "a/b", ".hidden" are refused.
Status CheckApplyName(const std::string& name, std::string_view flag = "--name");
inline constexpr std::string_view kApplyNameRule =
    "[A-Za-z0-9][A-Za-z0-9._-]{0,63} (1 to 64 letters, digits, '.', '_' or '-', starting with "
    "a letter or digit; e.g. apply, eu-west.2)";

std::string CheckpointPath(const std::string& spool_dir, const std::string& name);
// Writes durably; returns only after the new checkpoint is on disk.
Status WriteCheckpoint(Env* env, const std::string& spool_dir, const std::string& name,
                       const pb::ApplyCheckpoint& ckpt);
// NotFound if there is none; Corruption naming the file if it is damaged.
Status ReadCheckpoint(Env* env, const std::string& path, pb::ApplyCheckpoint* ckpt);

std::string SnapshotStatePath(const std::string& spool_dir);
Status WriteSnapshotState(Env* env, const std::string& spool_dir, const pb::SnapshotState& state);
// NotFound if no snapshot was ever started on this spool.
Status ReadSnapshotState(Env* env, const std::string& spool_dir, pb::SnapshotState* state);

struct NamedCheckpoint {
  std::string name;
  pb::ApplyCheckpoint ckpt;
};
// Every checkpoint in the spool (one per apply name). Corrupt ones are an error.
StatusOr<std::vector<NamedCheckpoint>> ListCheckpoints(Env* env, const std::string& spool_dir);

}  // namespace docshift::spool
