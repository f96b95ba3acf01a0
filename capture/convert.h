// Turning what a source sends into spool ChangeEvents. BSON sub-documents are copied as
// the bytes received (never re-encoded).
#pragma once

#include <string>
#include <vector>

#include <bson/bson.h>

#include "proto/spool.pb.h"
#include "util/status.h"

namespace docshift::capture {

struct ConvertContext {
  // Namespace of the stream when the event does not name one (collection streams on
  // servers that omit "ns": mongo-java-server).
  std::string stream_db, stream_coll;
  // Count of events whose documentKey lacked _id and was rebuilt from fullDocument
  // (mongo-java-server sends the update's operators as documentKey).
  uint64_t rebuilt_document_keys = 0;
  // Set by each ConvertChangeEvent: the event named no namespace and got the stream's.
  bool ns_from_stream = false;
  // --source_kind cosmos: the pipeline Azure Cosmos DB for MongoDB requires projects each
  // event down to {_id, fullDocument, ns, documentKey}, so events carry no operationType
  // (and no clusterTime). Such an event is the document's whole state after an insert,
  // update or replace (the $match admits nothing else), recorded as a replace: applied as
  // a replace with upsert by _id, which is right for all three.
  bool cosmos_projection = false;
  // Count of events recorded as a replace because they carried no operationType.
  uint64_t untyped_as_replace = 0;
};

// A change stream event. InvalidArgument if it lacks an _id (resume token) or an
// operationType (unless ctx->cosmos_projection and it carries a fullDocument).
Status ConvertChangeEvent(const bson_t* doc, ConvertContext* ctx, pb::ChangeEvent* out);

struct OplogOptions {
  // FerretDB logs every update and replace as {"$v": 1, "$set": <whole post-image>}
  // (tests/README.md, QuirkFerretOplogUpdateIsPostImage). On MongoDB the same shape is a
  // partial $set, so this is only switched on when the source identifies as FerretDB.
  bool updates_are_post_images = false;
};

// One oplog entry → zero or more events (applyOps expands; "n" no-ops give none).
// *ts gets the entry's timestamp. InvalidArgument if the entry has no ts.
Status ConvertOplogEntry(const bson_t* entry, const OplogOptions& opts,
                         std::vector<pb::ChangeEvent>* out, uint32_t* ts_t, uint32_t* ts_i);

// Workaround, named: mongo-java-server sends an update's operators ({"$set": ...}) as its
// documentKey, and when the document is gone by the time of the updateLookup, a
// fullDocument without _id (tests/README.md). Such an event is rebuilt from the source's
// oplog entry at the same cluster time: its key from o2, its update description from the
// operators, the unusable full document dropped. InvalidArgument if the entry does not
// describe one write at that time with an _id.
Status RepairKeyFromOplogEntry(const bson_t* oplog_entry, pb::ChangeEvent* ev);

// Whether a document (BSON bytes) has an _id field.
bool HasId(const std::string& doc_bytes);

pb::OpType ParseOperationType(const std::string& s);

}  // namespace docshift::capture
