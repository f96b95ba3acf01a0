// SpoolTail: reads a spool's events in sequence order from a given sequence number and
// keeps following it as capture appends, including the open segment's tail. Used by
// apply. Never locks; bounded memory (one batch at a time).
//
// From the open segment it returns only what capture has made durable: the records
// below the published durable mark (spool/durable_mark.h). Records capture has written
// but not yet fsynced are never returned: after a machine crash they could vanish and
// their sequence numbers be reused for other events, which the reader's checkpoint would
// then skip.
//
// Thread safety: one thread.
#pragma once

#include <memory>
#include <string>

#include "proto/spool.pb.h"
#include "spool/segment.h"
#include "util/env.h"
#include "util/status.h"

namespace docshift::spool {

class SpoolTail {
 public:
  // REQUIRES: from_seq >= 1.
  SpoolTail(Env* env, std::string dir, uint64_t from_seq);

  // The next batch holding events at or after the position (earlier events removed).
  // EndOfFile when nothing new is available now (call again later); Corruption naming
  // file and offset; NotFound if the segment holding from_seq was deleted by retention.
  Status Next(pb::ChangeBatch* batch);
  // Sequence number of the next event Next() will return.
  uint64_t position() const { return next_seq_; }
  // File currently read, for messages.
  std::string current_file() const;

 private:
  Status OpenSegmentFor();
  // Bytes of the segment starting at first_seq that are durable (kNoReadLimit if sealed).
  uint64_t ReadLimit(uint64_t first_seq, bool known_sealed);

  Env* env_;
  std::string dir_;
  std::string seg_dir_;
  uint64_t next_seq_;
  uint64_t segment_first_ = 0;  // first seq of the segment to read next (0 = locate)
  std::unique_ptr<SegmentReader> cur_;
};

}  // namespace docshift::spool
