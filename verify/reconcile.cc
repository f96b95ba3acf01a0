// `docshift reconcile`: deletes from the target what the source no longer has.
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_set>

#include "apply/translate.h"
#include "verify/limited_source.h"
#include "verify/internal.h"
#include "verify/source.h"
#include "verify/verify.h"

namespace docshift::verify {

using namespace internal;
using mongo::BsonPtr;
using mongo::CollPtr;
using mongo::CursorPtr;

namespace {

// Canonical keys of the given ids that exist in the source namespace ns.
StatusOr<std::set<std::string>> PresentKeys(VerifySource* src, const std::string& ns,
                                            const std::vector<const std::string*>& ids) {
  std::unordered_set<std::string> asked;
  for (const std::string* id : ids) asked.insert(apply::CanonicalKey(*id));
  std::set<std::string> out;
  RETURN_IF_ERROR(src->ReadIds(ns, ids, true, [&](const SourceDocument& d) {
    std::string key = apply::CanonicalKey(IdOf(d.doc));
    if (asked.count(key)) out.insert(std::move(key));
  }));
  return out;
}

struct Shared {
  std::mutex mu;
  ReconcileResult totals;
};

// Deletes the extras of one range from the target, re-checking the source first, and
// copying back any that appear on the source meanwhile.
Status ResolveExtras(const ReconcileOptions& o, VerifySource* s, mongoc_client_t* t,
                     const NsPair& ns, const std::vector<Candidate>& extras, Shared* sh) {
  // A source that reads a namespace whole for a lookup by _id does it once for all.
  const size_t kChunk = s->ReadsByIdRange() ? 100 : std::max<size_t>(1, extras.size());
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
    std::unordered_set<std::string> back;
    for (const std::string* id : doomed) back.insert(apply::CanonicalKey(*id));
    uint64_t restored = 0;
    Status restore;
    RETURN_IF_ERROR(s->ReadIds(ns.source, doomed, false, [&](const SourceDocument& d) {
      if (!restore.ok() || d.problem != nullptr) return;  // unconvertible: apply dead-lettered it
      bson_iter_t it;
      if (!bson_iter_init_find(&it, d.doc, "_id")) return;
      BsonPtr key(bson_new());
      bson_append_iter(key.get(), "_id", 3, &it);
      if (!back.count(apply::CanonicalKey(mongo::Bytes(key.get())))) return;
      BsonPtr ropts(BCON_NEW("upsert", BCON_BOOL(true)));
      bson_error_t err;
      if (!mongoc_collection_replace_one(target.get(), key.get(), d.doc, ropts.get(), nullptr, &err)) {
        restore = mongo::FromBsonError(err, "restoring a document in " + ns.target);
        return;
      }
      ++restored;
    }));
    RETURN_IF_ERROR(restore);
    std::lock_guard<std::mutex> l(sh->mu);
    sh->totals.restored += restored;
  }
  return Status::OK();
}

Status OnePass(const ReconcileOptions& o, VerifySource* src, Side* tgt, Shared* sh) {
  auto note = [&](const std::string& line) {
    if (o.progress) o.progress(line);
  };
  std::vector<NsPair> pairs;
  {
    bool complete = true;
    ASSIGN_OR_RETURN(auto names, src->ListNamespaces(o.filter, &complete));
    mongo::PooledClient t(tgt->pool.get());
    ASSIGN_OR_RETURN(pairs, PlanNamespaces(names, complete, t.get(), o.filter, o.maps, false));
  }
  struct Task {
    size_t ns;
    pb::VerifyRange range;
  };
  std::vector<Task> tasks;
  std::vector<NsPair> used;
  for (const auto& p : pairs) {
    if (!p.target_exists) continue;
    bool mixed = false;
    std::vector<pb::VerifyRange> ranges(1);  // a source without _id ranges: the whole namespace
    if (src->ReadsByIdRange()) {
      ASSIGN_OR_RETURN(ranges, src->SplitRanges(p.source, o.docs_per_range, &mixed));
    }
    used.push_back(p);
    for (auto& r : ranges) tasks.push_back(Task{used.size() - 1, std::move(r)});
  }
  note("checking " + std::to_string(used.size()) + " collections (" +
       std::to_string(tasks.size()) + " ranges) for documents the source no longer has");
  return ParallelFor(tgt, o.parallel, tasks.size(), o.stop,
                     [&](size_t i, mongoc_client_t* t) -> Status {
    const NsPair& ns = used[tasks[i].ns];
    const pb::VerifyRange& range = tasks[i].range;
    BsonPtr f = RangeFilterOf(range);
    RangeComparer cmp;
    uint64_t n = 0;
    RETURN_IF_ERROR(ReadSource([&](const DocSink& sink) { return src->ReadRange(ns.source, range, true, sink); },
                               true, false, &cmp, &n));
    RETURN_IF_ERROR(ReadTarget(t, ns.target, f.get(), true, false, &cmp, &n));
    std::vector<Candidate> extras;
    for (auto& c : cmp.Finish())
      if (c.kind == DiffKind::kExtra) extras.push_back(std::move(c));
    if (extras.empty()) return Status::OK();
    return ResolveExtras(o, src, t, ns, extras, sh);
  });
}

}  // namespace

StatusOr<ReconcileResult> RunReconcile(const ReconcileOptions& opts) {
  {
    apply::NamespaceMap check;
    for (const auto& m : opts.maps) RETURN_IF_ERROR(check.Add(m));
  }
  Side tgt;
  const int parallel = std::max(1, opts.parallel);
  LoadLimit limit(opts.max_docs_per_s, opts.max_mb_per_s * 1e6);  // outlives src, which may use it
  ASSIGN_OR_RETURN(std::unique_ptr<VerifySource> src, OpenVerifySource(opts.source_uri, parallel, opts.stop,
                                                                                 opts.dynamodb_numbers));
  if (limit.limited()) src = std::make_unique<LimitedSource>(std::move(src), &limit, opts.stop);
  RETURN_IF_ERROR(Connect(opts.target_uri, "target", parallel + 1, &tgt));
  Shared sh;
  for (;;) {
    ReconcileResult before;
    {
      std::lock_guard<std::mutex> l(sh.mu);
      before = sh.totals;
    }
    Status s = OnePass(opts, src.get(), &tgt, &sh);
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
  ReconcileResult totals = sh.totals;
  if (limit.limited()) totals.load = limit.Describe("docs");
  return totals;
}

}  // namespace docshift::verify
