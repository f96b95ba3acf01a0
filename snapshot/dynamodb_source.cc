// The snapshot source for DynamoDB (issue #12, "Snapshot (parallel Scan)"): every table
// of dynamodb://REGION/TABLE[,TABLE...] is namespace dynamodb.TABLE, read by a parallel
// Scan whose segments are the snapshot's ranges.
//
// - Plan: TotalSegments per table from its size (DynamoSegmentCount, dynamodb_scan.h),
//   recorded in SnapshotCollection.total_segments and never recomputed: a restarted
//   snapshot scans with the same value, so each segment is the same set of items.
// - Read: each range is one segment, Scanned page by page with ConsistentRead, each
//   item converted by aws::ItemToBson (KeySchema from DescribeTable; numbers by
//   --dynamodb_numbers, the mode capture recorded in the spool). ResumePosition is
//   the LastEvaluatedKey of the last page fully handed to the copier, so a killed
//   snapshot continues each segment from there (SnapshotRange.resume_after).
// - An item that does not convert is an UnreadableRecord: the copier dead-letters it.
// - --max_rcu: one token bucket shared by every reader, charged with each page's
//   ConsumedCapacity; a reader waits while the bucket is in debt.
// - One DynamoClient per reader (a client is single-threaded); one more, under a mutex,
//   for Check and Plan.
#include <glog/logging.h>

#include <cmath>
#include <deque>
#include <map>
#include <mutex>

#include "apply/translate.h"
#include "aws/dynamodb_client.h"
#include "aws/dynamodb_uri.h"
#include "snapshot/dynamodb_scan.h"
#include "snapshot/source.h"
#include "util/backoff.h"
#include "util/token_bucket.h"

namespace docshift::snapshot {
namespace {

using mongo::BsonPtr;

// Scan calls still throttled after the client's own retries (DynamoClientOptions.
// retry_for_ms) are tried again this many times, with backoff, before the range fails
// (and the copier reopens it from its saved position).
constexpr int kThrottledAttempts = 5;

class DynamoRangeReader : public RangeReader {
 public:
  DynamoRangeReader(std::unique_ptr<aws::DynamoClient> client, std::string table, aws::KeySchema keys,
                    int segment, int total_segments, std::string start_key, int page_limit,
                    TokenBucket* rcu, const std::atomic<bool>* stop, aws::ConvertOptions convert)
      : client_(std::move(client)), table_(std::move(table)), keys_(std::move(keys)), convert_(convert),
        segment_(segment),
        total_segments_(total_segments), page_limit_(page_limit), rcu_(rcu), stop_(stop),
        next_key_(start_key), position_(std::move(start_key)) {}

  StatusOr<bool> Next(std::vector<BsonPtr>* batch, size_t max_docs, uint64_t max_bytes) override {
    // Pages may be empty (a segment with few items): read on until one has documents.
    while (pending_.empty() && !last_page_read_) RETURN_IF_ERROR(ReadPage());
    uint64_t bytes = 0;
    size_t n = 0;
    while (!pending_.empty() && n < max_docs && bytes < max_bytes) {
      bytes += pending_.front()->len;
      batch->push_back(std::move(pending_.front()));
      pending_.pop_front();
      ++n;
    }
    // Only once the whole page is handed over does the position move past it.
    if (pending_.empty()) position_ = next_key_;
    return !(pending_.empty() && last_page_read_);
  }

  std::string ResumePosition() const override { return position_; }

  void TakeUnreadable(std::vector<UnreadableRecord>* out) override {
    for (auto& u : unreadable_) out->push_back(std::move(u));
    unreadable_.clear();
  }

 private:
  Status ReadPage() {
    aws::ScanRequest req;
    req.table = table_;
    req.segment = segment_;
    req.total_segments = total_segments_;
    req.exclusive_start_key_json = next_key_;
    req.limit = page_limit_;
    req.consistent_read = true;
    for (int attempt = 0;; ++attempt) {
      // The shared read budget: wait while it is spent (the previous pages of all
      // readers were charged after the fact).
      for (int64_t us; (us = rcu_->WaitMicros()) > 0;) {
        if (SleepUnlessStopped(std::min<int64_t>(us / 1000 + 1, 1000), stop_)) {
          return Status::Aborted("snapshot stopped");
        }
      }
      aws::CallError err;
      auto page = client_->Scan(req, &err);
      if (!page.ok()) {
        if (err.kind == aws::CallErrorKind::kThrottled && attempt + 1 < kThrottledAttempts) {
          LOG(WARNING) << "snapshot: " << page.status().message() << "; " << table_ << " "
                       << DescribeSegment(segment_, total_segments_) << " backs off and reads again";
          if (SleepUnlessStopped(BackoffDelayMs(attempt + 3), stop_)) return Status::Aborted("snapshot stopped");
          continue;
        }
        return page.status();
      }
      std::vector<BsonPtr> docs;
      uint64_t bytes = 0;
      ConvertScanItems(page->Items(), keys_, &docs, &bytes, &unreadable_, convert_);
      // What the server says the page cost; a server that does not say (some emulators)
      // is charged what a consistent read costs: 1 unit per 4 KB read.
      rcu_->Charge(page->consumed_capacity > 0 ? page->consumed_capacity
                                               : std::max(1.0, std::ceil(bytes / 4096.0)));
      for (auto& d : docs) pending_.push_back(std::move(d));
      next_key_ = page->last_evaluated_key_json;
      last_page_read_ = next_key_.empty();
      return Status::OK();
    }
  }

  std::unique_ptr<aws::DynamoClient> client_;
  const std::string table_;
  const aws::KeySchema keys_;
  const aws::ConvertOptions convert_;
  const int segment_, total_segments_, page_limit_;
  TokenBucket* rcu_;
  const std::atomic<bool>* stop_;
  std::deque<BsonPtr> pending_;  // converted, not handed to the copier yet
  std::vector<UnreadableRecord> unreadable_;
  std::string next_key_;   // ExclusiveStartKey of the next page ("" once read to the end)
  std::string position_;   // LastEvaluatedKey covering everything handed over
  bool last_page_read_ = false;
};

class DynamoSnapshotSource : public SnapshotSource {
 public:
  DynamoSnapshotSource(aws::DynamoUri uri, aws::DynamoClientOptions options,
                       std::unique_ptr<aws::DynamoClient> control, double max_rcu, int page_limit,
                       aws::ConvertOptions convert)
      : uri_(std::move(uri)), options_(std::move(options)), control_(std::move(control)),
        rcu_(max_rcu), page_limit_(page_limit), convert_(convert) {}

  std::string Identity(const std::string& spool_source_kind) const override {
    (void)spool_source_kind;  // the region and endpoint say it all
    return aws::DynamoIdentity(options_.region, options_.dynamodb_endpoint);
  }

  Status Check() override {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& t : uri_.tables) RETURN_IF_ERROR(DescribeLocked(t).status());
    return Status::OK();
  }

  Status Plan(const SnapshotOptions& opts, const apply::NamespaceMap& map, pb::SnapshotState* state) override;

  // DynamoDB has no collection options to carry over: the target collection is created
  // by the first insert.
  Status CopyCollectionOptions(const pb::SnapshotCollection&, mongoc_client_t*, std::string*) override {
    return Status::OK();
  }

  // None to copy: a DynamoDB table's only access path docshift keeps is its primary key,
  // which is the document's _id. Global and local secondary indexes are projections
  // with their own key schemas (sparse, possibly other attributes than the item's), not
  // MongoDB indexes; create the target indexes the application needs by hand. The
  // copier marks the collection's indexes done.
  Status CopyIndexes(const pb::SnapshotCollection&, mongoc_client_t*, IndexCopyResult*) override {
    return Status::OK();
  }

  StatusOr<std::unique_ptr<RangeReader>> OpenRange(const pb::SnapshotCollection& c,
                                                   const pb::SnapshotRange& r) override {
    aws::KeySchema keys;
    {
      std::lock_guard<std::mutex> l(mu_);
      ASSIGN_OR_RETURN(aws::TableDescription d, DescribeLocked(c.coll()));
      keys = d.keys;
    }
    if (c.total_segments() < 1 || r.segment() < 0 || r.segment() >= c.total_segments()) {
      return Status::Corruption("snapshot/STATE: " + c.coll() + " has " + DescribeSegment(r.segment(), c.total_segments()) +
                                ", not a segment of a parallel Scan");
    }
    ASSIGN_OR_RETURN(auto client, aws::DynamoClient::New(options_));
    if (!r.resume_after().empty()) {
      LOG(INFO) << "snapshot: " << c.db() << "." << c.coll() << " " << DescribeRange(c, r)
                << " continues after its last copied page (" << r.docs_copied() << " items on the target)";
    }
    return std::unique_ptr<RangeReader>(new DynamoRangeReader(std::move(client), c.coll(), std::move(keys),
                                                              r.segment(), c.total_segments(), r.resume_after(),
                                                              page_limit_, &rcu_, options_.stop, convert_));
  }

  std::string DescribeRange(const pb::SnapshotCollection& c, const pb::SnapshotRange& r) const override {
    return DescribeSegment(r.segment(), c.total_segments());
  }

 private:
  // DescribeTable of `table`, once per process (cached), as one clear line when it fails.
  // REQUIRES: mu_ held.
  StatusOr<aws::TableDescription> DescribeLocked(const std::string& table) {
    if (auto it = tables_.find(table); it != tables_.end()) return it->second;
    aws::CallError err;
    auto d = control_->DescribeTable(table, &err);
    const std::string where = " at " + control_->dynamodb_endpoint() + " (region " + options_.region + ")";
    if (!d.ok()) {
      switch (err.kind) {
        case aws::CallErrorKind::kNotFound:
          return Status::FailedPrecondition("source table '" + table + "' does not exist" + where +
                                            "; check the table names in --source and the region");
        case aws::CallErrorKind::kAuth:
          return Status::FailedPrecondition("the DynamoDB endpoint" + where + " refused the credentials (" +
                                            options_.credentials.Redacted() + "): " + d.status().message());
        case aws::CallErrorKind::kNetwork:
          return Status::Unavailable("cannot reach DynamoDB" + where + ": " + d.status().message());
        default:
          return d.status().WithContext("source table " + table);
      }
    }
    if (d->status == "CREATING" || d->status == "DELETING") {
      return Status::FailedPrecondition("source table '" + table + "'" + where + " is " + d->status +
                                        "; it cannot be read until it is ACTIVE");
    }
    tables_[table] = *d;
    return std::move(d).value();
  }

  const aws::DynamoUri uri_;
  const aws::DynamoClientOptions options_;
  mutable std::mutex mu_;
  std::unique_ptr<aws::DynamoClient> control_;  // guarded by mu_
  std::map<std::string, aws::TableDescription> tables_;  // guarded by mu_
  TokenBucket rcu_;
  const int page_limit_;
  const aws::ConvertOptions convert_;
};

Status DynamoSnapshotSource::Plan(const SnapshotOptions& opts, const apply::NamespaceMap& map,
                                  pb::SnapshotState* state) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string db(aws::kDynamoDb);
  int selected = 0;
  for (const std::string& table : uri_.tables) {
    if (!opts.namespaces.Selected(db, table)) continue;
    ++selected;
    ASSIGN_OR_RETURN(aws::TableDescription d, DescribeLocked(table));
    // ItemCount and TableSizeBytes are refreshed about every six hours: a table loaded
    // since reads as empty. One item of a Scan says whether it really is.
    bool has_items = d.item_count > 0 || d.size_bytes > 0;
    if (!has_items) {
      aws::ScanRequest probe;
      probe.table = table;
      probe.limit = 1;
      ASSIGN_OR_RETURN(aws::ScanPage page, control_->Scan(probe));
      has_items = page.Items().IsArray() && !page.Items().Empty();
    }
    const int total = DynamoSegmentCount(d.size_bytes, has_items, opts.parallel, opts.max_ranges);
    pb::SnapshotCollection* c = state->add_collections();
    c->set_db(db);
    c->set_coll(table);
    auto [tdb, tcoll] = map.Map(db, table);
    c->set_target_db(tdb);
    c->set_target_coll(tcoll);
    c->set_estimated_docs(static_cast<uint64_t>(std::max<int64_t>(0, d.item_count)));
    c->set_estimated_bytes(static_cast<uint64_t>(std::max<int64_t>(0, d.size_bytes)));
    c->set_total_segments(total);
    for (int s = 0; s < total; ++s) c->add_ranges()->set_segment(s);
    LOG(INFO) << "snapshot: plan " << db << "." << table << " → " << tdb << "." << tcoll << ": about "
              << d.item_count << " items, " << d.size_bytes << " bytes, in " << total << " Scan segment(s)";
  }
  if (selected == 0) {
    return Status::FailedPrecondition("none of the --source tables is selected by --include/--exclude "
                                      "(their namespaces are dynamodb.TABLE); nothing to copy");
  }
  return Status::OK();
}

}  // namespace

StatusOr<std::unique_ptr<SnapshotSource>> NewDynamoSnapshotSource(const SnapshotOptions& opts) {
  ASSIGN_OR_RETURN(aws::DynamoUri uri, aws::ParseDynamoUri(opts.source_uri, "--source"));
  ASSIGN_OR_RETURN(aws::DynamoClientOptions options,
                   aws::DynamoClientOptionsFromEnv(aws::ProcessEnv(), uri.region));
  options.stop = opts.stop;
  // Check and Plan answer within seconds (an unreachable endpoint or a wrong region is one
  // line, not two minutes of retries); the readers keep the client's long retry window.
  aws::DynamoClientOptions control_options = options;
  control_options.connect_timeout_ms = std::min<int64_t>(options.connect_timeout_ms, 5'000);
  control_options.retry_for_ms = std::min<int64_t>(options.retry_for_ms, 10'000);
  ASSIGN_OR_RETURN(auto control, aws::DynamoClient::New(control_options));
  aws::ConvertOptions convert;
  ASSIGN_OR_RETURN(convert.numbers, aws::ParseNumberMode(opts.dynamodb_numbers));
  return std::unique_ptr<SnapshotSource>(new DynamoSnapshotSource(std::move(uri), std::move(options), std::move(control),
                                                                  opts.max_rcu, opts.batch_docs, convert));
}

}  // namespace docshift::snapshot
