// `docshift reconcile`: deletes from the target what the source no longer has.
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "apply/translate.h"
#include "verify/internal.h"
#include "verify/verify.h"

namespace docshift::verify {

using namespace internal;
using mongo::BsonPtr;
using mongo::CollPtr;
using mongo::CursorPtr;

namespace {

// Canonical keys of the given ids that exist on c's collection ns.
StatusOr<std::set<std::string>> PresentKeys(mongoc_client_t* c, const std::string& ns,
                                            const std::vector<const std::string*>& ids) {
  auto [db, coll] = SplitNs(ns);
  CollPtr h = Collection(c, db, coll);
  BsonPtr f = IdInFilter(ids);
  BsonPtr opts(BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}"));
  CursorPtr cur(mongoc_collection_find_with_opts(h.get(), f.get(), opts.get(), nullptr));
  std::set<std::string> out;
  const bson_t* doc;
  while (mongoc_cursor_next(cur.get(), &doc)) out.insert(apply::CanonicalKey(IdOf(doc)));
  bson_error_t err;
  if (mongoc_cursor_error(cur.get(), &err)) return mongo::FromBsonError(err, "reading " + ns);
  return out;
}

struct Shared {
  std::mutex mu;
  ReconcileResult totals;
};

// Deletes the extras of one range from the target, re-checking the source first, and
// copying back any that appear on the source meanwhile.
Status ResolveExtras(const ReconcileOptions& o, mongoc_client_t* s, mongoc_client_t* t,
                     const NsPair& ns, const std::vector<Candidate>& extras, Shared* sh) {
  constexpr size_t kChunk = 100;
  auto [tdb, tcoll] = SplitNs(ns.target);
  CollPtr target = Collection(t, tdb, tcoll);
  for (size_t i = 0; i < extras.size(); i += kChunk) {
    std::vector<const std::string*> ids;
    for (size_t j = i; j < std::min(extras.size(), i + kChunk); ++j) ids.push_back(&extras[j].id);
    // Immediately before deleting: is any of them on the source now?
    ASSIGN_OR_RETURN(auto present, PresentKeys(s, ns.source, ids));
    std::vector<const std::string*> doomed;
    for (const std::string* id : ids)
      if (!present.count(apply::CanonicalKey(*id))) doomed.push_back(id);
    {
      std::lock_guard<std::mutex> l(sh->mu);
      sh->totals.candidates += ids.size();
      sh->totals.kept += ids.size() - doomed.size();
    }
    if (doomed.empty()) continue;
    if (!o.dry_run) {
      BsonPtr f = IdInFilter(doomed);
      bson_error_t err;
      if (!mongoc_collection_delete_many(target.get(), f.get(), nullptr, nullptr, &err)) {
        return mongo::FromBsonError(err, "deleting from " + ns.target);
      }
    }
    {
      std::lock_guard<std::mutex> l(sh->mu);
      sh->totals.deleted += doomed.size();
      if (o.on_delete)
        for (const std::string* id : doomed) o.on_delete(ns.target, IdJson(*id));
    }
    if (o.dry_run) continue;
    // A document inserted on the source between the check and the delete may already
    // have been applied (and is now deleted): copy those back from the source.
    ASSIGN_OR_RETURN(auto again, PresentKeys(s, ns.source, doomed));
    if (again.empty()) continue;
    auto [sdb, scoll] = SplitNs(ns.source);
    CollPtr source = Collection(s, sdb, scoll);
    BsonPtr f = IdInFilter(doomed);
    CursorPtr cur(mongoc_collection_find_with_opts(source.get(), f.get(), nullptr, nullptr));
    const bson_t* doc;
    uint64_t restored = 0;
    while (mongoc_cursor_next(cur.get(), &doc)) {
      bson_iter_t it;
      if (!bson_iter_init_find(&it, doc, "_id")) continue;
      BsonPtr key(bson_new());
      bson_append_iter(key.get(), "_id", 3, &it);
      BsonPtr ropts(BCON_NEW("upsert", BCON_BOOL(true)));
      bson_error_t err;
      if (!mongoc_collection_replace_one(target.get(), key.get(), doc, ropts.get(), nullptr, &err)) {
        return mongo::FromBsonError(err, "restoring a document in " + ns.target);
      }
      ++restored;
    }
    bson_error_t err;
    if (mongoc_cursor_error(cur.get(), &err)) return mongo::FromBsonError(err, "reading " + ns.source);
    std::lock_guard<std::mutex> l(sh->mu);
    sh->totals.restored += restored;
  }
  return Status::OK();
}

Status OnePass(const ReconcileOptions& o, Side* src, Side* tgt, Shared* sh) {
  auto note = [&](const std::string& line) {
    if (o.progress) o.progress(line);
  };
  std::vector<NsPair> pairs;
  {
    mongo::PooledClient s(src->pool.get()), t(tgt->pool.get());
    ASSIGN_OR_RETURN(pairs, PlanNamespaces(s.get(), t.get(), o.filter, o.maps, false));
  }
  struct Task {
    size_t ns;
    pb::VerifyRange range;
  };
  std::vector<Task> tasks;
  std::vector<NsPair> used;
  {
    mongo::PooledClient s(src->pool.get());
    for (const auto& p : pairs) {
      if (!p.target_exists) continue;
      bool mixed = false;
      ASSIGN_OR_RETURN(auto ranges, SplitRanges(s.get(), p.source, o.docs_per_range, &mixed));
      used.push_back(p);
      for (auto& r : ranges) tasks.push_back(Task{used.size() - 1, std::move(r)});
    }
  }
  note("checking " + std::to_string(used.size()) + " collections (" +
       std::to_string(tasks.size()) + " ranges) for documents the source no longer has");
  return ParallelFor(src, tgt, o.parallel, tasks.size(), o.stop,
                     [&](size_t i, mongoc_client_t* s, mongoc_client_t* t) -> Status {
    const NsPair& ns = used[tasks[i].ns];
    BsonPtr f = RangeFilterOf(tasks[i].range);
    RangeComparer cmp;
    uint64_t n = 0;
    RETURN_IF_ERROR(ReadSide(s, ns.source, f.get(), true, false, true, &cmp, &n));
    RETURN_IF_ERROR(ReadSide(t, ns.target, f.get(), true, false, false, &cmp, &n));
    std::vector<Candidate> extras;
    for (auto& c : cmp.Finish())
      if (c.kind == DiffKind::kExtra) extras.push_back(std::move(c));
    if (extras.empty()) return Status::OK();
    return ResolveExtras(o, s, t, ns, extras, sh);
  });
}

}  // namespace

StatusOr<ReconcileResult> RunReconcile(const ReconcileOptions& opts) {
  {
    apply::NamespaceMap check;
    for (const auto& m : opts.maps) RETURN_IF_ERROR(check.Add(m));
  }
  Side src, tgt;
  const int parallel = std::max(1, opts.parallel);
  RETURN_IF_ERROR(Connect(opts.source_uri, "source", parallel + 1, &src));
  RETURN_IF_ERROR(Connect(opts.target_uri, "target", parallel + 1, &tgt));
  Shared sh;
  for (;;) {
    ReconcileResult before;
    {
      std::lock_guard<std::mutex> l(sh.mu);
      before = sh.totals;
    }
    Status s = OnePass(opts, &src, &tgt, &sh);
    const bool stopped = opts.stop != nullptr && opts.stop->load();
    if (!s.ok() && !(s.IsAborted() && stopped)) return s;
    std::string line;
    {
      std::lock_guard<std::mutex> l(sh.mu);
      ++sh.totals.passes;
      line = "pass " + std::to_string(sh.totals.passes) + (stopped ? " (interrupted)" : "") + ": " +
             std::to_string(sh.totals.deleted - before.deleted) +
             (opts.dry_run ? " would be deleted, " : " deleted, ") +
             std::to_string(sh.totals.kept - before.kept) + " kept (back on the source), " +
             std::to_string(sh.totals.restored - before.restored) + " restored";
    }
    if (opts.progress) opts.progress(line);
    if (stopped) break;
    if (opts.interval_ms <= 0) break;
    const int64_t until = NowMs() + opts.interval_ms;
    // The schedule of the next pass, not a correctness wait.
    while (NowMs() < until && !(opts.stop != nullptr && opts.stop->load())) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (opts.stop != nullptr && opts.stop->load()) break;
  }
  return sh.totals;
}

}  // namespace docshift::verify
