// stream_read: the baseline for `docshift capture --source dynamodb://...` (issue #12). A
// plain DynamoDB Streams reader built only on aws::DynamoClient: DescribeTable →
// DescribeStream → per shard GetShardIterator(TRIM_HORIZON) → GetRecords(limit 1000) in a
// loop, the next call as soon as the previous one answered; it only counts records (no
// conversion, no spool). One thread and one client per shard, all shards at once (no
// parent-before-child order: a baseline may skip what capture must keep).
//
//   stream_read --table T [--region us-east-1] --count N [--seconds 600]
//
// Endpoint and credentials as docshift's (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...).
// Stops once N records were read in all (or --seconds passed, or every shard is closed
// and read to its end). Prints STREAM_READ_RECORDS, STREAM_READ_SECONDS (from main's
// start: the client's setup and the describe calls count, as they do for capture),
// STREAM_READ_RECORDS_PER_S, STREAM_READ_CALLS (GetRecords), STREAM_READ_SHARDS,
// STREAM_READ_JSON_BYTES (the records as received, re-serialized).
//
// Exit 0 when N records were read; 1 on a service error or fewer than N records; 2 bad
// arguments.
#include <gflags/gflags.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "aws/credentials.h"
#include "aws/dynamodb_client.h"
#include "bench/strict_flags.h"

DEFINE_string(table, "", "The table whose stream to read (required).");
DEFINE_string(region, "us-east-1", "Region (as in dynamodb://REGION/TABLE).");
DEFINE_int64(count, 0, "Stop after this many records in all (required, > 0).");
DEFINE_double(seconds, 600, "Give up after this long.");

namespace {

constexpr const char* kUsage =
    "stream_read --table T [--region R] --count N [--seconds S]\n"
    "Counts DynamoDB Streams records read from TRIM_HORIZON with plain GetRecords calls.";

using Clock = std::chrono::steady_clock;
using docshift::aws::DynamoClient;

struct Shared {
  std::atomic<int64_t> records{0};
  std::atomic<int64_t> calls{0};
  std::atomic<int64_t> json_bytes{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::string error;  // the first failure
};

void Fail(Shared* s, const std::string& what) {
  std::lock_guard<std::mutex> l(s->mu);
  if (s->error.empty()) s->error = what;
  s->stop = true;
}

void ReadShard(const docshift::aws::DynamoClientOptions& opts, const std::string& arn, const std::string& shard,
               Clock::time_point deadline, Shared* s) {
  auto client = DynamoClient::New(opts);
  if (!client.ok()) return Fail(s, client.status().ToString());
  auto it = (*client)->GetShardIterator(arn, shard, docshift::aws::IteratorType::kTrimHorizon, "");
  if (!it.ok()) return Fail(s, it.status().ToString());
  std::string iterator = *it;
  while (!s->stop && Clock::now() < deadline) {
    auto page = (*client)->GetRecords(iterator, 1000);
    if (!page.ok()) return Fail(s, page.status().ToString());
    ++s->calls;
    int64_t bytes = 0;
    for (const auto& r : page->records) bytes += static_cast<int64_t>(r.raw_json.size());
    s->json_bytes += bytes;
    if (s->records.fetch_add(static_cast<int64_t>(page->records.size())) +
            static_cast<int64_t>(page->records.size()) >= FLAGS_count) {
      s->stop = true;
    }
    if (page->next_iterator.empty()) return;  // closed and read to its end
    iterator = page->next_iterator;
    // An open shard with nothing new yet: the records asked for are still to be written.
    if (page->records.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

int Run(Clock::time_point t0) {
  auto opts = docshift::aws::DynamoClientOptionsFromEnv(docshift::aws::ProcessEnv(), FLAGS_region);
  if (!opts.ok()) {
    std::fprintf(stderr, "stream_read: %s\n", opts.status().ToString().c_str());
    return 1;
  }
  auto client = DynamoClient::New(*opts);
  if (!client.ok()) {
    std::fprintf(stderr, "stream_read: %s\n", client.status().ToString().c_str());
    return 1;
  }
  auto table = (*client)->DescribeTable(FLAGS_table);
  if (!table.ok()) {
    std::fprintf(stderr, "stream_read: %s\n", table.status().ToString().c_str());
    return 1;
  }
  if (table->latest_stream_arn.empty()) {
    std::fprintf(stderr, "stream_read: table %s has no stream\n", FLAGS_table.c_str());
    return 1;
  }
  auto stream = (*client)->DescribeStream(table->latest_stream_arn);
  if (!stream.ok()) {
    std::fprintf(stderr, "stream_read: %s\n", stream.status().ToString().c_str());
    return 1;
  }
  Shared s;
  const auto deadline = t0 + std::chrono::milliseconds(static_cast<int64_t>(FLAGS_seconds * 1000));
  std::vector<std::thread> threads;
  for (const auto& sh : stream->shards) {
    threads.emplace_back(ReadShard, *opts, stream->stream_arn, sh.shard_id, deadline, &s);
  }
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const int64_t n = s.records.load();
  std::printf("STREAM_READ_RECORDS=%lld\n", static_cast<long long>(n));
  std::printf("STREAM_READ_SECONDS=%.3f\n", secs);
  std::printf("STREAM_READ_RECORDS_PER_S=%.1f\n", n / secs);
  std::printf("STREAM_READ_CALLS=%lld\n", static_cast<long long>(s.calls.load()));
  std::printf("STREAM_READ_SHARDS=%zu\n", stream->shards.size());
  std::printf("STREAM_READ_JSON_BYTES=%lld\n", static_cast<long long>(s.json_bytes.load()));
  if (!s.error.empty()) {
    std::fprintf(stderr, "stream_read: %s\n", s.error.c_str());
    return 1;
  }
  if (n < FLAGS_count) {
    std::fprintf(stderr, "stream_read: read %lld of %lld records in %.1f s\n", static_cast<long long>(n),
                 static_cast<long long>(FLAGS_count), secs);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const auto t0 = Clock::now();
  if (const int rc = docshift::bench::ParseFlagsOrExitCode(argc, argv, "stream_read", kUsage, "stream_read"); rc >= 0) {
    return rc;
  }
  if (FLAGS_table.empty() || FLAGS_count <= 0) {
    std::fprintf(stderr, "stream_read: --table and --count (> 0) are required\n");
    return 2;
  }
  return Run(t0);
}
