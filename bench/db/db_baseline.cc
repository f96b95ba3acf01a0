// db_baseline: plain-libmongoc baselines for the database benchmarks (bench/db/run.sh).
// Each mode does, with the most direct client code, what a docshift command does, so
// docshift's figures can be given as ratios to them measured in the same run:
//
//   --mode ins   unordered insert_many of the first --docs insert events of the
//                insert-only synthetic stream (bench/synth.h: the same ~1.2 KB YCSB
//                documents docshift writes from such a spool), --connections threads,
//                each taking --batch documents at a time from a shared counter.
//                --db maps every namespace into one database (used to load the source);
//                empty keeps the events' own namespaces (ycsb.*, app.*).
//                Prints B_INS_DOCS_PER_S, B_INS_MB_PER_S (with --label: <LABEL>_...).
//   --mode scan  drains every collection of --db with plain find cursors, --connections
//                threads taking collections from a queue (as docshift snapshot does when a
//                collection fits in one range). With --scan_ranges each collection is also
//                cut into --connections _id ranges at quantiles of the _ids the loader
//                wrote (known from the synthetic stream: no server-side planning); on
//                FerretDB v1 that is slower (the range filter is not pushed down).
//                Prints B_SCAN_DOCS_PER_S, B_SCAN_MB_PER_S.
//   --mode bulk  replays a spool (spool/ reader API) as plain unordered bulk writes:
//                insert → insert, update → update_one {$set, $unset}, replace →
//                replace_one upsert, delete → delete_one; events hashed by (namespace,
//                _id) over --connections threads so each document's changes stay in
//                order; a thread's batch is grouped by collection, a document's k-th op
//                in the batch goes in the k-th bulk. Prints B_BULK_EVENTS_PER_S.
//   --mode drop  drops the comma-separated databases --db (resets a target between runs).
//
// Exit status: 0 success, 1 a server or spool error, 2 bad arguments.
#include <bson/bson.h>
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <mongoc/mongoc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bench/strict_flags.h"
#include "bench/synth.h"
#include "mongo/mongo_util.h"
#include "spool/spool.h"
#include "util/env.h"

DEFINE_string(mode, "", "ins | scan | bulk | drop");
DEFINE_string(uri, "", "Server URI (ins/bulk: the target; scan: the source).");
DEFINE_string(db, "", "ins: write every namespace into this database (empty: the events' "
                      "own); scan: the database to drain.");
DEFINE_int64(docs, 100000, "ins/scan: documents of the insert-only synthetic stream.");
DEFINE_uint64(seed, 1, "Seed of the synthetic stream.");
DEFINE_bool(single_namespace, false, "ins/scan: every document in one namespace.");
DEFINE_int32(connections, 4, "Connections (one thread each).");
DEFINE_int32(batch, 1000, "Operations per bulk write.");
DEFINE_string(spool, "", "bulk: the spool to replay.");
DEFINE_bool(scan_ranges, false, "scan: also cut each collection into --connections _id "
                                  "ranges (default: one find per collection).");
DEFINE_int32(max_bulk_ops, 0, "bulk: largest bulk write (0 = --batch).");
DEFINE_int32(max_update_statements, -1, "bulk: most update/replace statements per bulk, the "
             "same rule as docshift apply's flag: -1 = none, except 32/connections on a FerretDB "
             "target (its v1.24 update handler deadlocks past its connection pool).");
int g_max_update_statements = 0;  // resolved --max_update_statements
DEFINE_string(create, "", "drop: then create these comma-separated db.coll collections.");
DEFINE_string(label, "", "Prefix of the printed keys instead of B_INS/B_SCAN/B_BULK.");

namespace docshift::bench {
namespace {

using mongo::BsonPtr;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage =
    "db_baseline --mode ins|scan|bulk --uri URI [--db DB] [--docs N] [--connections 4]\n"
    "            [--batch 1000] [--spool DIR] [--single_namespace] [--label KEY]\n"
    "Plain-libmongoc baselines for bench/db/run.sh; prints KEY=value lines.";

double Secs(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

SynthConfig InsertOnly() {
  SynthConfig c;
  c.seed = FLAGS_seed;
  c.insert_pct = 100;
  c.update_pct = c.replace_pct = c.delete_pct = 0;
  c.single_namespace = FLAGS_single_namespace;
  return c;
}

void PrintRate(const std::string& key, uint64_t docs, uint64_t bytes, double secs,
               const char* unit) {
  std::printf("%s_%s=%llu\n", key.c_str(), unit, static_cast<unsigned long long>(docs));
  std::printf("%s_SECONDS=%.3f\n", key.c_str(), secs);
  std::printf("%s_%s_PER_S=%.1f\n", key.c_str(), unit, docs / secs);
  std::printf("%s_MB_PER_S=%.2f\n", key.c_str(), bytes / 1e6 / secs);
}

// Failures abort the run: a baseline that skipped work would be a wrong baseline.
[[noreturn]] void Die(const std::string& what, const bson_error_t& err) {
  std::fprintf(stderr, "db_baseline: %s: %s (code %u)\n", what.c_str(), err.message, err.code);
  std::exit(1);
}

int RunIns(mongoc_client_pool_t* pool) {
  const SynthConfig cfg = InsertOnly();
  // Pre-generate the documents (not timed): the baseline measures the database.
  struct Doc {
    std::string db, coll, bytes;
  };
  std::vector<Doc> docs(static_cast<size_t>(FLAGS_docs));
  uint64_t total_bytes = 0;
  pb::ChangeEvent e;
  for (int64_t i = 0; i < FLAGS_docs; ++i) {
    MakeEvent(cfg, static_cast<uint64_t>(i), &e);
    docs[i] = {FLAGS_db.empty() ? e.db() : FLAGS_db, e.coll(), e.full_document()};
    total_bytes += docs[i].bytes.size();
  }
  std::atomic<size_t> next{0};
  const size_t batch = static_cast<size_t>(FLAGS_batch);
  auto worker = [&] {
    mongo::PooledClient client(pool);
    for (;;) {
      const size_t b = next.fetch_add(batch);
      if (b >= docs.size()) return;
      const size_t e_end = std::min(docs.size(), b + batch);
      // One insert_many per collection within the slice, in slice order.
      // (A static bson_t points into itself: built in place, in a deque, never copied.)
      std::map<std::pair<std::string, std::string>, std::deque<bson_t>> by_coll;
      for (size_t k = b; k < e_end; ++k) {
        auto& vs = by_coll[{docs[k].db, docs[k].coll}];
        vs.emplace_back();
        bson_init_static(&vs.back(), reinterpret_cast<const uint8_t*>(docs[k].bytes.data()),
                         docs[k].bytes.size());
      }
      for (auto& [ns, vs] : by_coll) {
        mongo::CollPtr coll(
            mongoc_client_get_collection(client.get(), ns.first.c_str(), ns.second.c_str()));
        std::vector<const bson_t*> ptrs;
        for (auto& v : vs) ptrs.push_back(&v);
        BsonPtr opts(BCON_NEW("ordered", BCON_BOOL(false)));
        bson_error_t err;
        if (!mongoc_collection_insert_many(coll.get(), ptrs.data(), ptrs.size(), opts.get(),
                                           nullptr, &err)) {
          Die("insert_many into " + ns.first + "." + ns.second, err);
        }
      }
    }
  };
  const auto t0 = Clock::now();
  std::vector<std::thread> ts;
  for (int c = 0; c < FLAGS_connections; ++c) ts.emplace_back(worker);
  for (auto& t : ts) t.join();
  PrintRate(FLAGS_label.empty() ? "B_INS" : FLAGS_label, docs.size(), total_bytes, Secs(t0),
            "DOCS");
  return 0;
}

int RunScan(mongoc_client_pool_t* pool) {
  // The _ids the loader wrote, per collection, sorted as the server sorts strings.
  const SynthConfig cfg = InsertOnly();
  std::map<std::string, std::vector<std::string>> ids;
  pb::ChangeEvent e;
  for (int64_t i = 0; i < FLAGS_docs; ++i) {
    MakeEvent(cfg, static_cast<uint64_t>(i), &e);
    bson_t key;
    bson_iter_t it;
    if (!bson_init_static(&key, reinterpret_cast<const uint8_t*>(e.document_key().data()),
                          e.document_key().size()) ||
        !bson_iter_init_find(&it, &key, "_id") || !BSON_ITER_HOLDS_UTF8(&it)) {
      std::fprintf(stderr, "db_baseline: event %lld has no string _id\n",
                   static_cast<long long>(i));
      return 1;
    }
    ids[e.coll()].push_back(bson_iter_utf8(&it, nullptr));
  }
  struct Range {
    std::string coll, lo, hi;  // [lo, hi); empty = unbounded
  };
  std::deque<Range> ranges;
  for (auto& [coll, v] : ids) {
    std::sort(v.begin(), v.end());
    // Ranges only with --scan_ranges: FerretDB v1 does not push an _id range filter down
    // to SQLite, so every range query reads the whole collection.
    const size_t n = FLAGS_scan_ranges ? static_cast<size_t>(FLAGS_connections) : 1;
    std::string prev;
    for (size_t r = 1; r < n && v.size() >= n; ++r) {
      std::string cut = v[v.size() * r / n];
      ranges.push_back({coll, prev, cut});
      prev = cut;
    }
    ranges.push_back({coll, prev, ""});
  }
  std::mutex mu;
  std::atomic<uint64_t> docs{0}, bytes{0};
  auto worker = [&] {
    mongo::PooledClient client(pool);
    for (;;) {
      Range r;
      {
        std::lock_guard<std::mutex> l(mu);
        if (ranges.empty()) return;
        r = ranges.front();
        ranges.pop_front();
      }
      mongo::CollPtr coll(
          mongoc_client_get_collection(client.get(), FLAGS_db.c_str(), r.coll.c_str()));
      BsonPtr filter(bson_new());
      if (!r.lo.empty() || !r.hi.empty()) {
        bson_t id;
        BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "_id", &id);
        if (!r.lo.empty()) BSON_APPEND_UTF8(&id, "$gte", r.lo.c_str());
        if (!r.hi.empty()) BSON_APPEND_UTF8(&id, "$lt", r.hi.c_str());
        bson_append_document_end(filter.get(), &id);
      }
      BsonPtr opts(BCON_NEW("batchSize", BCON_INT32(FLAGS_batch)));
      mongo::CursorPtr cur(
          mongoc_collection_find_with_opts(coll.get(), filter.get(), opts.get(), nullptr));
      const bson_t* doc;
      uint64_t n = 0, b = 0;
      while (mongoc_cursor_next(cur.get(), &doc)) {
        ++n;
        b += doc->len;
      }
      bson_error_t err;
      if (mongoc_cursor_error(cur.get(), &err)) Die("find on " + FLAGS_db + "." + r.coll, err);
      docs += n;
      bytes += b;
    }
  };
  const auto t0 = Clock::now();
  std::vector<std::thread> ts;
  for (int c = 0; c < FLAGS_connections; ++c) ts.emplace_back(worker);
  for (auto& t : ts) t.join();
  const double secs = Secs(t0);
  if (docs.load() != static_cast<uint64_t>(FLAGS_docs)) {
    std::fprintf(stderr, "db_baseline: scan read %llu documents, expected %lld\n",
                 static_cast<unsigned long long>(docs.load()), static_cast<long long>(FLAGS_docs));
    return 1;
  }
  PrintRate(FLAGS_label.empty() ? "B_SCAN" : FLAGS_label, docs, bytes, secs, "DOCS");
  return 0;
}

// ---- bulk: replay a spool with plain bulk writes ----

struct Op {
  std::string db, coll;
  pb::OpType op;
  std::string key;  // document_key bytes
  std::string doc;  // full document (insert/replace) or update description
};

class Worker {
 public:
  explicit Worker(mongoc_client_pool_t* pool) : pool_(pool) {
    thread_ = std::thread([this] { Run(); });
  }
  void Push(Op op) {
    std::unique_lock<std::mutex> l(mu_);
    space_.wait(l, [&] { return q_.size() < 20000; });
    q_.push_back(std::move(op));
    cv_.notify_one();
  }
  void Finish() {
    {
      std::lock_guard<std::mutex> l(mu_);
      done_ = true;
      cv_.notify_one();
    }
    thread_.join();
  }

 private:
  void Run() {
    mongo::PooledClient client(pool_);
    std::vector<Op> work;
    for (;;) {
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return !q_.empty() || done_; });
        if (q_.empty()) return;
        const size_t n = std::min(q_.size(), static_cast<size_t>(FLAGS_batch));
        work.assign(std::make_move_iterator(q_.begin()), std::make_move_iterator(q_.begin() + n));
        q_.erase(q_.begin(), q_.begin() + n);
        space_.notify_all();
      }
      // Grouped by collection (stable); within a collection the k-th op of a document in
      // this batch goes in the k-th bulk, so no bulk holds a document twice and each
      // document's ops run in order; within a bulk, ops sorted by kind (insert, update/
      // replace, delete) so libmongoc sends at most three commands.
      std::stable_sort(work.begin(), work.end(), [](const Op& a, const Op& b) {
        return a.db != b.db ? a.db < b.db : a.coll < b.coll;
      });
      size_t i = 0;
      while (i < work.size()) {
        size_t end = i;
        while (end < work.size() && work[end].db == work[i].db && work[end].coll == work[i].coll) ++end;
        std::unordered_map<std::string, int> seen;
        std::vector<std::tuple<int, int, size_t>> order;  // (generation, kind rank, index)
        for (size_t k = i; k < end; ++k) {
          const int rank = work[k].op == pb::OP_INSERT ? 0 : work[k].op == pb::OP_DELETE ? 2 : 1;
          order.emplace_back(seen[work[k].key]++, rank, k);
        }
        std::stable_sort(order.begin(), order.end());
        std::vector<size_t> bulk;
        int statements = 0;  // update/replace statements in this bulk
        const size_t max_ops = FLAGS_max_bulk_ops > 0 ? FLAGS_max_bulk_ops : FLAGS_batch;
        for (size_t o = 0; o < order.size(); ++o) {
          bulk.push_back(std::get<2>(order[o]));
          statements += std::get<1>(order[o]) == 1;
          const bool next_is_statement = o + 1 < order.size() && std::get<1>(order[o + 1]) == 1;
          if (o + 1 == order.size() || std::get<0>(order[o + 1]) != std::get<0>(order[o]) ||
              bulk.size() >= max_ops ||
              (g_max_update_statements > 0 && next_is_statement && statements >= g_max_update_statements)) {
            Execute(client.get(), work, bulk);
            bulk.clear();
            statements = 0;
          }
        }
        i = end;
      }
    }
  }

  static bool View(const std::string& s, bson_t* b) {
    return bson_init_static(b, reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }

  void Execute(mongoc_client_t* client, const std::vector<Op>& w, const std::vector<size_t>& idx) {
    const size_t b = idx.front();
    mongo::CollPtr coll(mongoc_client_get_collection(client, w[b].db.c_str(), w[b].coll.c_str()));
    BsonPtr opts(BCON_NEW("ordered", BCON_BOOL(false)));
    mongo::BulkPtr bulk(mongoc_collection_create_bulk_operation_with_opts(coll.get(), opts.get()));
    BsonPtr upsert(BCON_NEW("upsert", BCON_BOOL(true)));
    bson_error_t err;
    size_t ops = 0;
    for (size_t k : idx) {
      bson_t key, doc;
      if (!View(w[k].key, &key)) continue;
      bool ok = true;
      switch (w[k].op) {
        case pb::OP_INSERT:
          ok = View(w[k].doc, &doc) &&
               mongoc_bulk_operation_insert_with_opts(bulk.get(), &doc, nullptr, &err);
          break;
        case pb::OP_REPLACE:
          ok = View(w[k].doc, &doc) && mongoc_bulk_operation_replace_one_with_opts(
                                           bulk.get(), &key, &doc, upsert.get(), &err);
          break;
        case pb::OP_DELETE:
          ok = mongoc_bulk_operation_remove_one_with_opts(bulk.get(), &key, nullptr, &err);
          break;
        case pb::OP_UPDATE: {
          bson_t desc;
          if (!View(w[k].doc, &desc)) continue;
          BsonPtr update(bson_new());
          bson_iter_t it;
          if (bson_iter_init_find(&it, &desc, "updatedFields") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
            const uint8_t* data;
            uint32_t len;
            bson_iter_document(&it, &len, &data);
            bson_t set;
            if (len > 5 && bson_init_static(&set, data, len)) {
              BSON_APPEND_DOCUMENT(update.get(), "$set", &set);
            }
          }
          if (bson_iter_init_find(&it, &desc, "removedFields") && BSON_ITER_HOLDS_ARRAY(&it)) {
            bson_iter_t a;
            bson_iter_recurse(&it, &a);
            bson_t unset;
            bool any = false;
            while (bson_iter_next(&a)) {
              if (!BSON_ITER_HOLDS_UTF8(&a)) continue;
              if (!any) BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$unset", &unset);
              any = true;
              BSON_APPEND_UTF8(&unset, bson_iter_utf8(&a, nullptr), "");
            }
            if (any) bson_append_document_end(update.get(), &unset);
          }
          if (bson_count_keys(update.get()) == 0) continue;
          ok = mongoc_bulk_operation_update_one_with_opts(bulk.get(), &key, update.get(),
                                                          nullptr, &err);
          break;
        }
        default:
          continue;
      }
      if (!ok) Die("building a bulk write", err);
      ++ops;
    }
    if (ops == 0) return;
    bson_t reply;
    const uint32_t ok = mongoc_bulk_operation_execute(bulk.get(), &reply, &err);
    if (ok == 0) {
      char* json = bson_as_relaxed_extended_json(&reply, nullptr);
      std::fprintf(stderr, "db_baseline: bulk write to %s.%s: %s\n", w[b].db.c_str(),
                   w[b].coll.c_str(), json);
      bson_free(json);
      Die("bulk write", err);
    }
    bson_destroy(&reply);
  }

  mongoc_client_pool_t* pool_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_, space_;
  std::deque<Op> q_;
  bool done_ = false;
};

int RunBulk(mongoc_client_pool_t* pool) {
  g_max_update_statements = std::max(0, FLAGS_max_update_statements);
  if (FLAGS_max_update_statements < 0) {
    docshift::mongo::PooledClient c(pool);
    g_max_update_statements = docshift::mongo::UpdateStatementCap(c.get(), FLAGS_connections);
  }
  std::fprintf(stderr, "db_baseline: at most %d update statements per bulk (0 = no limit)\n",
               g_max_update_statements);
  Env* env = Env::Default();
  spool::SpoolView view;
  Status s = spool::OpenSpoolView(env, FLAGS_spool, &view);
  if (!s.ok()) {
    std::fprintf(stderr, "db_baseline: %s\n", s.ToString().c_str());
    return 1;
  }
  spool::SpoolReader reader(env, &view, {});
  const auto t0 = Clock::now();
  std::vector<std::unique_ptr<Worker>> workers;
  for (int c = 0; c < FLAGS_connections; ++c) workers.push_back(std::make_unique<Worker>(pool));
  pb::ChangeBatch batch;
  uint64_t events = 0;
  std::hash<std::string> h;
  for (;;) {
    s = reader.Next(&batch);
    if (s.IsEndOfFile()) break;
    if (!s.ok()) {
      std::fprintf(stderr, "db_baseline: reading %s: %s\n", FLAGS_spool.c_str(),
                   s.ToString().c_str());
      return 1;
    }
    for (auto& e : *batch.mutable_events()) {
      Op op{e.db(), e.coll(), e.op(), e.document_key(), {}};
      if (e.op() == pb::OP_UPDATE) {
        op.doc = e.update_description();
      } else if (e.op() == pb::OP_INSERT || e.op() == pb::OP_REPLACE) {
        op.doc = e.full_document();
      } else if (e.op() != pb::OP_DELETE) {
        continue;
      }
      const size_t lane = h(op.db + '\0' + op.coll + '\0' + op.key) % workers.size();
      workers[lane]->Push(std::move(op));
      ++events;
    }
  }
  for (auto& w : workers) w->Finish();
  const double secs = Secs(t0);
  const std::string key = FLAGS_label.empty() ? "B_BULK" : FLAGS_label;
  std::printf("%s_EVENTS=%llu\n%s_SECONDS=%.3f\n%s_EVENTS_PER_S=%.1f\n", key.c_str(),
              static_cast<unsigned long long>(events), key.c_str(), secs, key.c_str(),
              events / secs);
  return 0;
}

int RunDrop(mongoc_client_pool_t* pool) {
  mongo::PooledClient client(pool);
  std::string list = FLAGS_db + ",";
  for (size_t p = 0, q; (q = list.find(',', p)) != std::string::npos; p = q + 1) {
    const std::string name = list.substr(p, q - p);
    if (name.empty()) continue;
    mongoc_database_t* db = mongoc_client_get_database(client.get(), name.c_str());
    bson_error_t err;
    const bool ok = mongoc_database_drop(db, &err);
    mongoc_database_destroy(db);
    if (!ok && err.code != 26) Die("dropping database " + name, err);
  }
  // Then create the --create collections, one at a time (FerretDB v1 can stall when
  // several connections create a collection at once by writing to it).
  std::string cl = FLAGS_create + ",";
  for (size_t p = 0, q; (q = cl.find(',', p)) != std::string::npos; p = q + 1) {
    const std::string ns = cl.substr(p, q - p);
    const size_t dot = ns.find('.');
    if (ns.empty() || dot == std::string::npos) continue;
    mongoc_database_t* db = mongoc_client_get_database(client.get(), ns.substr(0, dot).c_str());
    bson_error_t err;
    mongoc_collection_t* c = mongoc_database_create_collection(db, ns.substr(dot + 1).c_str(), nullptr, &err);
    mongoc_database_destroy(db);
    if (c == nullptr) Die("creating " + ns, err);
    mongoc_collection_destroy(c);
  }
  return 0;
}

}  // namespace
}  // namespace docshift::bench

int main(int argc, char** argv) {
  using namespace docshift::bench;
  if (const int rc = ParseFlagsOrExitCode(argc, argv, "db_baseline", kUsage, "db_baseline.cc"); rc >= 0) return rc;
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  if (FLAGS_uri.empty() || FLAGS_connections < 1 || FLAGS_batch < 1 || FLAGS_docs < 1 ||
      (FLAGS_mode != "ins" && FLAGS_mode != "scan" && FLAGS_mode != "bulk" &&
       FLAGS_mode != "drop") ||
      ((FLAGS_mode == "scan" || FLAGS_mode == "drop") && FLAGS_db.empty()) || (FLAGS_mode == "bulk" && FLAGS_spool.empty())) {
    std::fprintf(stderr, "db_baseline: need --mode ins|scan|bulk, --uri, positive "
                         "--connections/--batch/--docs; scan needs --db, bulk --spool\n");
    return 2;
  }
  docshift::mongo::InitOnce();
  auto uri = docshift::mongo::ParseUri(FLAGS_uri, "--uri");
  if (!uri.ok()) {
    std::fprintf(stderr, "db_baseline: %s\n", uri.status().ToString().c_str());
    return 2;
  }
  // A stalled server fails the run within two minutes instead of libmongoc's five.
  mongoc_uri_set_option_as_int32(uri->get(), MONGOC_URI_SOCKETTIMEOUTMS, 120000);
  auto pool = docshift::mongo::NewPool(uri->get(), FLAGS_connections);
  if (!pool.ok()) {
    std::fprintf(stderr, "db_baseline: %s\n", pool.status().ToString().c_str());
    return 1;
  }
  if (FLAGS_mode == "ins") return RunIns(pool->get());
  if (FLAGS_mode == "scan") return RunScan(pool->get());
  if (FLAGS_mode == "drop") return RunDrop(pool->get());
  return RunBulk(pool->get());
}
