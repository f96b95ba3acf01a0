// The commit log of a spool in a bucket (spool/FORMAT.md, "Bucket layout"): objects
// PREFIX/log/<20-digit n>, n = 1, 2, ... with no gap, each one BucketLogRecord framed as a
// spool state file (preamble "DSHBLG01", one record), created with If-None-Match: * so
// that exactly one writer wins each number. Record 1 holds SpoolCreated; a segment object
// is committed (readers may use it) only once a record holding its SegmentSealed exists;
// a SegmentDeleted record precedes the deletion of a segment object.
//
// Fencing (as SlateDB and Delta Lake do it): a shipper run reads the log to its end and
// appends a ShipperStarted record; from then on it appends at the next number. When
// another run appends first, this run's create-only PUT gets 412 and Append returns
// FailedPrecondition: the run stops. A lost response is not a lost race: the S3 client
// recognises its own object by the writer id and MD5 (aws/s3_client.h).
//
// LogState and ApplyLogRecord are pure (unit-tested without a server); BucketLog does
// the I/O. Thread safety: one thread per object.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/message_lite.h>

#include "bucket/location.h"
#include "proto/spool.pb.h"
#include "spool/format.h"
#include "util/status.h"

namespace docshift::aws {
class S3Client;
}

namespace docshift::bucket {

// What the log holds, folded from its records in order.
struct LogState {
  uint64_t last_number = 0;                 // 0: the log is empty (no spool here yet)
  pb::SpoolCreated created;                 // from record 1
  std::vector<pb::SegmentSealed> segments;  // committed and not deleted, ascending sequence
  uint64_t next_seq = 1;                    // first sequence after the last committed segment
  uint64_t deleted_through_seq = 0;         // every sequence <= this was deleted
  std::string writer_id;                    // writer of the newest record
  pb::ShipperStarted shipper;               // the newest ShipperStarted (empty if none)
  int64_t last_written_wall_ms = 0;         // of the newest record
  // When each live segment was committed: its `sealed` record's written_wall_ms, by
  // first_seq (remote retention's clock, bucket/retention.h).
  std::map<uint64_t, int64_t> committed_wall_ms;
};

// Folds one record into *state. Corruption naming `where` (the record's URL) when it does
// not follow: a number other than last_number + 1, record 1 without SpoolCreated or
// SpoolCreated later, a sealed segment that does not start at next_seq or whose file name
// is not its first sequence, a deletion naming no live segment.
Status ApplyLogRecord(const pb::BucketLogRecord& rec, const std::string& where, LogState* state);

// The object body of a record: preamble + one framed record.
std::string EncodeLogRecord(const pb::BucketLogRecord& rec);
// Corruption naming `where` and the offset when the body is not one such record.
Status DecodeLogRecord(std::string_view body, const std::string& where, pb::BucketLogRecord* rec);

// A spool state file's bytes (preamble + exactly one record, as spool/checkpoint.h writes
// checkpoints/ and snapshot/STATE): the body of a checkpoint object. The reader is
// spool::DecodeStateFile.
std::string EncodeStateObject(std::string_view magic, spool::RecordType type,
                              const google::protobuf::MessageLite& msg);

// The first committed segment holding `seq` or later, or segments.size() if none.
// (For a reader starting at seq; NotFound-worthy when seq <= deleted_through_seq.)
size_t FirstSegmentAtOrAfter(const LogState& state, uint64_t seq);

class BucketLog {
 public:
  BucketLog(aws::S3Client* s3, BucketLocation loc) : s3_(s3), loc_(std::move(loc)) {}

  // Reads every record after state->last_number, in order, and folds it in. Corruption
  // naming the object when the log has a gap (a number missing while a later one exists,
  // or an object listed and gone when read), an object under log/ whose name is not a
  // record number, or a record that does not decode or follow. Other errors as the S3
  // client returns them (Unavailable, InvalidArgument for credentials, NotFound for a
  // missing bucket).
  Status Refresh(LogState* state);

  // Creates record state->last_number + 1 (create-only) with number, writer_id and
  // written_wall_ms filled in, and folds it into *state. FailedPrecondition when another
  // writer created that number first: the message names that writer (host and pid when
  // its run's ShipperStarted can be read) and says this process stops.
  Status Append(pb::BucketLogRecord rec, const std::string& writer_id, int64_t now_ms, LogState* state);

  const BucketLocation& location() const { return loc_; }

 private:
  // The record at number n, decoded.
  Status ReadRecord(uint64_t n, pb::BucketLogRecord* rec);
  aws::S3Client* s3_;
  BucketLocation loc_;
};

}  // namespace docshift::bucket
