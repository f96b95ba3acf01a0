// The capture writer loop and the oplog position, as pure code: a source made of
// fixtures (documented MongoDB event and oplog formats; no server here can produce them),
// the real writer, a real spool in a temp directory.
#include "capture/writer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "capture/convert.h"
#include "capture/expanded_events_fixtures.h"
#include "capture/oplog_position.h"
#include "mongo/mongo_util.h"

namespace docshift::capture {
namespace {

namespace fs = std::filesystem;

// Pushes its items at Start, then a position-only "end" item; stops capture when the
// writer has advanced past it (or after stop_after events when that is set: a capture
// stopped between two batches, at a point chosen by the test).
class FixtureSource final : public ChangeSource {
 public:
  FixtureSource(SourceContext* ctx, std::atomic<bool>* stop, std::vector<SourceItem> items)
      : ctx_(ctx), stop_(stop), items_(std::move(items)) {}
  Status Start(const std::string& resume_token) override {
    started_from_ = resume_token;
    for (auto& it : items_) ctx_->queue->Push(std::move(it));
    SourceItem end;
    end.stream_key = "end";
    end.token = "end";
    ctx_->queue->Push(std::move(end));
    ctx_->ready++;
    return Status::OK();
  }
  int ExpectedReady() const override { return 1; }
  bool InitialPositionPending() const override { return false; }
  void Advance(const SourceItem& item) override {
    if (item.token == "end") {
      *stop_ = true;
      return;
    }
    position_ = item.token;
    if (item.has_event && ++advanced_ == stop_after) *stop_ = true;
  }
  std::string EncodePosition() const override { return position_; }
  uint64_t PositionClusterTime() const override { return 0; }
  size_t StreamCount() const override { return 1; }
  bool Stop() override { return true; }

  uint64_t stop_after = 0;
  std::string started_from_;

 private:
  SourceContext* ctx_;
  std::atomic<bool>* stop_;
  std::vector<SourceItem> items_;
  std::string position_;
  uint64_t advanced_ = 0;
};

class WriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("docshift_writer_test_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    opts_.spool_dir = dir_.string();
    opts_.stop = &stop_;
    opts_.status_interval_ms = 100;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs the writer over items until the source stops it; returns the source's start token.
  std::string Run(std::vector<SourceItem> items, uint64_t stop_after = 0) {
    stop_ = false;
    spool::SpoolWriterOptions so;
    so.dir = dir_.string();
    so.source_id = "test:fixtures";
    so.source_kind = "test";
    auto writer = spool::SpoolWriter::Open(so);
    EXPECT_TRUE(writer.ok()) << writer.status().ToString();
    if (!writer.ok()) return "";
    ItemQueue queue(64u << 20);
    SourceContext ctx;
    ctx.opts = &opts_;
    ctx.queue = &queue;
    FixtureSource source(&ctx, &stop_, std::move(items));
    source.stop_after = stop_after;
    Status s = RunWriter(opts_, writer->get(), &source, &ctx);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return source.started_from_;
  }

  std::vector<pb::ChangeEvent> Events() {
    spool::SpoolView view;
    EXPECT_TRUE(spool::OpenSpoolView(Env::Default(), dir_.string(), &view).ok());
    spool::SpoolReader reader(Env::Default(), &view, spool::SpoolReader::Options{});
    std::vector<pb::ChangeEvent> out;
    pb::ChangeBatch b;
    Status s;
    while ((s = reader.Next(&b)).ok()) {
      for (const auto& e : b.events()) out.push_back(e);
    }
    EXPECT_TRUE(s.IsEndOfFile()) << s.ToString();
    return out;
  }

  fs::path dir_;
  CaptureOptions opts_;
  std::atomic<bool> stop_{false};
};

SourceItem FromChangeEvent(const std::string& json, const std::string& position) {
  auto doc = mongo::FromJson(json);
  ConvertContext ctx;
  SourceItem item;
  item.has_event = true;
  Status s = ConvertChangeEvent(doc.get(), &ctx, &item.event);
  EXPECT_TRUE(s.ok()) << s.ToString() << ": " << json;
  item.token = position;
  return item;
}

// Events of a deployment-wide change stream carry ns on every event. Fixtures follow
// https://www.mongodb.com/docs/manual/reference/change-events/ (insert, update, delete,
// drop, rename, dropDatabase; MongoDB 4.0 through 8.0 share these fields).
std::vector<SourceItem> DeploymentStreamFixtures() {
  const char* kInsert = R"({"_id": {"_data": "826%d"}, "operationType": "insert",
      "clusterTime": {"$timestamp": {"t": 1700000000, "i": %d}}, "wallTime": {"$date": 1700000000000},
      "ns": {"db": "%s", "coll": "%s"}, "documentKey": {"_id": %d}, "fullDocument": {"_id": %d, "v": 1}})";
  std::vector<SourceItem> out;
  const std::vector<std::pair<std::string, std::string>> nss = {
      {"shop", "orders"}, {"shop", "users"}, {"crm", "orders"}, {"web", "pages"}, {"shop", "orders"}};
  int n = 0;
  for (const auto& [db, coll] : nss) {
    ++n;
    char buf[1024];
    snprintf(buf, sizeof buf, kInsert, n, n, db.c_str(), coll.c_str(), n, n);
    out.push_back(FromChangeEvent(buf, "pos" + std::to_string(n)));
  }
  out.push_back(FromChangeEvent(R"({"_id": {"_data": "8270"}, "operationType": "rename",
      "clusterTime": {"$timestamp": {"t": 1700000001, "i": 1}},
      "ns": {"db": "web", "coll": "tmp"}, "to": {"db": "shop", "coll": "archive"}})", "pos-rename"));
  out.push_back(FromChangeEvent(R"({"_id": {"_data": "8271"}, "operationType": "drop",
      "clusterTime": {"$timestamp": {"t": 1700000001, "i": 2}}, "ns": {"db": "web", "coll": "pages"}})",
                                "pos-drop-web"));
  out.push_back(FromChangeEvent(R"({"_id": {"_data": "8272"}, "operationType": "dropDatabase",
      "clusterTime": {"$timestamp": {"t": 1700000001, "i": 3}}, "ns": {"db": "crm"}})", "pos-dropdb-crm"));
  out.push_back(FromChangeEvent(R"({"_id": {"_data": "8273"}, "operationType": "delete",
      "clusterTime": {"$timestamp": {"t": 1700000001, "i": 4}}, "ns": {"db": "crm", "coll": "orders"},
      "documentKey": {"_id": 3}})", "pos-last-filtered"));
  return out;
}

// Issue #11: a deployment-wide stream spooled every namespace (the filter was applied on
// the per-collection and oplog paths only). The writer applies it to every source.
TEST_F(WriterTest, NamespaceFilterAppliesToDeploymentStreamEvents) {
  opts_.namespaces.include = {"shop.*", "*.orders"};
  opts_.namespaces.exclude = {"shop.users"};
  Run(DeploymentStreamFixtures());
  std::vector<std::string> got;
  for (const auto& e : Events()) got.push_back(e.db() + "." + e.coll() + ":" + std::to_string(e.op()));
  const std::vector<std::string> want = {
      "shop.orders:" + std::to_string(pb::OP_INSERT), "crm.orders:" + std::to_string(pb::OP_INSERT),
      "shop.orders:" + std::to_string(pb::OP_INSERT),
      "web.tmp:" + std::to_string(pb::OP_RENAME),  // into shop.archive: selected by its destination
      "crm.:" + std::to_string(pb::OP_DROP_DATABASE),  // crm.orders is selected
      "crm.orders:" + std::to_string(pb::OP_DELETE)};
  EXPECT_EQ(got, want);
}

// Expanded DDL events (showExpandedEvents, MongoDB 6.0+; capture/expanded_events_fixtures.h)
// through the namespace filter and the writer: the selected ones reach the spool in
// order with the raw event intact (apply replays from it); the others only move the
// position on.
TEST_F(WriterTest, ExpandedDdlEventsThroughTheFilterAndTheSpool) {
  opts_.namespaces.include = {"shop.*"};
  opts_.namespaces.exclude = {"shop.tmp"};
  std::vector<SourceItem> items;
  std::vector<pb::ChangeEvent> want;
  int n = 0;
  for (const auto& f : testing_fixtures::kExpandedEvents) {
    items.push_back(FromChangeEvent(f.json, "pos-expanded-" + std::to_string(++n)));
    EXPECT_EQ(EventSelected(opts_.namespaces, items.back().event), f.selected) << f.page;
    if (f.selected) want.push_back(items.back().event);
  }
  Run(std::move(items));
  const std::vector<pb::ChangeEvent> got = Events();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    // Each spooled event is the next selected fixture, its raw event unchanged.
    EXPECT_EQ(got[i].op(), want[i].op()) << i;
    EXPECT_EQ(got[i].db() + "." + got[i].coll(), want[i].db() + "." + want[i].coll()) << i;
    EXPECT_EQ(got[i].ddl(), want[i].ddl()) << i;
    EXPECT_EQ(got[i].resume_token(), want[i].resume_token()) << i;
  }
  spool::SpoolWriterOptions so;
  so.dir = dir_.string();
  so.source_id = "test:fixtures";
  auto w = spool::SpoolWriter::Open(so);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ((*w)->resume_state().resume_token, "pos-expanded-" + std::to_string(n)) << "the last, filtered, event";
}

// A filtered event still moves the position on: the durable position after the run is
// the last item's, although that item was filtered out.
TEST_F(WriterTest, FilteredEventsAdvanceThePosition) {
  opts_.namespaces.include = {"shop.orders"};
  Run(DeploymentStreamFixtures());
  EXPECT_EQ(Events().size(), 2u);
  spool::SpoolWriterOptions so;
  so.dir = dir_.string();
  so.source_id = "test:fixtures";
  auto w = spool::SpoolWriter::Open(so);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ((*w)->resume_state().resume_token, "pos-last-filtered");
}

// An applyOps entry (a transaction's operations, or a batch) as MongoDB 4.0+ logs it:
// {op: "c", ns: "admin.$cmd", o: {applyOps: [{op: "i", ns, o}, ...]}}, with a nested
// applyOps inside (https://www.mongodb.com/docs/manual/reference/command/applyOps/;
// MongoDB 4.2+ splits large transactions into several such entries, each of them whole).
mongo::BsonPtr ApplyOpsEntry(int n, int nested_at) {
  mongo::BsonPtr e(bson_new());
  bson_append_timestamp(e.get(), "ts", 2, 1700000100, 7);
  BSON_APPEND_UTF8(e.get(), "op", "c");
  BSON_APPEND_UTF8(e.get(), "ns", "admin.$cmd");
  BSON_APPEND_DATE_TIME(e.get(), "wall", 1700000100000);
  BSON_APPEND_INT64(e.get(), "txnNumber", 4);
  bson_t o, ops;
  BSON_APPEND_DOCUMENT_BEGIN(e.get(), "o", &o);
  BSON_APPEND_ARRAY_BEGIN(&o, "applyOps", &ops);
  int idx = 0;
  auto add_insert = [](bson_t* arr, int key, int id) {
    bson_t op, doc;
    const std::string k = std::to_string(key);
    BSON_APPEND_DOCUMENT_BEGIN(arr, k.c_str(), &op);
    BSON_APPEND_UTF8(&op, "op", "i");
    BSON_APPEND_UTF8(&op, "ns", "shop.orders");
    BSON_APPEND_DOCUMENT_BEGIN(&op, "o", &doc);
    BSON_APPEND_INT32(&doc, "_id", id);
    bson_append_document_end(&op, &doc);
    bson_append_document_end(arr, &op);
  };
  for (int id = 0; id < n; ++id) {
    if (id == nested_at) {
      // A nested applyOps holding the next two inserts.
      bson_t op, inner_o, inner_ops;
      const std::string k = std::to_string(idx++);
      BSON_APPEND_DOCUMENT_BEGIN(&ops, k.c_str(), &op);
      BSON_APPEND_UTF8(&op, "op", "c");
      BSON_APPEND_UTF8(&op, "ns", "admin.$cmd");
      BSON_APPEND_DOCUMENT_BEGIN(&op, "o", &inner_o);
      BSON_APPEND_ARRAY_BEGIN(&inner_o, "applyOps", &inner_ops);
      add_insert(&inner_ops, 0, id);
      add_insert(&inner_ops, 1, id + 1);
      bson_append_array_end(&inner_o, &inner_ops);
      bson_append_document_end(&op, &inner_o);
      bson_append_document_end(&ops, &op);
      ++id;
      continue;
    }
    add_insert(&ops, idx++, id);
  }
  bson_append_array_end(&o, &ops);
  bson_append_document_end(e.get(), &o);
  return e;
}

// Issue #11: every event of one applyOps entry carried the entry's ts as its position, so
// a batch closed inside the entry recorded all of it as captured and a restart skipped
// the rest (reproduced against FerretDB: 1,601 of 3,000). Here the writer's batches hold
// 100 events, capture stops after 1,700 of the entry's 3,000 events, and a restart from
// the spool's durable position captures the other 1,300: each operation exactly once.
TEST_F(WriterTest, ApplyOpsEntryCutByABatchResumesInsideTheEntry) {
  opts_.batch_max_events = 100;
  auto entry = ApplyOpsEntry(3000, 1234);
  std::vector<SourceItem> items;
  ASSERT_TRUE(OplogEntryItems(entry.get(), OplogOptions{}, 0, &items).ok());
  ASSERT_EQ(items.size(), 3000u);
  Run(std::move(items), /*stop_after=*/1700);
  ASSERT_EQ(Events().size(), 1700u);

  // Restart: the durable position says how much of the entry is in the spool.
  std::string token;
  {
    spool::SpoolWriterOptions so;
    so.dir = dir_.string();
    so.source_id = "test:fixtures";
    auto w = spool::SpoolWriter::Open(so);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    token = (*w)->resume_state().resume_token;
  }
  OplogPosition pos;
  ASSERT_TRUE(DecodeOplogPosition(token, &pos).ok());
  EXPECT_EQ(pos.ts, (1700000100ull << 32) | 7);
  EXPECT_EQ(pos.covered, 1700u);
  std::vector<SourceItem> rest;
  ASSERT_TRUE(OplogEntryItems(entry.get(), OplogOptions{}, pos.covered, &rest).ok());
  ASSERT_EQ(rest.size(), 1300u);
  Run(std::move(rest));

  std::vector<int> seen(3000, 0);
  for (const auto& e : Events()) {
    bson_t d;
    bson_iter_t it;
    ASSERT_TRUE(mongo::ViewBytes(e.full_document(), &d));
    ASSERT_TRUE(bson_iter_init_find(&it, &d, "_id"));
    const int id = bson_iter_int32(&it);
    ASSERT_TRUE(id >= 0 && id < 3000);
    ++seen[id];
    EXPECT_EQ(e.txn_number(), 4);
  }
  for (int id = 0; id < 3000; ++id) EXPECT_EQ(seen[id], 1) << "operation " << id;
  // After the whole entry the position covers it whole.
  spool::SpoolWriterOptions so;
  so.dir = dir_.string();
  so.source_id = "test:fixtures";
  auto w = spool::SpoolWriter::Open(so);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(DecodeOplogPosition((*w)->resume_state().resume_token, &pos).ok());
  EXPECT_EQ(pos.covered, 0u);
}

TEST(OplogPositionTest, RoundTripsAndRefusesOtherKinds) {
  for (OplogPosition p : {OplogPosition{5, 0}, OplogPosition{(7ull << 32) | 3, 1700}}) {
    OplogPosition q;
    ASSERT_TRUE(DecodeOplogPosition(EncodeOplogPosition(p), &q).ok());
    EXPECT_EQ(p, q);
    ASSERT_TRUE(DecodeOplogPosition(EncodeOplogToken(p), &q).ok());
    EXPECT_EQ(p, q);
  }
  auto streams = mongo::FromJson(R"({"v": 1, "kind": "streams", "streams": []})");
  OplogPosition q;
  EXPECT_TRUE(DecodeOplogPosition(mongo::Bytes(streams.get()), &q).IsFailedPrecondition());
  EXPECT_TRUE(DecodeOplogPosition("not bson", &q).IsCorruption());
  auto no_ts = mongo::FromJson(R"({"v": 1, "kind": "oplog"})");
  EXPECT_TRUE(DecodeOplogPosition(mongo::Bytes(no_ts.get()), &q).IsCorruption());
}

// A position inside an entry that expands into fewer events (not the entry this spool
// captured) is refused, never silently taken as "whole".
TEST(OplogPositionTest, SkipBeyondTheEntryIsRefused) {
  auto entry = ApplyOpsEntry(10, -1);
  std::vector<SourceItem> items;
  EXPECT_TRUE(OplogEntryItems(entry.get(), OplogOptions{}, 11, &items).IsFailedPrecondition());
  items.clear();
  ASSERT_TRUE(OplogEntryItems(entry.get(), OplogOptions{}, 10, &items).ok());
  ASSERT_EQ(items.size(), 1u);  // nothing left: a position-only item covering the whole entry
  EXPECT_FALSE(items[0].has_event);
}

// Chunk migrations' writes on a shard are skipped (fromMigrate), as documented for oplog
// readers; the position still advances.
TEST(OplogPositionTest, FromMigrateEntriesGiveNoEvents) {
  auto entry = mongo::FromJson(R"({"ts": {"$timestamp": {"t": 1700000200, "i": 1}}, "op": "i",
      "ns": "shop.orders", "fromMigrate": true, "o": {"_id": 1}})");
  std::vector<SourceItem> items;
  ASSERT_TRUE(OplogEntryItems(entry.get(), OplogOptions{}, 0, &items).ok());
  ASSERT_EQ(items.size(), 1u);
  EXPECT_FALSE(items[0].has_event);
}

TEST(EventSelectedTest, RenameDropDatabaseAndNoNamespace) {
  mongo::NamespaceFilter f;
  f.include = {"shop.*"};
  pb::ChangeEvent e;
  e.set_op(pb::OP_RENAME);
  e.set_db("tmp");
  e.set_coll("x");
  EXPECT_FALSE(EventSelected(f, e));
  e.set_to_db("shop");
  e.set_to_coll("x");
  EXPECT_TRUE(EventSelected(f, e));
  pb::ChangeEvent d;
  d.set_op(pb::OP_DROP_DATABASE);
  d.set_db("shop");
  EXPECT_TRUE(EventSelected(f, d));
  d.set_db("web");
  EXPECT_FALSE(EventSelected(f, d));
  pb::ChangeEvent inv;
  inv.set_op(pb::OP_INVALIDATE);
  EXPECT_TRUE(EventSelected(f, inv));
}

}  // namespace
}  // namespace docshift::capture

namespace docshift::capture {
namespace {

// A reader stuck in a read that never returns (a stalled connection) stops counting as
// caught up once its last empty read is older than the freshness window (issue #16.7:
// capture's progress said "lag 0" through a 5-minute stall).
TEST(CaughtUpTest, AReaderThatStopsReportingGoesStale) {
  SourceContext ctx;
  EXPECT_TRUE(ctx.AllCaughtUp(SteadyMs(), 1000));  // no readers
  CaughtUpFlag a(&ctx), b(&ctx);
  EXPECT_FALSE(ctx.AllCaughtUp(SteadyMs(), 1000));  // behind until a read comes back empty
  a.Set(true);
  EXPECT_FALSE(ctx.AllCaughtUp(SteadyMs(), 1000));
  b.Set(true);
  const int64_t now = SteadyMs();
  EXPECT_TRUE(ctx.AllCaughtUp(now, 1000));
  EXPECT_FALSE(ctx.AllCaughtUp(now + 1001, 1000)) << "a silent reader still counts as caught up";
  a.SetEnded();  // an ended stream stays caught up
  b.Set(true);
  EXPECT_TRUE(ctx.AllCaughtUp(SteadyMs() + 500, 1000));
  b.Set(false);
  EXPECT_FALSE(ctx.AllCaughtUp(SteadyMs(), 1000));
  {
    CaughtUpFlag gone(&ctx);  // a reader that is destroyed no longer counts
  }
  b.Set(true);
  EXPECT_TRUE(ctx.AllCaughtUp(SteadyMs(), 1000));
}

TEST(ReaderThreadTest, JoinByLeavesABlockedReaderAndJoinsAFinishedOne) {
  ReaderThread quick;
  quick.Start([] {});
  EXPECT_TRUE(quick.JoinBy(std::chrono::steady_clock::now() + std::chrono::seconds(5)));
  auto release = std::make_shared<std::atomic<bool>>(false);
  auto* blocked = new ReaderThread;  // leaked like capture leaks a blocked reader
  blocked->Start([release] {
    while (!release->load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  });
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(blocked->JoinBy(t0 + std::chrono::milliseconds(100)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  release->store(true);  // let the detached thread end
}

}  // namespace
}  // namespace docshift::capture
