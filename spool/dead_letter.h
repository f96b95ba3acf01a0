// Dead-letter files: deadletter/<apply name>.dlq in the spool, one DeadLetter record per
// event apply could not write for a permanent reason.
//
//   preamble("DSHDLQ01", version) | DEAD_LETTER record*
//
// Appended by apply (many lanes: Append is thread safe), synced before apply's checkpoint
// passes the event, read by `docshift inspect deadletters`.
//
// One record per sequence number: a replay of events already dead-lettered under this
// name (apply --from, or a restart below what was written) does not record them again.
// (Sequence 0, the snapshot's documents, is not deduplicated.)
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>

#include "proto/spool.pb.h"
#include "util/env.h"
#include "util/status.h"

namespace docshift::spool {

std::string DeadLetterPath(const std::string& spool_dir, const std::string& name);

class DeadLetterWriter {
 public:
  DeadLetterWriter(Env* env, std::string spool_dir, std::string name);
  // Creates the file or opens it for appending, truncating a torn tail first; notes the
  // sequence numbers already recorded.
  Status Open();
  // Appends a record, unless seq (> 0) is recorded already (then *appended = false).
  Status Append(uint64_t seq, const pb::ChangeEvent& event, int code, const std::string& message,
                const std::string& target_ns, bool* appended = nullptr);
  // Makes every appended record durable. Cheap when nothing was appended.
  Status Sync();

 private:
  Env* env_;
  std::string spool_dir_, name_;
  std::mutex mu_;
  std::unique_ptr<WritableFile> file_;
  bool dirty_ = false;
  std::unordered_set<uint64_t> recorded_;  // sequence numbers in the file
};

// Calls fn for each record. A torn tail ends the scan quietly (an append in progress);
// corruption is an error naming file and offset. NotFound if there is no file.
Status ReadDeadLetters(Env* env, const std::string& path,
                       const std::function<void(uint64_t offset, const pb::DeadLetter&)>& fn);

}  // namespace docshift::spool
