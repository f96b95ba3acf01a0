// MongoDB-API sources of verify and reconcile (verify/source.h): collections split into
// _id ranges (mongo/id_ranges.h), documents looked up by _id.
#include "aws/dynamodb_uri.h"
#include "verify/internal.h"
#include "verify/source.h"

namespace docshift::verify {

using namespace internal;
using mongo::BsonPtr;
using mongo::CollPtr;
using mongo::CursorPtr;

namespace {

class MongoVerifySource : public VerifySource {
 public:
  Status Open(const std::string& uri, int parallel) {
    return Connect(uri, "source", std::max(1, parallel) + 1, &side_);
  }

  const std::string& Redacted() const override { return side_.redacted; }
  const std::string& Identity() const override { return side_.identity; }

  StatusOr<std::vector<std::string>> ListNamespaces(const mongo::NamespaceFilter& filter,
                                                    bool* complete) override {
    mongo::PooledClient c(side_.pool.get());
    ASSIGN_OR_RETURN(auto list, mongo::ListCollections(c.get(), filter));
    std::vector<std::string> out;
    for (const auto& n : list) out.push_back(n.ns());
    *complete = true;
    return out;
  }

  StatusOr<uint64_t> Count(const std::string& ns) override {
    mongo::PooledClient c(side_.pool.get());
    return CountDocs(c.get(), ns);
  }

  bool ReadsByIdRange() const override { return true; }

  StatusOr<std::vector<pb::VerifyRange>> SplitRanges(const std::string& ns, uint64_t docs_per_range,
                                                     bool* mixed) override {
    mongo::PooledClient c(side_.pool.get());
    return internal::SplitRanges(c.get(), ns, docs_per_range, mixed);
  }

  Status ReadRange(const std::string& ns, const pb::VerifyRange& r, bool ids_only,
                   const DocSink& sink) override {
    BsonPtr f = RangeFilterOf(r);
    return Find(ns, f.get(), ids_only, sink);
  }

  Status ReadIds(const std::string& ns, const std::vector<const std::string*>& ids, bool ids_only,
                 const DocSink& sink) override {
    BsonPtr f = IdInFilter(ids);
    return Find(ns, f.get(), ids_only, sink);
  }

 private:
  Status Find(const std::string& ns, const bson_t* filter, bool ids_only, const DocSink& sink) {
    mongo::PooledClient c(side_.pool.get());
    auto [db, coll] = SplitNs(ns);
    CollPtr h = Collection(c.get(), db, coll);
    BsonPtr opts(ids_only ? BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}") : bson_new());
    CursorPtr cur(mongoc_collection_find_with_opts(h.get(), filter, opts.get(), nullptr));
    const bson_t* doc;
    while (mongoc_cursor_next(cur.get(), &doc)) sink(SourceDocument{doc, nullptr});
    bson_error_t err;
    if (mongoc_cursor_error(cur.get(), &err)) {
      return mongo::FromBsonError(err, "reading " + ns + " on the source");
    }
    return Status::OK();
  }

  Side side_;
};

}  // namespace

StatusOr<std::unique_ptr<VerifySource>> OpenMongoVerifySource(const std::string& uri, int parallel) {
  auto s = std::make_unique<MongoVerifySource>();
  RETURN_IF_ERROR(s->Open(uri, parallel));
  return std::unique_ptr<VerifySource>(std::move(s));
}

StatusOr<std::unique_ptr<VerifySource>> OpenVerifySource(const std::string& uri, int parallel,
                                                         const std::atomic<bool>* stop,
                                                         const std::string& dynamodb_numbers) {
  if (aws::IsDynamoUri(uri)) return OpenDynamoVerifySource(uri, parallel, stop, dynamodb_numbers);
  return OpenMongoVerifySource(uri, parallel);
}

}  // namespace docshift::verify
