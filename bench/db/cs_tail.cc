// cs_tail: the baseline for capture's change-stream read throughput. A plain libmongoc
// change stream on one collection (batchSize 1000, startAtOperationTime) that only counts
// events: no conversion, no spool.
//
//   cs_tail --uri URI --db D --coll C --from SECONDS.INC --count N
//       reads until N events arrived (or --seconds passed); prints CS_TAIL_EVENTS,
//       CS_TAIL_SECONDS (from the watch call; the connection is made first),
//       CS_TAIL_EVENTS_PER_S
//   cs_tail --uri URI --now    prints CS_NOW_TS=SECONDS.INC (isMaster operationTime,
//       else localTime), a starting point for --from
//
// Exit 0; 1 on a server error; 2 bad arguments.
#include <gflags/gflags.h>
#include <mongoc/mongoc.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/strict_flags.h"

DEFINE_string(uri, "", "Server to read (required).");
DEFINE_string(db, "lagbench", "Database.");
DEFINE_string(coll, "csbench", "Collection.");
DEFINE_string(from, "", "startAtOperationTime: SECONDS.INCREMENT.");
DEFINE_int64(count, 0, "Stop after this many events.");
DEFINE_double(seconds, 60, "Stop after this long in any case.");
DEFINE_bool(now, false, "Print the server's time as CS_NOW_TS and exit.");

namespace {

constexpr const char* kUsage =
    "cs_tail --uri URI --db D --coll C --from SECONDS.INC --count N | cs_tail --uri URI --now";

int Now(mongoc_client_t* c) {
  bson_t cmd = BSON_INITIALIZER, reply;
  BSON_APPEND_INT32(&cmd, "isMaster", 1);
  bson_error_t err;
  const bool ok = mongoc_client_command_simple(c, "admin", &cmd, nullptr, &reply, &err);
  bson_destroy(&cmd);
  if (!ok) {
    std::fprintf(stderr, "cs_tail: isMaster: %s\n", err.message);
    bson_destroy(&reply);
    return 1;
  }
  bson_iter_t it;
  uint32_t t = 0, i = 0;
  if (bson_iter_init_find(&it, &reply, "operationTime") && BSON_ITER_HOLDS_TIMESTAMP(&it)) {
    bson_iter_timestamp(&it, &t, &i);
  } else if (bson_iter_init_find(&it, &reply, "localTime") && BSON_ITER_HOLDS_DATE_TIME(&it)) {
    t = static_cast<uint32_t>(bson_iter_date_time(&it) / 1000);
  }
  bson_destroy(&reply);
  std::printf("CS_NOW_TS=%u.%u\n", t, i);
  return 0;
}

int Tail(mongoc_client_t* c) {
  const size_t dot = FLAGS_from.find('.');
  if (dot == std::string::npos) {
    std::fprintf(stderr, "cs_tail: --from must be SECONDS.INC\n");
    return 2;
  }
  const uint32_t t = static_cast<uint32_t>(std::strtoul(FLAGS_from.substr(0, dot).c_str(), nullptr, 10));
  const uint32_t i = static_cast<uint32_t>(std::strtoul(FLAGS_from.substr(dot + 1).c_str(), nullptr, 10));
  mongoc_collection_t* coll = mongoc_client_get_collection(c, FLAGS_db.c_str(), FLAGS_coll.c_str());
  bson_t pipeline = BSON_INITIALIZER, opts = BSON_INITIALIZER;
  bson_append_timestamp(&opts, "startAtOperationTime", -1, t, i);
  BSON_APPEND_INT32(&opts, "batchSize", 1000);
  BSON_APPEND_INT64(&opts, "maxAwaitTimeMS", 500);
  const auto t0 = std::chrono::steady_clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  mongoc_change_stream_t* cs = mongoc_collection_watch(coll, &pipeline, &opts);
  int64_t events = 0;
  const bson_t* doc;
  bson_error_t err;
  int rc = 0;
  while (elapsed() < FLAGS_seconds && (FLAGS_count == 0 || events < FLAGS_count)) {
    if (mongoc_change_stream_next(cs, &doc)) {
      ++events;
      continue;
    }
    const bson_t* reply = nullptr;
    if (mongoc_change_stream_error_document(cs, &err, &reply)) {
      std::fprintf(stderr, "cs_tail: %s\n", err.message);
      rc = 1;
      break;
    }
  }
  const double secs = elapsed();
  mongoc_change_stream_destroy(cs);
  mongoc_collection_destroy(coll);
  bson_destroy(&pipeline);
  bson_destroy(&opts);
  std::printf("CS_TAIL_EVENTS=%lld\nCS_TAIL_SECONDS=%.3f\nCS_TAIL_EVENTS_PER_S=%.1f\n",
              static_cast<long long>(events), secs, events / secs);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  if (const int rc = docshift::bench::ParseFlagsOrExitCode(argc, argv, "cs_tail", kUsage, "cs_tail"); rc >= 0) return rc;
  if (FLAGS_uri.empty()) {
    std::fprintf(stderr, "cs_tail: --uri is required\n");
    return 2;
  }
  mongoc_init();
  bson_error_t err;
  mongoc_uri_t* uri = mongoc_uri_new_with_error(FLAGS_uri.c_str(), &err);
  if (uri == nullptr) {
    std::fprintf(stderr, "cs_tail: bad --uri: %s\n", err.message);
    return 2;
  }
  mongoc_client_t* c = mongoc_client_new_from_uri(uri);
  mongoc_uri_destroy(uri);
  const int rc = FLAGS_now ? Now(c) : Tail(c);
  mongoc_client_destroy(c);
  mongoc_cleanup();
  return rc;
}
