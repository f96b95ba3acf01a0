// scan_copy: the baseline for `docshift snapshot --source dynamodb://...` (issue #12). A
// plain parallel Scan client: one thread per segment (TotalSegments = --segments, as
// snapshot plans a table under 256 MiB with --parallel P: P segments), each with its own
// aws::DynamoClient and target connection, Scans its segment page by page (ConsistentRead,
// Limit --page: snapshot's default --batch_docs, which is also its Scan page limit),
// converts each item with aws::ItemToBson (the same mapping as snapshot) and writes the
// page with one unordered insert_many. No state, no resume, no dead letters: an item that
// does not convert is counted and skipped.
//
//   scan_copy --table T --target URI --db DB --coll C [--segments 4] [--page 1000]
//             [--region us-east-1] [--drop]
//
// Endpoint and credentials as docshift's (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...).
// --drop drops DB before the copy (not timed). Prints SCAN_COPY_ITEMS, SCAN_COPY_SECONDS
// (from main's start, as snapshot is timed from exec; the drop excluded),
// SCAN_COPY_ITEMS_PER_S, SCAN_COPY_PAGES, SCAN_COPY_BSON_BYTES, SCAN_COPY_UNCONVERTED,
// and SCAN_COPY_SCAN_SECONDS / SCAN_COPY_CONVERT_SECONDS / SCAN_COPY_INSERT_SECONDS
// (summed over threads: where the time went).
//
// Exit 0 success; 1 a service or target error; 2 bad arguments.
#include <bson/bson.h>
#include <gflags/gflags.h>
#include <mongoc/mongoc.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "aws/credentials.h"
#include "aws/dynamodb_client.h"
#include "bench/strict_flags.h"
#include "mongo/mongo_util.h"

DEFINE_string(table, "", "Source table (required).");
DEFINE_string(region, "us-east-1", "Region (as in dynamodb://REGION/TABLE).");
DEFINE_string(target, "", "Target MongoDB URI (required).");
DEFINE_string(db, "", "Target database (required).");
DEFINE_string(coll, "", "Target collection (default: the table's name).");
DEFINE_int32(segments, 4, "TotalSegments of the parallel Scan: one thread and one connection each.");
DEFINE_int32(page, 1000, "Scan Limit (items per page) and so documents per insert_many.");
DEFINE_bool(drop, false, "Drop --db on the target first (not timed).");

namespace {

constexpr const char* kUsage =
    "scan_copy --table T --target URI --db DB [--coll C] [--segments 4] [--page 1000] [--drop]\n"
    "Copies a DynamoDB table into a MongoDB collection with a plain parallel Scan.";

using Clock = std::chrono::steady_clock;
namespace aws = docshift::aws;
namespace mongo = docshift::mongo;

double Secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

struct Shared {
  std::atomic<int64_t> items{0}, pages{0}, bytes{0}, unconverted{0};
  std::atomic<int64_t> scan_us{0}, convert_us{0}, insert_us{0};
  std::mutex mu;
  std::string error;
};

void Fail(Shared* s, const std::string& what) {
  std::lock_guard<std::mutex> l(s->mu);
  if (s->error.empty()) s->error = what;
}

int64_t Us(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::microseconds>(b - a).count();
}

void CopySegment(const aws::DynamoClientOptions& opts, const aws::KeySchema& keys, mongoc_client_pool_t* pool,
                 int segment, Shared* s) {
  auto client = aws::DynamoClient::New(opts);
  if (!client.ok()) return Fail(s, client.status().ToString());
  mongo::PooledClient target(pool);
  const std::string coll_name = FLAGS_coll.empty() ? FLAGS_table : FLAGS_coll;
  mongo::CollPtr coll(mongoc_client_get_collection(target.get(), FLAGS_db.c_str(), coll_name.c_str()));
  mongo::BsonPtr insert_opts(BCON_NEW("ordered", BCON_BOOL(false)));
  aws::ScanRequest req;
  req.table = FLAGS_table;
  req.segment = segment;
  req.total_segments = FLAGS_segments;
  req.limit = FLAGS_page;
  req.consistent_read = true;
  for (;;) {
    const auto t0 = Clock::now();
    auto page = (*client)->Scan(req);
    if (!page.ok()) return Fail(s, page.status().ToString());
    const auto t1 = Clock::now();
    std::vector<mongo::BsonPtr> docs;
    std::vector<const bson_t*> ptrs;
    if (page->Items().IsArray()) {
      for (const auto& item : page->Items().GetArray()) {
        mongo::BsonPtr doc(bson_new());
        if (!aws::ItemToBson(item, keys, doc.get()).ok()) {
          ++s->unconverted;
          continue;
        }
        s->bytes += doc->len;
        ptrs.push_back(doc.get());
        docs.push_back(std::move(doc));
      }
    }
    const auto t2 = Clock::now();
    if (!ptrs.empty()) {
      bson_error_t err;
      if (!mongoc_collection_insert_many(coll.get(), ptrs.data(), ptrs.size(), insert_opts.get(), nullptr, &err)) {
        return Fail(s, std::string("insert_many: ") + err.message);
      }
    }
    const auto t3 = Clock::now();
    s->scan_us += Us(t0, t1);
    s->convert_us += Us(t1, t2);
    s->insert_us += Us(t2, t3);
    s->items += static_cast<int64_t>(ptrs.size());
    ++s->pages;
    if (page->last_evaluated_key_json.empty()) return;
    req.exclusive_start_key_json = page->last_evaluated_key_json;
  }
}

int Run(Clock::time_point t0) {
  auto uri = mongo::ParseUri(FLAGS_target, "--target");
  if (!uri.ok()) {
    std::fprintf(stderr, "scan_copy: %s\n", uri.status().ToString().c_str());
    return 2;
  }
  auto pool = mongo::NewPool(uri->get(), FLAGS_segments + 1);
  if (!pool.ok()) {
    std::fprintf(stderr, "scan_copy: %s\n", pool.status().ToString().c_str());
    return 1;
  }
  if (FLAGS_drop) {
    const auto d0 = Clock::now();
    mongo::PooledClient c(pool->get());
    mongoc_database_t* db = mongoc_client_get_database(c.get(), FLAGS_db.c_str());
    bson_error_t err;
    const bool ok = mongoc_database_drop(db, &err) || err.code == 26;  // NamespaceNotFound
    mongoc_database_destroy(db);
    if (!ok) {
      std::fprintf(stderr, "scan_copy: dropping %s: %s\n", FLAGS_db.c_str(), err.message);
      return 1;
    }
    t0 += Clock::now() - d0;  // the drop is not part of the copy
  }
  auto opts = aws::DynamoClientOptionsFromEnv(aws::ProcessEnv(), FLAGS_region);
  if (!opts.ok()) {
    std::fprintf(stderr, "scan_copy: %s\n", opts.status().ToString().c_str());
    return 1;
  }
  auto control = aws::DynamoClient::New(*opts);
  if (!control.ok()) {
    std::fprintf(stderr, "scan_copy: %s\n", control.status().ToString().c_str());
    return 1;
  }
  auto table = (*control)->DescribeTable(FLAGS_table);
  if (!table.ok()) {
    std::fprintf(stderr, "scan_copy: %s\n", table.status().ToString().c_str());
    return 1;
  }
  Shared s;
  std::vector<std::thread> threads;
  for (int seg = 0; seg < FLAGS_segments; ++seg) {
    threads.emplace_back(CopySegment, *opts, table->keys, pool->get(), seg, &s);
  }
  for (auto& t : threads) t.join();
  const double secs = Secs(t0, Clock::now());
  if (!s.error.empty()) {
    std::fprintf(stderr, "scan_copy: %s\n", s.error.c_str());
    return 1;
  }
  const int64_t n = s.items.load();
  std::printf("SCAN_COPY_ITEMS=%lld\n", static_cast<long long>(n));
  std::printf("SCAN_COPY_SECONDS=%.3f\n", secs);
  std::printf("SCAN_COPY_ITEMS_PER_S=%.1f\n", n / secs);
  std::printf("SCAN_COPY_SEGMENTS=%d\n", FLAGS_segments);
  std::printf("SCAN_COPY_PAGES=%lld\n", static_cast<long long>(s.pages.load()));
  std::printf("SCAN_COPY_BSON_BYTES=%lld\n", static_cast<long long>(s.bytes.load()));
  std::printf("SCAN_COPY_UNCONVERTED=%lld\n", static_cast<long long>(s.unconverted.load()));
  std::printf("SCAN_COPY_SCAN_SECONDS=%.3f\n", s.scan_us.load() / 1e6);
  std::printf("SCAN_COPY_CONVERT_SECONDS=%.3f\n", s.convert_us.load() / 1e6);
  std::printf("SCAN_COPY_INSERT_SECONDS=%.3f\n", s.insert_us.load() / 1e6);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const auto t0 = Clock::now();
  if (const int rc = docshift::bench::ParseFlagsOrExitCode(argc, argv, "scan_copy", kUsage, "scan_copy"); rc >= 0) {
    return rc;
  }
  if (FLAGS_table.empty() || FLAGS_target.empty() || FLAGS_db.empty() || FLAGS_segments < 1 || FLAGS_page < 1 ||
      FLAGS_page > 1000) {
    std::fprintf(stderr, "scan_copy: --table, --target and --db are required; --segments >= 1, --page 1..1000\n");
    return 2;
  }
  mongoc_init();
  const int rc = Run(t0);
  mongoc_cleanup();
  return rc;
}
