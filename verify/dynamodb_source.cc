// The DynamoDB source of verify and reconcile (verify/source.h).
//
// A table is namespace dynamodb.TABLE. It cannot be read by _id range, so it is read
// whole: a parallel Scan (Segment/TotalSegments, one DynamoClient per segment thread)
// with ConsistentRead, each item converted by aws::ItemToBson exactly as capture and
// snapshot convert it (with the --dynamodb_numbers given). Counts are the number of items
// such a Scan returns (DynamoDB's ItemCount is refreshed only about every 6 hours). A lookup by _id reads the table
// again: the client has no GetItem, and callers keep only the keys they asked for.
//
// An item ItemToBson refuses (a number no BSON type holds) is delivered as {_id: key}
// with the conversion error, which names the attribute; when even its key does not
// convert, the _id is a string holding the key's AttributeValue JSON.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>

#include "aws/credentials.h"
#include "aws/dynamodb_client.h"
#include "aws/dynamodb_types.h"
#include "aws/dynamodb_uri.h"
#include "verify/dynamodb_source.h"
#include "verify/internal.h"
#include "verify/source.h"

namespace docshift::verify {

using mongo::BsonPtr;

namespace {

constexpr int kMaxSegments = 16;
// How long the first calls (DescribeTable) retry an endpoint that does not answer: a
// verify against a wrong endpoint says so within seconds, not after the scan's retries.
constexpr int64_t kCheckRetryMs = 15'000;

std::string ToJson(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

class DynamoVerifySource : public VerifySource {
 public:
  Status Open(const std::string& uri, int parallel, const std::atomic<bool>* stop,
              const std::string& dynamodb_numbers) {
    ASSIGN_OR_RETURN(uri_, aws::ParseDynamoUri(uri, "--source"));
    auto mode = aws::ParseNumberMode(dynamodb_numbers);
    if (!mode.ok()) return mode.status().WithContext("--dynamodb_numbers");
    convert_.numbers = *mode;
    ASSIGN_OR_RETURN(copts_, aws::DynamoClientOptionsFromEnv(aws::ProcessEnv(), uri_.region));
    copts_.stop = stop;
    stop_ = stop;
    segments_ = std::clamp(parallel, 1, kMaxSegments);
    aws::DynamoClientOptions check = copts_;
    check.retry_for_ms = std::min(check.retry_for_ms, kCheckRetryMs);
    ASSIGN_OR_RETURN(auto client, aws::DynamoClient::New(check));
    endpoint_ = client->dynamodb_endpoint();
    redacted_ = uri + " (" + endpoint_ + ")";
    identity_ = aws::DynamoIdentity(copts_.region, copts_.dynamodb_endpoint) + "/";
    for (size_t i = 0; i < uri_.tables.size(); ++i) identity_ += (i ? "," : "") + uri_.tables[i];
    // Every table must exist and answer before anything is compared.
    for (const auto& t : uri_.tables) {
      aws::CallError err;
      auto d = client->DescribeTable(t, &err);
      if (!d.ok()) return Explain(d.status(), err, t);
      keys_[std::string(aws::kDynamoDb) + "." + t] = d->keys;
    }
    return Status::OK();
  }

  const std::string& Redacted() const override { return redacted_; }
  const std::string& Identity() const override { return identity_; }

  StatusOr<std::vector<std::string>> ListNamespaces(const mongo::NamespaceFilter& filter,
                                                    bool* complete) override {
    std::vector<std::string> out;
    for (const auto& t : uri_.tables) {
      if (filter.Selected(std::string(aws::kDynamoDb), t)) out.push_back(std::string(aws::kDynamoDb) + "." + t);
    }
    std::sort(out.begin(), out.end());
    *complete = false;  // the URI names the tables: other target collections are out of scope
    return out;
  }

  StatusOr<uint64_t> Count(const std::string& ns) override {
    std::atomic<uint64_t> n{0};
    RETURN_IF_ERROR(ParallelScan(ns, [&](const rapidjson::Value& items) {
      n += items.Size();
      return Status::OK();
    }));
    return n.load();
  }

  bool ReadsByIdRange() const override { return false; }

  StatusOr<std::vector<pb::VerifyRange>> SplitRanges(const std::string&, uint64_t, bool* mixed) override {
    *mixed = false;
    return std::vector<pb::VerifyRange>(1);  // unbounded: the whole table
  }

  Status ReadRange(const std::string& ns, const pb::VerifyRange&, bool, const DocSink& sink) override {
    return ReadAll(ns, sink);
  }

  Status ReadIds(const std::string& ns, const std::vector<const std::string*>&, bool,
                 const DocSink& sink) override {
    return ReadAll(ns, sink);
  }

 private:
  // One line for what went wrong with table t; the codes verify.h documents.
  Status Explain(const Status& s, const aws::CallError& err, const std::string& t) const {
    const std::string where = "DynamoDB " + copts_.region + " at " + endpoint_;
    switch (err.kind) {
      case aws::CallErrorKind::kNotFound:
        return Status::NotFound("source table '" + t + "' does not exist in " + where +
                                "; check the table names and region of --source");
      case aws::CallErrorKind::kAuth:
        return Status::Unavailable("source " + where + " refused the credentials (" +
                                   copts_.credentials.Redacted() + "): " + s.message());
      case aws::CallErrorKind::kNetwork:
        return Status::Unavailable("source " + where + " cannot be reached: " + s.message());
      default:
        return s.WithContext("source table " + t);
    }
  }

  // Calls on_page(Items) for every page of a parallel consistent Scan of ns's table, from
  // up to segments_ threads at once. The first error ends it.
  Status ParallelScan(const std::string& ns, const std::function<Status(const rapidjson::Value&)>& on_page) {
    const std::string table = ns.substr(aws::kDynamoDb.size() + 1);
    std::mutex mu;
    Status first;
    std::atomic<bool> failed{false};
    auto fail = [&](Status s) {
      std::lock_guard<std::mutex> l(mu);
      if (first.ok()) first = std::move(s);
      failed = true;
    };
    auto segment = [&](int seg) {
      auto client = aws::DynamoClient::New(copts_);
      if (!client.ok()) return fail(client.status());
      aws::ScanRequest req;
      req.table = table;
      req.segment = seg;
      req.total_segments = segments_;
      req.consistent_read = true;
      for (;;) {
        if (failed.load()) return;
        if (stop_ != nullptr && stop_->load()) return fail(Status::Aborted("interrupted"));
        aws::CallError err;
        auto page = (*client)->Scan(req, &err);
        if (!page.ok()) return fail(Explain(page.status(), err, table));
        Status s = on_page(page->Items());
        if (!s.ok()) return fail(s);
        if (page->last_evaluated_key_json.empty()) return;
        req.exclusive_start_key_json = page->last_evaluated_key_json;
      }
    };
    std::vector<std::thread> threads;
    for (int i = 0; i < segments_; ++i) threads.emplace_back(segment, i);
    for (auto& t : threads) t.join();
    return first;
  }

  // Every item of ns, converted, into sink (one call at a time).
  Status ReadAll(const std::string& ns, const DocSink& sink) {
    auto k = keys_.find(ns);
    if (k == keys_.end()) return Status::InvalidArgument(ns + " is not a table of " + redacted_);
    const aws::KeySchema& keys = k->second;
    std::mutex sink_mu;
    return ParallelScan(ns, [&](const rapidjson::Value& items) {
      if (!items.IsArray()) return Status::OK();
      for (const auto& item : items.GetArray()) {
        std::string problem;
        BsonPtr doc = ItemToSourceBson(item, keys, &problem, convert_);
        std::lock_guard<std::mutex> l(sink_mu);
        sink(SourceDocument{doc.get(), problem.empty() ? nullptr : &problem});
      }
      return Status::OK();
    });
  }

  aws::DynamoUri uri_;
  aws::DynamoClientOptions copts_;
  const std::atomic<bool>* stop_ = nullptr;
  int segments_ = 1;
  std::string endpoint_, redacted_, identity_;
  std::map<std::string, aws::KeySchema> keys_;  // by namespace; set by Open, then read-only
  aws::ConvertOptions convert_;                 // set by Open
};

}  // namespace

BsonPtr ItemToSourceBson(const rapidjson::Value& item, const aws::KeySchema& keys, std::string* problem,
                         const aws::ConvertOptions& convert) {
  problem->clear();
  BsonPtr doc(bson_new());
  Status s = aws::ItemToBson(item, keys, doc.get(), convert);
  if (s.ok()) return doc;
  *problem = s.message();
  if (problem->empty()) *problem = s.ToString();
  // {_id: key}, or a string _id when the key does not convert either.
  rapidjson::Document k;
  k.SetObject();
  for (const std::string* name : {&keys.hash_name, &keys.range_name}) {
    if (name->empty() || !item.IsObject()) continue;
    auto m = item.FindMember(name->c_str());
    if (m == item.MemberEnd()) continue;
    k.AddMember(rapidjson::Value(name->c_str(), k.GetAllocator()), rapidjson::Value(m->value, k.GetAllocator()),
                k.GetAllocator());
  }
  BsonPtr converted(bson_new());
  BsonPtr out(bson_new());
  bson_iter_t it;
  if (aws::ItemToBson(k, keys, converted.get(), convert).ok() && bson_iter_init_find(&it, converted.get(), "_id")) {
    bson_append_iter(out.get(), "_id", 3, &it);
  } else {
    const std::string text = "unconvertible key " + ToJson(k);
    BSON_APPEND_UTF8(out.get(), "_id", text.c_str());
  }
  return out;
}

StatusOr<std::unique_ptr<VerifySource>> OpenDynamoVerifySource(const std::string& uri, int parallel,
                                                               const std::atomic<bool>* stop,
                                                               const std::string& dynamodb_numbers) {
  auto s = std::make_unique<DynamoVerifySource>();
  RETURN_IF_ERROR(s->Open(uri, parallel, stop, dynamodb_numbers));
  return std::unique_ptr<VerifySource>(std::move(s));
}

}  // namespace docshift::verify
