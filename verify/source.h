// What `docshift verify` and `docshift reconcile` read the source through: one
// implementation per source kind, so that verify.cc and reconcile.cc (planning, range
// comparison, re-check, deletes on the target) do not know the kind.
//   - MongoDB-API sources (verify/mongo_source.cc): namespaces split into _id ranges,
//     documents looked up by _id.
//   - DynamoDB (verify/dynamodb_source.cc): a table cannot be read by _id range, so it is
//     one unit, read by a parallel consistent Scan and converted with aws::ItemToBson
//     exactly as capture and snapshot convert it; a lookup by _id reads the table again.
//
// The target is always a MongoDB-API server and stays in verify.cc.
//
// Thread safety: every method may be called from several threads at once. A sink is
// called one call at a time per Read* call, on any thread, and not after that call
// returned.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mongo/mongo_util.h"
#include "mongo/namespaces.h"
#include "proto/spool.pb.h"
#include "util/status.h"

namespace docshift::verify {

// One source document as a reader delivers it.
struct SourceDocument {
  // The document; for one the source holds but cannot convert (a DynamoDB number no BSON
  // type holds), just {_id: value} as far as the key converts.
  const bson_t* doc = nullptr;
  // Null, or why the document could not be converted, naming the attribute. Such a
  // document always counts as a difference (apply dead-lettered it).
  const std::string* problem = nullptr;
};
using DocSink = std::function<void(const SourceDocument&)>;

class VerifySource {
 public:
  virtual ~VerifySource() = default;

  // The source for messages and reports, without credentials.
  virtual const std::string& Redacted() const = 0;
  // A credential-free identity of the endpoint (and of the namespaces the URI names), for
  // the state file's fingerprint.
  virtual const std::string& Identity() const = 0;

  // The selected namespaces ("db.coll"), sorted. *complete: whether a namespace missing
  // from the list is missing from the source (true when the source is listed; false when
  // the URI names the namespaces, so a target collection outside them is out of scope).
  // Errors: a DynamoDB table named but absent is NotFound, naming it.
  virtual StatusOr<std::vector<std::string>> ListNamespaces(const mongo::NamespaceFilter& filter,
                                                            bool* complete) = 0;

  // The exact number of documents (never an estimate).
  virtual StatusOr<uint64_t> Count(const std::string& ns) = 0;

  // Whether a namespace can be read by _id range and its documents looked up by _id.
  // When not, a namespace is one range (the whole of it), its count is the number of
  // documents that range read, and ReadIds reads the whole namespace.
  virtual bool ReadsByIdRange() const = 0;

  // The namespace's ranges (verify.h: resumable, docs_per_range each). *mixed: its _ids
  // span several BSON type brackets, so it is one range.
  virtual StatusOr<std::vector<pb::VerifyRange>> SplitRanges(const std::string& ns, uint64_t docs_per_range,
                                                             bool* mixed) = 0;

  // Streams the documents of range r of ns (r unbounded: all of them) into sink.
  // ids_only: only _id is needed (a source may still deliver whole documents).
  virtual Status ReadRange(const std::string& ns, const pb::VerifyRange& r, bool ids_only,
                           const DocSink& sink) = 0;

  // Streams the documents whose {_id: value} is among ids, and when !ReadsByIdRange()
  // every other document too: callers keep only the keys they asked for.
  virtual Status ReadIds(const std::string& ns, const std::vector<const std::string*>& ids, bool ids_only,
                         const DocSink& sink) = 0;
};

// The source for `uri` by its scheme (dynamodb:// or a MongoDB connection string),
// connected and checked: one clear line when it cannot be reached or refuses the
// credentials. parallel: how many threads will call it at once. dynamodb_numbers: a
// DynamoDB source's number mode (aws::ParseNumberMode), ignored for other sources.
// Errors: InvalidArgument for a malformed URI or mode; Unavailable for an unreachable endpoint.
StatusOr<std::unique_ptr<VerifySource>> OpenVerifySource(const std::string& uri, int parallel,
                                                         const std::atomic<bool>* stop,
                                                         const std::string& dynamodb_numbers = "decimal");
StatusOr<std::unique_ptr<VerifySource>> OpenMongoVerifySource(const std::string& uri, int parallel);
StatusOr<std::unique_ptr<VerifySource>> OpenDynamoVerifySource(const std::string& uri, int parallel,
                                                               const std::atomic<bool>* stop,
                                                               const std::string& dynamodb_numbers = "decimal");

}  // namespace docshift::verify
