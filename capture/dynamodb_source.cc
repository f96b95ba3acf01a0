#include "capture/dynamodb_source.h"

#include <glog/logging.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>

#include "aws/dynamodb_uri.h"
#include "capture/dynamodb_lineage.h"
#include "mongo/mongo_util.h"
#include "util/backoff.h"

namespace docshift::capture {

namespace {

// GetRecords: at most 1,000 records a call, at most 5 calls a second per shard (the
// service's per-shard limit), and an idle shard polled every 250 ms.
constexpr int kRecordsPerCall = 1000;
constexpr int64_t kMinCallSpacingMs = 200;
constexpr int64_t kIdlePollMs = 250;
// DynamoDB Streams keeps 24 hours of records: warn while there is time to catch up.
constexpr int64_t kLagWarnMs = 20ll * 3600 * 1000;

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// {_id: <the item's _id>} from a converted item or key document.
std::string IdOnly(const bson_t* doc) {
  bson_iter_t it;
  bson_t out = BSON_INITIALIZER;
  if (bson_iter_init_find(&it, doc, "_id")) bson_append_iter(&out, "_id", 3, &it);
  std::string bytes = mongo::Bytes(&out);
  bson_destroy(&out);
  return bytes;
}

bool IsHistoryLostKind(aws::CallErrorKind k) { return k == aws::CallErrorKind::kTrimmedData; }

}  // namespace

Status CheckCapturable(const aws::TableDescription& t) {
  if (!t.stream_enabled || t.latest_stream_arn.empty()) {
    return Status::InvalidArgument("DynamoDB table '" + t.name + "' has no stream enabled: enable DynamoDB Streams "
                                   "with view type NEW_IMAGE or NEW_AND_OLD_IMAGES (docshift never changes "
                                   "a table's stream settings)");
  }
  if (t.stream_view_type != "NEW_IMAGE" && t.stream_view_type != "NEW_AND_OLD_IMAGES") {
    return Status::InvalidArgument("DynamoDB table '" + t.name + "' has a " + t.stream_view_type +
                                   " stream, which does not show the new item: capture needs view type "
                                   "NEW_IMAGE or NEW_AND_OLD_IMAGES (docshift never changes a table's "
                                   "stream settings)");
  }
  return Status::OK();
}

Status StreamRecordToEvent(const aws::StreamRecord& r, const std::string& table, const aws::KeySchema& keys,
                           bool skip_ttl_deletes, pb::ChangeEvent* ev, bool* skip,
                           const aws::ConvertOptions& convert) {
  *skip = false;
  if (r.sequence_number.empty() || r.event_name.empty()) {
    return Status::Corruption("a DynamoDB Streams record of table '" + table +
                              "' has no sequence number or event name: " + r.raw_json.substr(0, 200));
  }
  if (r.event_name == "REMOVE" && r.ttl_delete && skip_ttl_deletes) {
    *skip = true;
    return Status::OK();
  }
  ev->Clear();
  ev->set_db(std::string(aws::kDynamoDb));
  ev->set_coll(table);
  ev->set_source_record(r.raw_json);
  const int64_t ms = r.approximate_creation_ms;
  ev->set_wall_time_ms(ms);
  // No cluster time in DynamoDB: the record's approximate creation time, seconds in the
  // high half as a BSON timestamp, milliseconds as the increment.
  ev->set_cluster_time((static_cast<uint64_t>(ms / 1000) << 32) | static_cast<uint64_t>(ms % 1000));
  ev->set_capture_wall_ms(WallMs());
  std::string errors;
  if (r.keys != nullptr) {
    bson_t key = BSON_INITIALIZER;
    Status s = aws::ItemToBson(*r.keys, keys, &key, convert);
    if (s.ok()) {
      ev->set_document_key(IdOnly(&key));
    } else {
      errors = "key: " + s.message();
    }
    bson_destroy(&key);
  } else {
    errors = "the record has no Keys";
  }
  if (r.event_name == "INSERT" || r.event_name == "MODIFY") {
    ev->set_op(r.event_name == "INSERT" ? pb::OP_INSERT : pb::OP_REPLACE);
    if (r.new_image == nullptr) {
      errors += std::string(errors.empty() ? "" : "; ") +
                "the record has no NewImage (the stream must show new images: NEW_IMAGE or NEW_AND_OLD_IMAGES)";
    } else {
      bson_t doc = BSON_INITIALIZER;
      Status s = aws::ItemToBson(*r.new_image, keys, &doc, convert);
      if (s.ok()) {
        ev->set_full_document(mongo::Bytes(&doc));
        if (ev->document_key().empty()) ev->set_document_key(IdOnly(&doc));
      } else {
        errors += std::string(errors.empty() ? "" : "; ") + s.message();
      }
      bson_destroy(&doc);
    }
  } else if (r.event_name == "REMOVE") {
    ev->set_op(pb::OP_DELETE);
  } else {
    ev->set_op(pb::OP_UNKNOWN);
    errors = "unknown DynamoDB Streams event name '" + r.event_name + "'";
  }
  if (!errors.empty()) {
    ev->set_conversion_error("DynamoDB record " + r.sequence_number + " of table '" + table +
                             "' could not be converted: " + errors);
  }
  return Status::OK();
}

namespace {

class DynamoSource;

// Reads one shard from after its last captured record (or its oldest) to its end.
class ShardReader {
 public:
  ShardReader(DynamoSource* owner, std::string table, std::string arn, aws::KeySchema keys, std::string shard,
              std::string last_seq)
      : owner_(owner), table_(std::move(table)), arn_(std::move(arn)), keys_(std::move(keys)),
        shard_(std::move(shard)), last_seq_(std::move(last_seq)) {}
  void Start(SourceContext* ctx, const aws::DynamoClientOptions& copts);
  bool JoinBy(std::chrono::steady_clock::time_point d) { return thread_.JoinBy(d); }
  bool finished() const { return thread_.finished(); }
  const std::string& table() const { return table_; }
  const std::string& shard() const { return shard_; }

 private:
  void Run(SourceContext* ctx, aws::DynamoClientOptions copts);
  // Sets iterator_ from last_seq_ (or TRIM_HORIZON). False when capture stops or failed.
  bool OpenIterator(SourceContext* ctx, aws::DynamoClient* client, int* failures);
  std::string What() const { return "DynamoDB table '" + table_ + "' shard " + shard_; }

  DynamoSource* owner_;
  const std::string table_, arn_;
  const aws::KeySchema keys_;
  const std::string shard_;
  std::string last_seq_;
  std::string iterator_;
  std::unique_ptr<CaughtUpFlag> caught_up_;
  ReaderThread thread_;  // last: joined first
};

class DynamoSource final : public ChangeSource {
 public:
  DynamoSource(SourceContext* ctx, aws::DynamoClientOptions copts, std::vector<std::string> tables)
      : ctx_(ctx), copts_(std::move(copts)), tables_(std::move(tables)) {}
  ~DynamoSource() override { Stop(); }

  Status Start(const std::string& resume_token) override {
    copts_.stop = ctx_->opts->stop;
    ASSIGN_OR_RETURN(client_, aws::DynamoClient::New(copts_));
    DynamoPosition resumed;
    const bool resuming = !resume_token.empty();
    if (resuming) {
      Status d = DecodeDynamoPosition(resume_token, &resumed);
      if (!d.ok()) return ctx_->ResumePositionError(d);
    }
    for (const auto& t : tables_) {
      ASSIGN_OR_RETURN(aws::TableDescription desc, client_->DescribeTable(t));
      RETURN_IF_ERROR(CheckCapturable(desc));
      TablePosition tp{t, desc.latest_stream_arn, {}};
      if (resuming) {
        TablePosition* r = resumed.Find(t);
        if (r == nullptr) {
          return ctx_->ResumePositionError(Status::FailedPrecondition(
              "the spool does not capture DynamoDB table '" + t +
              "': use the --source this spool was created with, or a new --spool for another set of tables"));
        }
        if (r->stream_arn != desc.latest_stream_arn) {
          return HistoryLostStatus("DynamoDB table '" + t + "'",
                                   "its stream is now " + desc.latest_stream_arn + ", not " + r->stream_arn +
                                       ": the stream was disabled and enabled again");
        }
        tp.shards = r->shards;
      }
      keys_[t] = desc.keys;
      arns_[t] = desc.latest_stream_arn;
      known_[t] = tp.shards;
      pos_.tables.push_back(std::move(tp));
    }
    if (resuming && resumed.tables.size() != tables_.size()) {
      return ctx_->ResumePositionError(Status::FailedPrecondition(
          "the spool captures " + std::to_string(resumed.tables.size()) + " DynamoDB table(s), --source names " +
          std::to_string(tables_.size()) + ": use the --source this spool was created with"));
    }
    coordinator_.Start([this] { Coordinate(); });
    return Status::OK();
  }
  int ExpectedReady() const override { return static_cast<int>(tables_.size()); }
  bool InitialPositionPending() const override { return true; }
  void Advance(const SourceItem& item) override {
    ShardStep step;
    if (DecodeShardStep(item.token, &step).ok()) ApplyShardStep(step, &pos_);
    if (item.has_event) cluster_time_ = std::max(cluster_time_, item.event.cluster_time());
  }
  std::string EncodePosition() const override { return EncodeDynamoPosition(pos_); }
  uint64_t PositionClusterTime() const override { return cluster_time_; }
  size_t StreamCount() const override { return running_count_.load(); }
  bool Stop() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      wake_.notify_all();
    }
    const auto deadline = std::chrono::steady_clock::now() + kReaderStopGrace;
    bool all = coordinator_.JoinBy(deadline);
    if (!all) {
      // The coordinator is blocked in a call to the service and may still start readers:
      // leave them all to the process exit.
      LOG(WARNING) << "capture: the DynamoDB coordinator is blocked in a call to the service; not waiting for it";
      return false;
    }
    std::vector<std::unique_ptr<ShardReader>> readers;
    {
      std::lock_guard<std::mutex> l(mu_);
      readers.swap(readers_);
    }
    for (auto& r : readers) {  // without mu_: a finishing reader takes it (ShardFinished)
      if (r && !r->JoinBy(deadline)) {
        all = false;
        (void)r.release();  // still blocked in the network: must outlive us (the process exits)
      }
    }
    if (!all) LOG(WARNING) << "capture: a DynamoDB reader is blocked in a call to the service; not waiting for it";
    return all;
  }

  // Called by a reader that read its shard to the end (after queueing its last item):
  // its children can start at once.
  void ShardFinished(const std::string& table, const std::string& shard) {
    std::lock_guard<std::mutex> l(mu_);
    known_[table][shard].done = true;
    running_[table].erase(shard);
    --running_count_;
    finished_pending_ = true;
    wake_.notify_all();
  }

 private:
  // Finds shards to read, starts their readers, forgets trimmed done shards and stops
  // capture when history is lost; every discovery interval, or as soon as a shard ends.
  void Coordinate() {
    std::set<std::string> ready_tables;
    int failures = 0;
    while (!ctx_->Stopped()) {
      bool ok = true;
      for (const auto& t : tables_) {
        Status s = Discover(t, arns_.at(t), &ready_tables);
        if (ctx_->Stopped()) return;
        if (s.IsFailedPrecondition()) {
          ctx_->Fail(s);
          return;
        }
        if (!s.ok()) {
          ok = false;
          ctx_->NoteError(s.ToString());
          if (failures == 0) LOG(WARNING) << "capture: " << s.ToString() << "; retrying with backoff";
        }
      }
      failures = ok ? 0 : failures + 1;
      std::unique_lock<std::mutex> l(mu_);
      ReapFinished();
      // Until the next round, a shard's end (its children can start), or a stop (SIGINT
      // sets a flag without notifying: hence the 100 ms slices).
      const auto end = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(ok ? ctx_->opts->discovery_interval_ms : BackoffDelayMs(failures));
      while (!ctx_->Stopped() && !finished_pending_ && std::chrono::steady_clock::now() < end) {
        wake_.wait_for(l, std::chrono::milliseconds(100));
      }
      finished_pending_ = false;
    }
  }

  Status Discover(const std::string& table, const std::string& arn, std::set<std::string>* ready_tables) {
    aws::CallError err;
    auto desc = client_->DescribeStream(arn, &err);
    if (!desc.ok()) {
      if (err.kind == aws::CallErrorKind::kNotFound) {
        return HistoryLostStatus("DynamoDB table '" + table + "'", "its stream " + arn + " no longer exists");
      }
      return desc.status();
    }
    std::vector<std::string> started;
    {
      std::lock_guard<std::mutex> l(mu_);
      ShardPlan plan = PlanShards(desc->shards, known_[table], running_[table]);
      if (!plan.vanished.empty()) {
        return HistoryLostStatus("DynamoDB table '" + table + "'",
                                 "shard " + plan.vanished.front() +
                                     " was trimmed from the stream before capture read it to its end");
      }
      for (const auto& id : plan.forget) {
        known_[table].erase(id);
        SourceItem item;
        item.stream_key = table + "/" + id;
        item.token = EncodeShardStep({table, id, "", false, true});
        if (!ctx_->queue->Push(std::move(item))) return Status::OK();
      }
      for (const auto& id : plan.start) {
        auto reader = std::make_unique<ShardReader>(this, table, arn, keys_.at(table), id, known_[table][id].last_seq);
        running_[table].insert(id);
        ++running_count_;
        reader->Start(ctx_, copts_);
        readers_.push_back(std::move(reader));
        started.push_back(id);
      }
      if (desc->stream_status == "DISABLED" && running_[table].empty() && plan.start.empty()) {
        return Status::FailedPrecondition(
            "DynamoDB table '" + table + "': its stream " + arn +
            " was disabled and every record it holds is captured; changes made after that are not recorded "
            "anywhere. Enable the stream again and take a new snapshot into a new spool");
      }
    }
    for (const auto& id : started) LOG(INFO) << "capture: reading DynamoDB table '" << table << "' shard " << id;
    if (ready_tables->insert(table).second) ++ctx_->ready;
    return Status::OK();
  }

  // REQUIRES: mu_ held.
  void ReapFinished() {
    for (auto& r : readers_) {
      if (r && r->finished()) r.reset();
    }
    readers_.erase(std::remove(readers_.begin(), readers_.end(), nullptr), readers_.end());
  }

  SourceContext* ctx_;
  aws::DynamoClientOptions copts_;
  const std::vector<std::string> tables_;
  std::unique_ptr<aws::DynamoClient> client_;  // the coordinator's
  // Set by Start, read-only afterwards.
  std::map<std::string, aws::KeySchema> keys_;
  std::map<std::string, std::string> arns_;
  // Writer thread only.
  DynamoPosition pos_;
  uint64_t cluster_time_ = 0;
  // Shared by the coordinator and the readers.
  std::mutex mu_;
  std::condition_variable wake_;
  bool finished_pending_ = false;
  std::map<std::string, std::map<std::string, ShardPosition>> known_;
  std::map<std::string, std::set<std::string>> running_;
  std::atomic<size_t> running_count_{0};
  std::vector<std::unique_ptr<ShardReader>> readers_;
  ReaderThread coordinator_;  // last: joined first
};

void ShardReader::Start(SourceContext* ctx, const aws::DynamoClientOptions& copts) {
  caught_up_ = std::make_unique<CaughtUpFlag>(ctx);
  thread_.Start([this, ctx, copts] { Run(ctx, copts); });
}

bool ShardReader::OpenIterator(SourceContext* ctx, aws::DynamoClient* client, int* failures) {
  while (!ctx->Stopped()) {
    aws::CallError err;
    auto it = client->GetShardIterator(
        arn_, shard_, last_seq_.empty() ? aws::IteratorType::kTrimHorizon : aws::IteratorType::kAfterSequenceNumber,
        last_seq_, &err);
    if (it.ok()) {
      iterator_ = *it;
      return true;
    }
    if (IsHistoryLostKind(err.kind) || err.kind == aws::CallErrorKind::kNotFound) {
      ctx->Fail(HistoryLostStatus(What(), last_seq_.empty() ? "its oldest records were trimmed"
                                                            : "the records after " + last_seq_ + " were trimmed"));
      return false;
    }
    if (err.kind == aws::CallErrorKind::kAuth || err.kind == aws::CallErrorKind::kValidation) {
      ctx->Fail(it.status());
      return false;
    }
    ctx->NoteError(it.status().ToString());
    if ((*failures)++ == 0) LOG(WARNING) << "capture: " << it.status().ToString() << "; retrying with backoff";
    ctx->SleepUnlessStopped(BackoffDelayMs(*failures));
  }
  return false;
}

void ShardReader::Run(SourceContext* ctx, aws::DynamoClientOptions copts) {
  auto client_or = aws::DynamoClient::New(copts);
  if (!client_or.ok()) {
    ctx->Fail(client_or.status());
    return;
  }
  auto client = std::move(client_or).value();
  int failures = 0;
  bool lag_warned = false;
  const bool skip_ttl = ctx->opts->ttl_deletes == "skip";
  aws::ConvertOptions convert;  // RunCapture checked the mode
  if (auto m = aws::ParseNumberMode(ctx->opts->dynamodb_numbers); m.ok()) convert.numbers = *m;
  if (!OpenIterator(ctx, client.get(), &failures)) return;
  auto last_call = std::chrono::steady_clock::now() - std::chrono::milliseconds(kMinCallSpacingMs);
  while (!ctx->Stopped()) {
    const auto next = last_call + std::chrono::milliseconds(kMinCallSpacingMs);
    const auto now = std::chrono::steady_clock::now();
    if (next > now) {
      ctx->SleepUnlessStopped(std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count());
    }
    last_call = std::chrono::steady_clock::now();
    aws::CallError err;
    auto page = client->GetRecords(iterator_, kRecordsPerCall, &err);
    if (ctx->Stopped()) return;
    if (!page.ok()) {
      caught_up_->Set(false);
      if (IsHistoryLostKind(err.kind)) {
        ctx->Fail(HistoryLostStatus(What(), "the records after " + (last_seq_.empty() ? "its start" : last_seq_) +
                                                " were trimmed before capture read them"));
        return;
      }
      if (err.kind == aws::CallErrorKind::kAuth) {
        ctx->Fail(page.status());
        return;
      }
      if (err.kind == aws::CallErrorKind::kExpiredIterator) {
        LOG(INFO) << "capture: " << What() << ": the shard iterator expired; continuing after " << last_seq_;
      } else {
        ctx->NoteError(page.status().ToString());
        if (failures++ == 0) LOG(WARNING) << "capture: " << page.status().ToString() << "; retrying with backoff";
        ctx->SleepUnlessStopped(BackoffDelayMs(failures));
      }
      // A new iterator from the last record captured: no gap, no repeat.
      if (!OpenIterator(ctx, client.get(), &failures)) return;
      continue;
    }
    failures = 0;
    for (const auto& r : page->records) {
      SourceItem item;
      item.stream_key = table_ + "/" + shard_;
      bool skip = false;
      Status s = StreamRecordToEvent(r, table_, keys_, skip_ttl, &item.event, &skip, convert);
      if (!s.ok()) {
        ctx->Fail(s.WithContext(What()));
        return;
      }
      last_seq_ = r.sequence_number;
      item.token = EncodeShardStep({table_, shard_, last_seq_, false, false});
      item.has_event = !skip;
      if (item.has_event) item.event.set_resume_token(item.token);
      if (!lag_warned && r.approximate_creation_ms > 0 && WallMs() - r.approximate_creation_ms > kLagWarnMs) {
        lag_warned = true;
        LOG(WARNING) << "capture: " << What() << " is more than 20 hours behind; DynamoDB Streams keeps records "
                     << "for 24 hours, after which the spool can no longer continue";
      }
      if (!ctx->queue->Push(std::move(item))) return;
    }
    if (page->next_iterator.empty()) {  // closed and read to its end
      SourceItem item;
      item.stream_key = table_ + "/" + shard_;
      item.token = EncodeShardStep({table_, shard_, last_seq_, true, false});
      if (!ctx->queue->Push(std::move(item))) return;
      caught_up_->SetEnded();
      LOG(INFO) << "capture: " << What() << " is closed and read to its end";
      owner_->ShardFinished(table_, shard_);
      return;
    }
    iterator_ = page->next_iterator;
    caught_up_->Set(page->records.empty());
    if (page->records.empty()) ctx->SleepUnlessStopped(kIdlePollMs);
  }
}

}  // namespace

std::unique_ptr<ChangeSource> NewDynamoSource(SourceContext* ctx, aws::DynamoClientOptions client_options,
                                              std::vector<std::string> tables) {
  return std::make_unique<DynamoSource>(ctx, std::move(client_options), std::move(tables));
}

}  // namespace docshift::capture
