// oplog_tail: the baseline for capture's read throughput. A plain tailable awaitData
// cursor on local.oplog.rs that only counts entries: no conversion, no spool.
//
//   oplog_tail --uri URI --latest                   print OPLOG_LATEST_TS=SECONDS.INC
//   oplog_tail --uri URI --from SECONDS.INC --count N
//       tail from after that entry until N newer entries arrived (or --seconds passed);
//       prints OPLOG_TAIL_ENTRIES, OPLOG_TAIL_SECONDS, OPLOG_TAIL_ENTRIES_PER_S
//   oplog_tail --uri URI --from SECONDS.INC --count N --sorted
//       the same with plain finds sorted by ts, again from the last entry until N (the
//       query capture must poll FerretDB with: its tailable cursors skip entries)
//   oplog_tail --uri URI --probe 5                  time 5 finds {ts: {$gt: newest}}
//       (the query capture polls FerretDB with): OPLOG_QUERY_MS_MIN/MEDIAN/MAX, and the
//       oplog's size (OPLOG_ENTRIES, OPLOG_BYTES)
//
// The cursor is opened with raw find/getMore commands: {ts: {$gte: from}}, batchSize 1 for
// the first batch (FerretDB closes a tailable cursor whose first batch is short: the
// entry at `from` fills it), 1000 per getMore (libmongoc's cursor API would keep the first
// batch size). Entries whose ts is not after the last one counted (FerretDB redelivers
// some) are not counted; their number is printed as OPLOG_TAIL_REDELIVERED. A cursor the
// server closes is reopened from the last entry counted.
//
// Exit 0; 1 on a server error or if --from is no longer in the oplog; 2 bad arguments.
#include <gflags/gflags.h>
#include <mongoc/mongoc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench/strict_flags.h"

DEFINE_string(uri, "", "Server whose local.oplog.rs to read (required).");
DEFINE_bool(latest, false, "Print the newest entry's ts and exit.");
DEFINE_string(from, "", "Tail from after this entry: SECONDS.INCREMENT (as --latest prints).");
DEFINE_int64(count, 0, "Stop after this many entries newer than --from (0: until --seconds).");
DEFINE_double(seconds, 60, "Stop after this long in any case.");
DEFINE_int32(max_await_ms, 8000, "maxTimeMS of each getMore (see tests/README.md: FerretDB "
                                 "must finish a scan within it).");
DEFINE_bool(sorted, false, "Read with plain finds {ts: {$gte: last}} sorted by ts (the query capture "
            "polls FerretDB with) instead of a tailable cursor.");
DEFINE_int32(probe, 0, "Time this many finds {ts: {$gt: newest}} sorted by ts, and exit.");

namespace {

constexpr const char* kUsage =
    "oplog_tail --uri URI --latest\n"
    "oplog_tail --uri URI --from SECONDS.INC [--count N] [--seconds S] [--max_await_ms M]\n"
    "oplog_tail --uri URI --probe K\n"
    "Counts local.oplog.rs entries read by a plain tailable awaitData cursor.";

using Clock = std::chrono::steady_clock;

struct BsonDeleter {
  void operator()(struct _bson_t* b) const { bson_destroy(b); }
};
// The tag: bson_t carries an alignment attribute a template argument would drop.
using BsonPtr = std::unique_ptr<struct _bson_t, BsonDeleter>;

uint64_t TsOf(const bson_t* d) {
  bson_iter_t it;
  uint32_t t = 0, i = 0;
  if (bson_iter_init_find(&it, d, "ts") && BSON_ITER_HOLDS_TIMESTAMP(&it)) bson_iter_timestamp(&it, &t, &i);
  return (static_cast<uint64_t>(t) << 32) | i;
}

std::string TsText(uint64_t ts) { return std::to_string(ts >> 32) + "." + std::to_string(ts & 0xffffffffu); }

bool Command(mongoc_client_t* c, const bson_t* cmd, BsonPtr* reply, std::string* error) {
  bson_t r;
  bson_error_t err;
  const bool ok = mongoc_client_command_simple(c, "local", cmd, nullptr, &r, &err);
  reply->reset(bson_copy(&r));
  bson_destroy(&r);
  if (!ok) *error = err.message;
  return ok;
}

// Newest entry's ts (0: empty oplog).
bool Latest(mongoc_client_t* c, uint64_t* ts, std::string* error) {
  mongoc_collection_t* coll = mongoc_client_get_collection(c, "local", "oplog.rs");
  bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
  BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
  BSON_APPEND_INT32(&sort, "$natural", -1);
  bson_append_document_end(&opts, &sort);
  BSON_APPEND_INT64(&opts, "limit", 1);
  mongoc_cursor_t* cur = mongoc_collection_find_with_opts(coll, &filter, &opts, nullptr);
  const bson_t* d;
  *ts = 0;
  if (mongoc_cursor_next(cur, &d)) *ts = TsOf(d);
  bson_error_t err;
  const bool ok = !mongoc_cursor_error(cur, &err);
  if (!ok) *error = err.message;
  mongoc_cursor_destroy(cur);
  bson_destroy(&filter);
  bson_destroy(&opts);
  mongoc_collection_destroy(coll);
  return ok;
}

// Runs one find to its end; *ms its wall time. False (and *err) on a cursor error.
bool TimedFind(mongoc_collection_t* coll, const bson_t* filter, const bson_t* opts, double* ms,
               bson_error_t* err) {
  const auto t0 = Clock::now();
  mongoc_cursor_t* cur = mongoc_collection_find_with_opts(coll, filter, opts, nullptr);
  const bson_t* d;
  while (mongoc_cursor_next(cur, &d)) {
  }
  const bool bad = mongoc_cursor_error(cur, err);
  mongoc_cursor_destroy(cur);
  *ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return !bad;
}

int Probe(mongoc_client_t* c) {
  std::string error;
  uint64_t latest;
  if (!Latest(c, &latest, &error)) {
    std::fprintf(stderr, "oplog_tail: %s\n", error.c_str());
    return 1;
  }
  mongoc_collection_t* coll = mongoc_client_get_collection(c, "local", "oplog.rs");
  std::vector<double> ms;
  for (int k = 0; k < FLAGS_probe; ++k) {
    bson_t filter = BSON_INITIALIZER, ts;
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "ts", &ts);
    bson_append_timestamp(&ts, "$gt", 3, static_cast<uint32_t>(latest >> 32),
                          static_cast<uint32_t>(latest & 0xffffffffu));
    bson_append_document_end(&filter, &ts);
    bson_t opts = BSON_INITIALIZER, sort;
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "ts", 1);
    bson_append_document_end(&opts, &sort);
    BSON_APPEND_INT64(&opts, "limit", 1000);
    bson_error_t err;
    double took;
    const bool good = TimedFind(coll, &filter, &opts, &took, &err);
    bson_destroy(&filter);
    bson_destroy(&opts);
    if (!good) {
      std::fprintf(stderr, "oplog_tail: probe: %s\n", err.message);
      mongoc_collection_destroy(coll);
      return 1;
    }
    ms.push_back(took);
  }
  // The same newest entries read in natural (insertion) order, newest first, limit 100:
  // whether the server can answer that without scanning the whole oplog.
  std::vector<double> nat;
  for (int k = 0; k < FLAGS_probe; ++k) {
    bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "$natural", -1);
    bson_append_document_end(&opts, &sort);
    BSON_APPEND_INT64(&opts, "limit", 100);
    bson_error_t err;
    double took;
    const bool good = TimedFind(coll, &filter, &opts, &took, &err);
    bson_destroy(&filter);
    bson_destroy(&opts);
    if (!good) break;
    nat.push_back(took);
  }
  std::sort(nat.begin(), nat.end());
  if (!nat.empty()) std::printf("OPLOG_NATURAL_DESC_LIMIT100_MS_MEDIAN=%.1f\n", nat[nat.size() / 2]);
  // The oplog's size: collStats where the server has it.
  bson_t stats = BSON_INITIALIZER;
  BSON_APPEND_UTF8(&stats, "collStats", "oplog.rs");
  BsonPtr reply;
  if (Command(c, &stats, &reply, &error)) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, reply.get(), "count")) std::printf("OPLOG_ENTRIES=%lld\n", static_cast<long long>(bson_iter_as_int64(&it)));
    if (bson_iter_init_find(&it, reply.get(), "size")) std::printf("OPLOG_BYTES=%lld\n", static_cast<long long>(bson_iter_as_int64(&it)));
  }
  bson_destroy(&stats);
  mongoc_collection_destroy(coll);
  std::sort(ms.begin(), ms.end());
  if (!ms.empty()) {
    std::printf("OPLOG_QUERY_PROBES=%zu\nOPLOG_QUERY_MS_MIN=%.1f\nOPLOG_QUERY_MS_MEDIAN=%.1f\nOPLOG_QUERY_MS_MAX=%.1f\n",
                ms.size(), ms.front(), ms[ms.size() / 2], ms.back());
  }
  return 0;
}

int Tail(mongoc_client_t* c, uint64_t from) {
  const auto t0 = Clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  uint64_t last = from;
  int64_t entries = 0, redelivered = 0, reopens = 0, getmores = 0;
  std::string error;
  while (elapsed() < FLAGS_seconds && (FLAGS_count == 0 || entries < FLAGS_count)) {
    bson_t find = BSON_INITIALIZER, filter, ts;
    BSON_APPEND_UTF8(&find, "find", "oplog.rs");
    BSON_APPEND_DOCUMENT_BEGIN(&find, "filter", &filter);
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "ts", &ts);
    bson_append_timestamp(&ts, "$gte", 4, static_cast<uint32_t>(last >> 32), static_cast<uint32_t>(last & 0xffffffffu));
    bson_append_document_end(&filter, &ts);
    bson_append_document_end(&find, &filter);
    if (FLAGS_sorted) {
      bson_t sort;
      BSON_APPEND_DOCUMENT_BEGIN(&find, "sort", &sort);
      BSON_APPEND_INT32(&sort, "ts", 1);
      bson_append_document_end(&find, &sort);
      BSON_APPEND_INT32(&find, "batchSize", 1000);
    } else {
      BSON_APPEND_BOOL(&find, "tailable", true);
      BSON_APPEND_BOOL(&find, "awaitData", true);
      BSON_APPEND_INT32(&find, "batchSize", 1);
    }
    BsonPtr reply;
    const bool ok = Command(c, &find, &reply, &error);
    bson_destroy(&find);
    if (!ok) {
      std::fprintf(stderr, "oplog_tail: find: %s\n", error.c_str());
      return 1;
    }
    ++reopens;
    const char* field = "cursor.firstBatch";
    bool first = true;
    for (;;) {
      bson_iter_t it, batch;
      int64_t id = 0;
      if (bson_iter_init(&it, reply.get()) && bson_iter_find_descendant(&it, "cursor.id", &it)) id = bson_iter_as_int64(&it);
      if (bson_iter_init(&it, reply.get()) && bson_iter_find_descendant(&it, field, &it) &&
          BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &batch)) {
        while (bson_iter_next(&batch)) {
          uint32_t len;
          const uint8_t* data;
          if (!BSON_ITER_HOLDS_DOCUMENT(&batch)) continue;
          bson_iter_document(&batch, &len, &data);
          bson_t doc;
          bson_init_static(&doc, data, len);
          const uint64_t t = TsOf(&doc);
          if (first) {
            first = false;
            if (t != last) {
              std::fprintf(stderr, "oplog_tail: the entry at %s is no longer in the oplog\n", TsText(last).c_str());
              return 1;
            }
          }
          if (t <= last) {
            if (t != from) ++redelivered;
            continue;
          }
          last = t;
          ++entries;
        }
      }
      if (id == 0 || elapsed() >= FLAGS_seconds || (FLAGS_count > 0 && entries >= FLAGS_count)) break;
      bson_t more = BSON_INITIALIZER;
      BSON_APPEND_INT64(&more, "getMore", id);
      BSON_APPEND_UTF8(&more, "collection", "oplog.rs");
      BSON_APPEND_INT32(&more, "batchSize", 1000);
      if (!FLAGS_sorted) BSON_APPEND_INT32(&more, "maxTimeMS", FLAGS_max_await_ms);
      const bool mok = Command(c, &more, &reply, &error);
      bson_destroy(&more);
      ++getmores;
      if (!mok) break;  // FerretDB fails some empty getMores: reopen from `last`
      field = "cursor.nextBatch";
    }
  }
  const double secs = elapsed();
  std::printf("OPLOG_TAIL_ENTRIES=%lld\nOPLOG_TAIL_SECONDS=%.3f\nOPLOG_TAIL_ENTRIES_PER_S=%.1f\n"
              "OPLOG_TAIL_REDELIVERED=%lld\nOPLOG_TAIL_OPENS=%lld\nOPLOG_TAIL_GETMORES=%lld\n",
              static_cast<long long>(entries), secs, entries / secs, static_cast<long long>(redelivered),
              static_cast<long long>(reopens), static_cast<long long>(getmores));
  return 0;
}

int Run() {
  bson_error_t err;
  mongoc_uri_t* uri = mongoc_uri_new_with_error(FLAGS_uri.c_str(), &err);
  if (uri == nullptr) {
    std::fprintf(stderr, "oplog_tail: bad --uri: %s\n", err.message);
    return 2;
  }
  mongoc_client_t* raw = mongoc_client_new_from_uri(uri);
  mongoc_uri_destroy(uri);
  std::unique_ptr<mongoc_client_t, void (*)(mongoc_client_t*)> c(raw, mongoc_client_destroy);
  // Socket timeout above the getMore wait.
  if (FLAGS_probe > 0) return Probe(c.get());
  if (FLAGS_latest) {
    uint64_t ts;
    std::string error;
    if (!Latest(c.get(), &ts, &error)) {
      std::fprintf(stderr, "oplog_tail: %s\n", error.c_str());
      return 1;
    }
    std::printf("OPLOG_LATEST_TS=%s\n", TsText(ts).c_str());
    return 0;
  }
  unsigned long long s = 0, i = 0;
  if (std::sscanf(FLAGS_from.c_str(), "%llu.%llu", &s, &i) != 2) {
    std::fprintf(stderr, "oplog_tail: --from SECONDS.INCREMENT is required (or --latest / --probe)\n");
    return 2;
  }
  return Tail(c.get(), (static_cast<uint64_t>(s) << 32) | i);
}

}  // namespace

int main(int argc, char** argv) {
  if (const int rc = docshift::bench::ParseFlagsOrExitCode(argc, argv, "oplog_tail", kUsage, "oplog_tail"); rc >= 0) return rc;
  if (FLAGS_uri.empty()) {
    std::fprintf(stderr, "oplog_tail: --uri is required\n");
    return 2;
  }
  mongoc_init();
  const int rc = Run();
  mongoc_cleanup();
  return rc;
}
