// load_gen: offers a steady load of YCSB-like writes to a MongoDB-API server and reports
// what it achieved, for the end-to-end lag benchmark (bench/db/lag.sh).
//
//   load_gen --uri URI --ops_per_s 50 --seconds 10 [--insert_pct 50 --update_pct 30]
//   load_gen --uri URI --preload N               N inserts as fast as insert_many goes
//   load_gen --uri URI --measure_ins --seconds 3 B_ins: unordered insert_many docs/s
//
// Documents: {_id: "user000000000042", field0..field9: 100-byte strings} (~1.1 KB, YCSB's
// usertable row). Updates $set one field of a live document; deletes remove a live document; when
// no document is live an update or delete becomes an insert. Each of --threads threads
// writes its own keys (thread t: t, t + threads, ...) at ops_per_s / threads on an open
// schedule (op i is due at start + i / rate; a late thread does not sleep until it has
// caught up), so the achieved rate shows whether the server kept up.
//
// Prints KEY=value lines (LOADGEN_*, or B_INS_DOCS_PER_S). Exit 0; 1 on a connection or
// write error (message on stderr); 2 on bad arguments.
#include <gflags/gflags.h>
#include <mongoc/mongoc.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/strict_flags.h"

DEFINE_string(uri, "", "Server to write to (mongodb://...; required).");
DEFINE_string(db, "lagbench", "Database.");
DEFINE_string(coll, "usertable", "Collection.");
DEFINE_double(ops_per_s, 50, "Offered rate, operations per second over all threads (0: as fast as possible).");
DEFINE_double(seconds, 10, "How long to offer the load (or to measure with --measure_ins).");
DEFINE_int64(ops, 0, "Stop after this many operations (0: only --seconds bounds the run).");
DEFINE_int32(insert_pct, 50, "Percent of operations that are inserts.");
DEFINE_int32(update_pct, 30, "Percent that are updates (the rest are deletes).");
DEFINE_int32(threads, 1, "Writer threads, each with its own connection and keys.");
DEFINE_int64(key_base, 0, "First _id (so runs against one collection do not collide).");
DEFINE_int64(preload, 0, "Insert this many documents with unordered insert_many, then exit.");
DEFINE_bool(measure_ins, false, "Measure unordered insert_many throughput (B_ins) into a scratch "
                                "collection for --seconds, print B_INS_DOCS_PER_S, drop it.");
DEFINE_int32(batch, 1000, "Documents per insert_many (--preload, --measure_ins).");
DEFINE_bool(drop, false, "Drop the collection first.");

namespace {

constexpr const char* kUsage =
    "load_gen --uri URI [--ops_per_s R] [--seconds S] [--ops N] [--insert_pct I] [--update_pct U]\n"
    "         [--threads T] [--key_base K] [--drop]\n"
    "load_gen --uri URI --preload N [--batch B]\n"
    "load_gen --uri URI --measure_ins [--seconds S] [--batch B]\n"
    "Offers a steady YCSB-like write load and prints the achieved rate (KEY=value lines).";

using Clock = std::chrono::steady_clock;

struct ClientDeleter {
  void operator()(mongoc_client_t* c) const { mongoc_client_destroy(c); }
};
struct CollDeleter {
  void operator()(mongoc_collection_t* c) const { mongoc_collection_destroy(c); }
};
using ClientPtr = std::unique_ptr<mongoc_client_t, ClientDeleter>;
using CollPtr = std::unique_ptr<mongoc_collection_t, CollDeleter>;

std::string RandomField(std::mt19937_64& rng) {
  static const char kAlpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string s(100, ' ');
  for (char& c : s) c = kAlpha[rng() % (sizeof(kAlpha) - 1)];
  return s;
}

// YCSB's key: "user" + the number, zero-padded. A string _id also lets FerretDB on SQLite
// find the document by its _id index (it pushes down only string/ObjectId _id equality;
// an int64 _id means a collection scan per update, delete and apply upsert).
std::string Key(int64_t key) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "user%012lld", static_cast<long long>(key));
  return buf;
}

// {_id: key, field0..field9} into *doc (initialized by the caller).
void MakeDoc(int64_t key, std::mt19937_64& rng, bson_t* doc) {
  BSON_APPEND_UTF8(doc, "_id", Key(key).c_str());
  for (int f = 0; f < 10; ++f) {
    const std::string name = "field" + std::to_string(f);
    const std::string v = RandomField(rng);
    bson_append_utf8(doc, name.c_str(), -1, v.c_str(), static_cast<int>(v.size()));
  }
}

ClientPtr Connect(std::string* error) {
  bson_error_t err;
  mongoc_uri_t* uri = mongoc_uri_new_with_error(FLAGS_uri.c_str(), &err);
  if (uri == nullptr) {
    *error = std::string("bad --uri: ") + err.message;
    return nullptr;
  }
  ClientPtr c(mongoc_client_new_from_uri(uri));
  mongoc_uri_destroy(uri);
  if (!c) *error = "cannot create a client";
  return c;
}

// Inserts n documents with keys first.. in unordered insert_many batches. Returns false
// with *error on a failed write.
bool InsertMany(mongoc_collection_t* coll, int64_t first, int64_t n, std::mt19937_64& rng,
                std::string* error) {
  std::vector<struct _bson_t*> docs;  // the tag: bson_t's alignment attribute
  for (int64_t done = 0; done < n;) {
    const int64_t k = std::min<int64_t>(FLAGS_batch, n - done);
    docs.clear();
    for (int64_t i = 0; i < k; ++i) {
      bson_t* d = bson_new();
      MakeDoc(first + done + i, rng, d);
      docs.push_back(d);
    }
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_BOOL(&opts, "ordered", false);
    bson_error_t err;
    const bool ok = mongoc_collection_insert_many(coll, const_cast<const bson_t**>(docs.data()),
                                                  docs.size(), &opts, nullptr, &err);
    bson_destroy(&opts);
    for (bson_t* d : docs) bson_destroy(d);
    if (!ok) {
      *error = std::string("insert_many: ") + err.message;
      return false;
    }
    done += k;
  }
  return true;
}

struct ThreadResult {
  int64_t inserts = 0, updates = 0, deletes = 0, errors = 0;
  double max_behind_s = 0;  // how far behind its schedule the thread fell
  std::string first_error;
};

void Writer(int t, int threads, double rate, Clock::time_point start, ThreadResult* r) {
  std::string error;
  ClientPtr client = Connect(&error);
  if (!client) {
    r->errors++;
    r->first_error = error;
    return;
  }
  CollPtr coll(mongoc_client_get_collection(client.get(), FLAGS_db.c_str(), FLAGS_coll.c_str()));
  std::mt19937_64 rng(0x5eed + static_cast<uint64_t>(t));
  std::vector<int64_t> live;
  int64_t next_key = FLAGS_key_base + t;
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(FLAGS_seconds));
  const int64_t max_ops = FLAGS_ops > 0 ? (FLAGS_ops + threads - 1 - t) / threads : -1;
  for (int64_t i = 0; max_ops < 0 || i < max_ops; ++i) {
    if (rate > 0) {
      const auto due = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(i / rate));
      const auto now = Clock::now();
      if (due > now) {
        std::this_thread::sleep_until(due);
      } else {
        r->max_behind_s = std::max(r->max_behind_s, std::chrono::duration<double>(now - due).count());
      }
    }
    if (Clock::now() >= deadline) break;
    const int dice = static_cast<int>(rng() % 100);
    bson_error_t err;
    bool ok = true;
    if (dice < FLAGS_insert_pct || live.empty()) {
      bson_t doc = BSON_INITIALIZER;
      MakeDoc(next_key, rng, &doc);
      ok = mongoc_collection_insert_one(coll.get(), &doc, nullptr, nullptr, &err);
      bson_destroy(&doc);
      if (ok) {
        live.push_back(next_key);
        r->inserts++;
      }
      next_key += threads;
    } else {
      const size_t at = rng() % live.size();
      bson_t filter = BSON_INITIALIZER;
      BSON_APPEND_UTF8(&filter, "_id", Key(live[at]).c_str());
      if (dice < FLAGS_insert_pct + FLAGS_update_pct) {
        bson_t update = BSON_INITIALIZER, set;
        BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
        const std::string name = "field" + std::to_string(rng() % 10);
        const std::string v = RandomField(rng);
        bson_append_utf8(&set, name.c_str(), -1, v.c_str(), static_cast<int>(v.size()));
        bson_append_document_end(&update, &set);
        ok = mongoc_collection_update_one(coll.get(), &filter, &update, nullptr, nullptr, &err);
        bson_destroy(&update);
        if (ok) r->updates++;
      } else {
        ok = mongoc_collection_delete_one(coll.get(), &filter, nullptr, nullptr, &err);
        if (ok) {
          live[at] = live.back();
          live.pop_back();
          r->deletes++;
        }
      }
      bson_destroy(&filter);
    }
    if (!ok) {
      if (r->errors++ == 0) r->first_error = err.message;
    }
  }
}

int Run() {
  std::string error;
  ClientPtr client = Connect(&error);
  if (!client) {
    std::fprintf(stderr, "load_gen: %s\n", error.c_str());
    return 1;
  }
  {
    bson_t ping = BSON_INITIALIZER;
    BSON_APPEND_INT32(&ping, "ping", 1);
    bson_error_t err;
    const bool ok = mongoc_client_command_simple(client.get(), "admin", &ping, nullptr, nullptr, &err);
    bson_destroy(&ping);
    if (!ok) {
      std::fprintf(stderr, "load_gen: cannot reach the server: %s\n", err.message);
      return 1;
    }
  }
  std::mt19937_64 rng(42);
  if (FLAGS_measure_ins) {
    const std::string scratch = FLAGS_coll + "_bins";
    CollPtr coll(mongoc_client_get_collection(client.get(), FLAGS_db.c_str(), scratch.c_str()));
    bson_error_t err;
    mongoc_collection_drop(coll.get(), &err);  // absent is fine
    const auto t0 = Clock::now();
    int64_t docs = 0;
    while (std::chrono::duration<double>(Clock::now() - t0).count() < FLAGS_seconds) {
      if (!InsertMany(coll.get(), docs, FLAGS_batch, rng, &error)) {
        std::fprintf(stderr, "load_gen: %s\n", error.c_str());
        return 1;
      }
      docs += FLAGS_batch;
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    mongoc_collection_drop(coll.get(), &err);
    std::printf("B_INS_DOCS=%lld\nB_INS_SECONDS=%.3f\nB_INS_DOCS_PER_S=%.0f\n",
                static_cast<long long>(docs), secs, docs / secs);
    return 0;
  }
  CollPtr coll(mongoc_client_get_collection(client.get(), FLAGS_db.c_str(), FLAGS_coll.c_str()));
  if (FLAGS_drop) {
    bson_error_t err;
    mongoc_collection_drop(coll.get(), &err);
  }
  if (FLAGS_preload > 0) {
    const auto t0 = Clock::now();
    if (!InsertMany(coll.get(), FLAGS_key_base, FLAGS_preload, rng, &error)) {
      std::fprintf(stderr, "load_gen: %s\n", error.c_str());
      return 1;
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("LOADGEN_PRELOADED=%lld\nLOADGEN_PRELOAD_SECONDS=%.3f\n",
                static_cast<long long>(FLAGS_preload), secs);
    return 0;
  }
  const int threads = std::max(1, FLAGS_threads);
  std::vector<ThreadResult> results(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  const double per_thread = FLAGS_ops_per_s > 0 ? FLAGS_ops_per_s / threads : 0;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back(Writer, t, threads, per_thread, start, &results[static_cast<size_t>(t)]);
  }
  for (auto& th : pool) th.join();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  ThreadResult total;
  for (const auto& r : results) {
    total.inserts += r.inserts;
    total.updates += r.updates;
    total.deletes += r.deletes;
    total.errors += r.errors;
    total.max_behind_s = std::max(total.max_behind_s, r.max_behind_s);
    if (total.first_error.empty()) total.first_error = r.first_error;
  }
  const int64_t ops = total.inserts + total.updates + total.deletes;
  std::printf("LOADGEN_OFFERED_OPS_PER_S=%.1f\nLOADGEN_ACHIEVED_OPS_PER_S=%.1f\nLOADGEN_OPS=%lld\n"
              "LOADGEN_INSERTS=%lld\nLOADGEN_UPDATES=%lld\nLOADGEN_DELETES=%lld\nLOADGEN_ERRORS=%lld\n"
              "LOADGEN_SECONDS=%.3f\nLOADGEN_MAX_BEHIND_SCHEDULE_S=%.3f\n",
              FLAGS_ops_per_s, ops / secs, static_cast<long long>(ops),
              static_cast<long long>(total.inserts), static_cast<long long>(total.updates),
              static_cast<long long>(total.deletes), static_cast<long long>(total.errors), secs,
              total.max_behind_s);
  if (total.errors > 0) {
    std::fprintf(stderr, "load_gen: %lld writes failed; first: %s\n",
                 static_cast<long long>(total.errors), total.first_error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (const int rc = docshift::bench::ParseFlagsOrExitCode(argc, argv, "load_gen", kUsage, "load_gen"); rc >= 0) return rc;
  if (FLAGS_uri.empty()) {
    std::fprintf(stderr, "load_gen: --uri is required\n");
    return 2;
  }
  if (FLAGS_insert_pct < 0 || FLAGS_update_pct < 0 || FLAGS_insert_pct + FLAGS_update_pct > 100) {
    std::fprintf(stderr, "load_gen: --insert_pct + --update_pct must be within 0..100\n");
    return 2;
  }
  mongoc_init();
  const int rc = Run();
  mongoc_cleanup();
  return rc;
}
