// What `docshift snapshot` reads from: one implementation per source kind (MongoDB-API
// collections split into _id ranges, DynamoDB tables split into parallel Scan segments),
// behind this small interface, so the copier (snapshot.cc: workers, target writes, dead
// letters, the durable plan, progress) does not know the kind.
//
// A source plans once: every selected collection with its ranges, written to
// snapshot/STATE before the first document is read. A range is read by a RangeReader in
// batches; a reader that can name a position inside its range (ResumePosition) lets a
// restarted snapshot continue the range where it stopped instead of from its start.
//
// Thread safety: Plan, the Copy* methods and OpenRange may be called from several copier
// threads at once; a RangeReader is used by one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mongo/mongo_util.h"
#include "proto/spool.pb.h"
#include "snapshot/indexes.h"
#include "snapshot/snapshot.h"
#include "util/status.h"

namespace docshift::apply {
class NamespaceMap;
}

namespace docshift::snapshot {

// A source record a reader could not make a document of (DynamoDB: an item with a number
// Decimal128 cannot hold). It must not stop the snapshot: the copier writes it to the
// dead-letter file with `why` and copies the rest of the range.
struct UnreadableRecord {
  mongo::BsonPtr doc;  // what is known of it: {_id: its key, when that converts, ...}
  std::string why;     // one line naming the attribute
};

class RangeReader {
 public:
  virtual ~RangeReader() = default;
  // Appends the range's next documents to *batch (at most max_docs, and stops once
  // max_bytes are reached). Returns false once the range is exhausted (*batch may still
  // have received documents). Unavailable for errors worth reading the range again.
  virtual StatusOr<bool> Next(std::vector<mongo::BsonPtr>* batch, size_t max_docs, uint64_t max_bytes) = 0;
  // A position inside the range covering every document returned so far ("" when the
  // source can only restart a range from its start). Stored in SnapshotRange.resume_after
  // once those documents are on the target.
  virtual std::string ResumePosition() const { return ""; }
  // Moves the records that Next read but could not convert (since the last call) onto
  // *out. Called after every Next, so they are dead-lettered before a ResumePosition
  // past them is stored. Sources whose records are always documents keep the default.
  virtual void TakeUnreadable(std::vector<UnreadableRecord>* out) { (void)out; }
};

class SnapshotSource {
 public:
  virtual ~SnapshotSource() = default;
  // The identity capture recorded for this source (SpoolCreated.source_id).
  virtual std::string Identity(const std::string& spool_source_kind) const = 0;
  // Connects once (one clear line when the source cannot be reached or refuses us).
  virtual Status Check() = 0;
  // Adds every selected collection to *state with its ranges and estimates, target
  // names from map. FailedPrecondition when nothing is selected.
  virtual Status Plan(const SnapshotOptions& opts, const apply::NamespaceMap& map,
                      pb::SnapshotState* state) = 0;
  // Creates the target collection with the source's options (if any), before its
  // documents; *refused names options the target refused.
  virtual Status CopyCollectionOptions(const pb::SnapshotCollection& c, mongoc_client_t* target,
                                       std::string* refused) = 0;
  virtual Status CopyIndexes(const pb::SnapshotCollection& c, mongoc_client_t* target,
                             IndexCopyResult* result) = 0;
  // A reader of range r of c, from r.resume_after() when set.
  virtual StatusOr<std::unique_ptr<RangeReader>> OpenRange(const pb::SnapshotCollection& c,
                                                           const pb::SnapshotRange& r) = 0;
  // "[{_id: 1}, {_id: 500})", "segment 3/16": for logs and errors.
  virtual std::string DescribeRange(const pb::SnapshotCollection& c, const pb::SnapshotRange& r) const = 0;
  // Documents the copy writes in one insert (sources with their own page size say so).
  virtual int PreferredBatchDocs(int flag_value) const { return flag_value; }
};

// The source for opts.source_uri (by its scheme).
StatusOr<std::unique_ptr<SnapshotSource>> NewSnapshotSource(const SnapshotOptions& opts);
// MongoDB-API sources (snapshot/mongo_source.cc).
StatusOr<std::unique_ptr<SnapshotSource>> NewMongoSnapshotSource(const SnapshotOptions& opts);
// dynamodb://REGION/TABLE[,TABLE...] (snapshot/dynamodb_source.cc).
StatusOr<std::unique_ptr<SnapshotSource>> NewDynamoSnapshotSource(const SnapshotOptions& opts);

}  // namespace docshift::snapshot
