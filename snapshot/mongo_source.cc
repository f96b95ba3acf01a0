// The snapshot source for MongoDB-API servers: every selected collection split into _id
// ranges (mongo/id_ranges.h), each read with one find over its range.
#include <glog/logging.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "apply/translate.h"
#include "mongo/id_ranges.h"
#include "mongo/namespaces.h"
#include "snapshot/source.h"

namespace docshift::snapshot {
namespace {

using mongo::BsonPtr;

class MongoRangeReader : public RangeReader {
 public:
  MongoRangeReader(mongoc_client_pool_t* pool, const pb::SnapshotCollection& c,
                   const pb::SnapshotRange& r, int batch_docs)
      : client_(pool), ns_(c.db() + "." + c.coll()) {
    coll_.reset(mongoc_client_get_collection(client_.get(), c.db().c_str(), c.coll().c_str()));
    BsonPtr filter = mongo::RangeFilter(mongo::IdRange{r.min_id(), r.max_id()});
    BsonPtr find_opts(BCON_NEW("batchSize", BCON_INT32(batch_docs)));
    cursor_.reset(mongoc_collection_find_with_opts(coll_.get(), filter.get(), find_opts.get(), nullptr));
  }

  StatusOr<bool> Next(std::vector<BsonPtr>* batch, size_t max_docs, uint64_t max_bytes) override {
    const bson_t* doc;
    size_t n = 0;
    uint64_t bytes = 0;
    while (n < max_docs && bytes < max_bytes) {
      if (!mongoc_cursor_next(cursor_.get(), &doc)) {
        bson_error_t err;
        if (mongoc_cursor_error(cursor_.get(), &err)) return mongo::FromBsonError(err, "reading " + ns_);
        return false;
      }
      batch->emplace_back(bson_copy(doc));
      bytes += doc->len;
      ++n;
    }
    return true;
  }

 private:
  mongo::PooledClient client_;
  std::string ns_;
  mongo::CollPtr coll_;
  mongo::CursorPtr cursor_;
};

class MongoSnapshotSource : public SnapshotSource {
 public:
  MongoSnapshotSource(mongo::UriPtr uri, mongo::PoolPtr pool, std::string redacted, int batch_docs)
      : uri_(std::move(uri)), pool_(std::move(pool)), redacted_(std::move(redacted)), batch_docs_(batch_docs) {}

  std::string Identity(const std::string& spool_source_kind) const override {
    return mongo::EndpointIdentity(uri_.get(), spool_source_kind);
  }

  Status Check() override {
    mongo::PooledClient s(pool_.get());
    return mongo::PingAtStart(s.get(), "source " + redacted_);
  }

  Status Plan(const SnapshotOptions& opts, const apply::NamespaceMap& map, pb::SnapshotState* state) override;

  Status CopyCollectionOptions(const pb::SnapshotCollection& c, mongoc_client_t* target,
                               std::string* refused) override {
    mongo::PooledClient s(pool_.get());
    return snapshot::CopyCollectionOptions(s.get(), target, c.db(), c.coll(), c.target_db(), c.target_coll(), refused);
  }

  Status CopyIndexes(const pb::SnapshotCollection& c, mongoc_client_t* target, IndexCopyResult* result) override {
    mongo::PooledClient s(pool_.get());
    return snapshot::CopyIndexes(s.get(), target, c.db(), c.coll(), c.target_db(), c.target_coll(), result);
  }

  StatusOr<std::unique_ptr<RangeReader>> OpenRange(const pb::SnapshotCollection& c,
                                                   const pb::SnapshotRange& r) override {
    return std::unique_ptr<RangeReader>(new MongoRangeReader(pool_.get(), c, r, batch_docs_));
  }

  std::string DescribeRange(const pb::SnapshotCollection&, const pb::SnapshotRange& r) const override {
    return mongo::DescribeRange({r.min_id(), r.max_id()});
  }

 private:
  mongo::UriPtr uri_;
  mongo::PoolPtr pool_;
  std::string redacted_;
  int batch_docs_;
};

// Every selected collection, split into _id ranges.
Status MongoSnapshotSource::Plan(const SnapshotOptions& opts, const apply::NamespaceMap& map,
                                 pb::SnapshotState* state) {
  std::vector<mongo::Namespace> colls;
  {
    mongo::PooledClient s(pool_.get());
    ASSIGN_OR_RETURN(colls, mongo::ListCollections(s.get(), opts.namespaces));
  }
  if (colls.empty()) {
    return Status::FailedPrecondition(
        "the source has no collections selected by --include/--exclude; nothing to copy");
  }
  // Split every collection into _id ranges, several collections at once (the split
  // reads every _id, the longest step of planning). A collection whose estimated count is
  // within one range is not read at all: one unbounded range covers it whatever the
  // estimate's error.
  std::vector<mongo::SplitResult> splits(colls.size());
  std::atomic<size_t> next{0};
  std::mutex mu;
  Status first_error;
  auto planner = [&] {
    for (size_t i; (i = next.fetch_add(1)) < colls.size();) {
      mongo::PooledClient sc(pool_.get());
      mongo::CollPtr in(mongoc_client_get_collection(sc.get(), colls[i].db.c_str(), colls[i].coll.c_str()));
      bson_error_t err;
      const int64_t est = mongoc_collection_estimated_document_count(in.get(), nullptr, nullptr, nullptr, &err);
      if (est >= 0 && static_cast<uint64_t>(est) <= opts.docs_per_range) {
        splits[i].docs = static_cast<uint64_t>(est);
        splits[i].ranges.push_back(mongo::IdRange{});
        continue;
      }
      mongo::SplitOptions so;
      so.docs_per_range = opts.docs_per_range;
      so.max_ranges = opts.max_ranges;
      auto split = mongo::SplitIdRanges(in.get(), so);
      if (!split.ok()) {
        std::lock_guard<std::mutex> l(mu);
        if (first_error.ok()) first_error = split.status();
        return;
      }
      splits[i] = std::move(split.value());
    }
  };
  std::vector<std::thread> planners;
  const size_t n = std::min<size_t>(colls.size(), static_cast<size_t>(std::max(1, opts.parallel)));
  for (size_t i = 0; i < n; ++i) planners.emplace_back(planner);
  for (auto& t : planners) t.join();
  RETURN_IF_ERROR(first_error);
  for (size_t ci = 0; ci < colls.size(); ++ci) {
    const auto& ns = colls[ci];
    pb::SnapshotCollection* c = state->add_collections();
    c->set_db(ns.db);
    c->set_coll(ns.coll);
    auto [tdb, tcoll] = map.Map(ns.db, ns.coll);
    c->set_target_db(tdb);
    c->set_target_coll(tcoll);
    const mongo::SplitResult& split = splits[ci];
    c->set_estimated_docs(split.docs);
    for (const auto& r : split.ranges) {
      pb::SnapshotRange* pr = c->add_ranges();
      pr->set_min_id(r.min_id);
      pr->set_max_id(r.max_id);
    }
    LOG(INFO) << "snapshot: plan " << ns.ns() << " → " << tdb << "." << tcoll << ": "
              << split.docs << " documents in " << split.ranges.size() << " range(s)"
              << (split.mixed_id_types ? " (mixed _id types: one range)" : "");
  }
  return Status::OK();
}

}  // namespace

StatusOr<std::unique_ptr<SnapshotSource>> NewMongoSnapshotSource(const SnapshotOptions& opts) {
  ASSIGN_OR_RETURN(auto uri, mongo::ParseUri(opts.source_uri, "--source"));
  ASSIGN_OR_RETURN(auto pool, mongo::NewPool(uri.get(), opts.parallel + 2));
  return std::unique_ptr<SnapshotSource>(
      new MongoSnapshotSource(std::move(uri), std::move(pool), mongo::RedactUri(opts.source_uri), opts.batch_docs));
}

}  // namespace docshift::snapshot
