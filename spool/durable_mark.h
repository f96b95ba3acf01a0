// The durable watermark of a spool (DIR/SYNCED): how far the open segment is fsynced.
//
// Capture appends batches to the open segment and fsyncs them in groups. Between the two,
// the bytes are in the file (any process can read them) but not durable: after a machine
// crash capture truncates what was not synced and captures the same source events again,
// possibly under the same sequence numbers in another order. A reader that acted on those
// bytes (apply writing them to the target and checkpointing past them) would then skip
// the events that replaced them. So readers that act on events read an unsealed segment
// only up to the published mark, never further (Kafka's high watermark).
//
// The writer publishes after every fsync of the open segment, after creating a segment,
// after sealing one and after recovery (which fsyncs what it keeps). The file is replaced
// atomically but not fsynced itself: a machine crash can leave it older or missing, which
// only holds readers back until capture runs again. It never claims more than is durable,
// because it is written after the fsync it reports.
//
// Thread safety: the functions are stateless; DurableMarkPublisher is thread safe.
#pragma once

#include <cstdint>
#include <limits>
#include <mutex>
#include <string>

#include "util/env.h"
#include "util/status.h"

namespace docshift::spool {

struct DurableMark {
  uint64_t segment_first_seq = 0;  // 0: nothing published
  uint64_t durable_bytes = 0;
};

inline constexpr uint64_t kNoReadLimit = std::numeric_limits<uint64_t>::max();

// Reads DIR/SYNCED. A missing, torn or unreadable file is "nothing published" ({0, 0}).
DurableMark ReadDurableMark(Env* env, const std::string& spool_dir);

// How many bytes of the segment starting at `segment_first_seq` a reader may read, given
// the published mark and whether the manifest lists the segment as sealed: all of a
// sealed segment or of one the writer has moved past; the published length of the one
// the mark is about; nothing of a newer one.
uint64_t ReadableBytes(const DurableMark& mark, uint64_t segment_first_seq, bool sealed);

// The writer's side: publishes marks, never one lower than the last it published.
class DurableMarkPublisher {
 public:
  DurableMarkPublisher(Env* env, std::string spool_dir);
  Status Publish(uint64_t segment_first_seq, uint64_t durable_bytes);

 private:
  Env* env_;
  std::string path_;
  std::mutex mu_;
  DurableMark last_;
  bool published_ = false;
};

}  // namespace docshift::spool
