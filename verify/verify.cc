#include "verify/limited_source.h"
#include "verify/verify.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "apply/transform.h"
#include "apply/translate.h"
#include "mongo/id_ranges.h"
#include "proto/spool.pb.h"
#include "spool/checkpoint.h"
#include "spool/record.h"
#include "spool/segment.h"
#include "spool/spool.h"
#include "verify/internal.h"
#include "verify/source.h"

namespace docshift::verify {

using mongo::BsonPtr;
using mongo::CollPtr;
using mongo::CursorPtr;

namespace internal {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- Connections ----

Status Connect(const std::string& uri, const char* what, int max_size, Side* side) {
  ASSIGN_OR_RETURN(side->uri, mongo::ParseUri(uri, std::string("--") + what));
  ASSIGN_OR_RETURN(side->pool, mongo::NewPool(side->uri.get(), max_size));
  side->redacted = mongo::RedactUri(uri);
  side->identity = mongo::EndpointIdentity(side->uri.get(), what);
  mongo::PooledClient c(side->pool.get());
  return mongo::PingAtStart(c.get(), std::string(what) + " " + side->redacted);
}

CollPtr Collection(mongoc_client_t* c, const std::string& db, const std::string& coll) {
  return CollPtr(mongoc_client_get_collection(c, db.c_str(), coll.c_str()));
}

std::pair<std::string, std::string> SplitNs(const std::string& ns) {
  auto dot = ns.find('.');
  if (dot == std::string::npos) return {ns, ""};
  return {ns.substr(0, dot), ns.substr(dot + 1)};
}

// ---- Namespaces ----

StatusOr<std::vector<NsPair>> PlanNamespaces(const std::vector<std::string>& sources, bool complete,
                                             mongoc_client_t* tgt, const mongo::NamespaceFilter& filter,
                                             const std::vector<std::string>& maps,
                                             bool include_target_only) {
  apply::NamespaceMap map;
  for (const auto& m : maps) RETURN_IF_ERROR(map.Add(m));
  ASSIGN_OR_RETURN(auto targets, mongo::ListCollections(tgt, mongo::NamespaceFilter{}));
  std::set<std::string> target_names;
  for (const auto& t : targets) target_names.insert(t.ns());
  std::vector<NsPair> out;
  std::set<std::string> images;
  for (const auto& s : sources) {
    auto [sdb, scoll] = SplitNs(s);
    auto [db, coll] = map.Map(sdb, scoll);
    NsPair p;
    p.source = s;
    p.target = db + "." + coll;
    p.source_exists = true;
    p.target_exists = target_names.count(p.target) > 0;
    images.insert(p.target);
    out.push_back(p);
  }
  if (include_target_only && complete) {
    // A target collection is "only on the target" when some source name the filter
    // selects maps to it: itself, or the inverse of a --map spec.
    for (const auto& t : targets) {
      if (images.count(t.ns())) continue;
      std::vector<std::string> names = {t.ns()};
      for (const auto& spec : maps) {
        auto eq = spec.find('=');
        if (eq == std::string::npos) continue;
        const std::string from = spec.substr(0, eq), to = spec.substr(eq + 1);
        if (to == t.ns()) names.push_back(from);
        if (to == t.db) names.push_back(from + "." + t.coll);
      }
      for (const auto& n : names) {
        auto [db, coll] = SplitNs(n);
        if (coll.empty() || !filter.Selected(db, coll)) continue;
        auto mapped = map.Map(db, coll);
        if (mapped.first + "." + mapped.second != t.ns()) continue;
        NsPair p;
        p.source = n;
        p.target = t.ns();
        p.source_exists = false;
        p.target_exists = true;
        out.push_back(p);
        break;
      }
    }
  }
  return out;
}

StatusOr<uint64_t> CountDocs(mongoc_client_t* c, const std::string& ns) {
  auto [db, coll] = SplitNs(ns);
  CollPtr h = Collection(c, db, coll);
  BsonPtr filter(bson_new());
  bson_error_t err;
  int64_t n = mongoc_collection_count_documents(h.get(), filter.get(), nullptr, nullptr,
                                                nullptr, &err);
  if (n < 0) return mongo::FromBsonError(err, "counting " + ns);
  return static_cast<uint64_t>(n);
}

// ---- Ranges ----

StatusOr<std::vector<pb::VerifyRange>> SplitRanges(mongoc_client_t* src, const std::string& ns,
                                                   uint64_t docs_per_range, bool* mixed) {
  auto [db, coll] = SplitNs(ns);
  CollPtr h = Collection(src, db, coll);
  mongo::SplitOptions so;
  so.docs_per_range = docs_per_range;
  so.max_ranges = 0;  // bounded memory per range matters more than the number of ranges
  auto split = mongo::SplitIdRanges(h.get(), so);
  if (!split.ok()) return split.status().WithContext(ns);
  *mixed = split->mixed_id_types;
  std::vector<pb::VerifyRange> out;
  for (const auto& r : split->ranges) {
    pb::VerifyRange v;
    v.set_min_id(r.min_id);
    v.set_max_id(r.max_id);
    out.push_back(v);
  }
  if (out.size() > 1) {
    // Bounded ranges only reach _ids of the bounds' type bracket; this one reaches the
    // rest (e.g. a string _id on the target of a collection of integer _ids).
    pb::VerifyRange outside;
    outside.set_max_id(out[0].max_id());
    outside.set_outside(true);
    out.push_back(outside);
  }
  return out;
}

BsonPtr RangeFilterOf(const pb::VerifyRange& r) {
  if (!r.outside()) return mongo::RangeFilter(mongo::IdRange{r.min_id(), r.max_id()});
  // {$nor: [{_id: {$lt: pivot}}, {_id: {$gte: pivot}}]}: every _id comparable with the
  // pivot matches one of the two, so this matches exactly the others.
  BsonPtr f(bson_new());
  bson_t pivot;
  bson_iter_t it;
  if (!mongo::ViewBytes(r.max_id(), &pivot) || !bson_iter_init_find(&it, &pivot, "_id")) return f;
  bson_t nor, a, b, ida, idb;
  bson_append_array_begin(f.get(), "$nor", 4, &nor);
  bson_append_document_begin(&nor, "0", 1, &a);
  bson_append_document_begin(&a, "_id", 3, &ida);
  bson_append_iter(&ida, "$lt", 3, &it);
  bson_append_document_end(&a, &ida);
  bson_append_document_end(&nor, &a);
  bson_append_document_begin(&nor, "1", 1, &b);
  bson_append_document_begin(&b, "_id", 3, &idb);
  bson_append_iter(&idb, "$gte", 4, &it);
  bson_append_document_end(&b, &idb);
  bson_append_document_end(&nor, &b);
  bson_append_array_end(f.get(), &nor);
  return f;
}

std::string DescribeVerifyRange(const pb::VerifyRange& r) {
  if (r.outside()) return "[_ids of other types than " + IdJson(r.max_id()) + "]";
  return mongo::DescribeRange(mongo::IdRange{r.min_id(), r.max_id()});
}

namespace {

// Adds one document to cmp as its side; see ReadSource.
void AddDocument(const bson_t* doc, const std::string* problem, bool ids_only, bool strict_order, bool source,
                 RangeComparer* cmp, uint64_t* docs, const apply::TransformRule* rule,
                 const std::unordered_set<std::string>* keep) {
  BsonPtr shaped;
  if (rule != nullptr && problem == nullptr) {
    // A document the rule cannot transform was dead-lettered by apply: compared as it
    // is, it differs from the target.
    auto t = apply::TransformDocument(*rule, doc);
    if (t.ok()) {
      shaped = std::move(t).value();
      doc = shaped.get();
    }
  }
  std::string id = IdOf(doc);
  if (id.empty()) return;  // no _id: nothing to match it by (servers always add one)
  if (keep != nullptr && keep->count(apply::CanonicalKey(id)) == 0) return;
  const uint64_t hash = ids_only || problem != nullptr ? 0 : HashDocument(doc, strict_order);
  ++*docs;
  if (source) {
    cmp->AddSource(std::move(id), hash, problem != nullptr ? *problem : std::string());
  } else {
    cmp->AddTarget(id, hash);
  }
}

}  // namespace

Status ReadTarget(mongoc_client_t* c, const std::string& ns, const bson_t* filter, bool ids_only,
                  bool strict_order, RangeComparer* cmp, uint64_t* docs) {
  auto [db, coll] = SplitNs(ns);
  CollPtr h = Collection(c, db, coll);
  BsonPtr opts(ids_only ? BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}")
                        : bson_new());
  CursorPtr cur(mongoc_collection_find_with_opts(h.get(), filter, opts.get(), nullptr));
  const bson_t* doc;
  while (mongoc_cursor_next(cur.get(), &doc)) {
    AddDocument(doc, nullptr, ids_only, strict_order, false, cmp, docs, nullptr, nullptr);
  }
  bson_error_t err;
  if (mongoc_cursor_error(cur.get(), &err)) {
    return mongo::FromBsonError(err, "reading " + ns + " on the target");
  }
  return Status::OK();
}

Status ReadSource(const std::function<Status(const DocSink&)>& read, bool ids_only, bool strict_order,
                  RangeComparer* cmp, uint64_t* docs, const apply::TransformRule* rule,
                  const std::unordered_set<std::string>* keep) {
  return read([&](const SourceDocument& d) {
    AddDocument(d.doc, d.problem, ids_only, strict_order, true, cmp, docs, rule, keep);
  });
}

BsonPtr IdInFilter(const std::vector<const std::string*>& ids) {
  BsonPtr f(bson_new());
  bson_t id, in;
  bson_append_document_begin(f.get(), "_id", 3, &id);
  bson_append_array_begin(&id, "$in", 3, &in);
  int i = 0;
  for (const std::string* idb : ids) {
    bson_t b;
    bson_iter_t it;
    if (!mongo::ViewBytes(*idb, &b) || !bson_iter_init_find(&it, &b, "_id")) continue;
    const std::string key = std::to_string(i++);
    bson_append_iter(&in, key.c_str(), static_cast<int>(key.size()), &it);
  }
  bson_append_array_end(&id, &in);
  bson_append_document_end(f.get(), &id);
  return f;
}

Status ParallelFor(Side* tgt, int parallel, size_t n, const std::atomic<bool>* stop,
                   const std::function<Status(size_t, mongoc_client_t*)>& fn) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  Status first;
  std::atomic<bool> failed{false};
  auto worker = [&] {
    mongo::PooledClient t(tgt->pool.get());
    for (;;) {
      if (failed.load()) return;
      if (stop != nullptr && stop->load()) {
        std::lock_guard<std::mutex> l(mu);
        if (first.ok()) first = Status::Aborted("interrupted");
        failed = true;
        return;
      }
      const size_t i = next.fetch_add(1);
      if (i >= n) return;
      Status st = fn(i, t.get());
      if (!st.ok()) {
        std::lock_guard<std::mutex> l(mu);
        if (first.ok()) first = st;
        failed = true;
        return;
      }
    }
  };
  const int threads = static_cast<int>(std::min<size_t>(std::max(1, parallel), n));
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  return first;
}

}  // namespace internal

using namespace internal;

namespace {

// ---- State file: an append-only log of VerifyStateRecords (verify.h) ----

class StateLog {
 public:
  // Loads the records of a run with this fingerprint (none if the file is absent, belongs
  // to other flags, finished, or is damaged: then `note` says why it starts over), and
  // rewrites the file holding just those records, ready to append.
  Status Open(Env* env, const std::string& path, const std::string& fingerprint,
              std::vector<pb::VerifyStateRecord>* records, std::string* note) {
    env_ = env;
    path_ = path;
    records->clear();
    if (env->FileExists(path)) {
      Status s = Load(path, fingerprint, records, note);
      if (!s.ok()) {
        *note = "state file " + path + " is unreadable (" + s.ToString() + "); starting over";
        records->clear();
      }
    }
    std::string buf = spool::EncodePreamble(spool::kVerifyStateMagic);
    if (records->empty()) {
      pb::VerifyStateRecord h;
      h.set_fingerprint(fingerprint);
      h.set_wall_ms(NowMs());
      records->push_back(h);
    }
    for (const auto& r : *records) spool::EncodeRecord(spool::kRecordVerifyState, r.SerializeAsString(), &buf);
    RETURN_IF_ERROR_CTX(env->WriteFileAtomic(path, buf), "writing state file " + path);
    ASSIGN_OR_RETURN(file_, env->NewAppendableFile(path));
    return Status::OK();
  }

  // Appends and syncs one record. Thread safe.
  Status Append(pb::VerifyStateRecord rec) {
    std::lock_guard<std::mutex> l(mu_);
    if (!file_) return Status::OK();
    rec.set_wall_ms(NowMs());
    std::string buf;
    spool::EncodeRecord(spool::kRecordVerifyState, rec.SerializeAsString(), &buf);
    RETURN_IF_ERROR_CTX(file_->Append(buf), "appending to state file " + path_);
    RETURN_IF_ERROR_CTX(file_->Sync(), "syncing state file " + path_);
    return Status::OK();
  }

 private:
  Status Load(const std::string& path, const std::string& fingerprint,
              std::vector<pb::VerifyStateRecord>* records, std::string* note) {
    ASSIGN_OR_RETURN(auto file, env_->NewRandomAccessFile(path));
    ASSIGN_OR_RETURN(uint64_t size, file->Size());
    spool::RecordScanner scanner(file.get(), size);
    RETURN_IF_ERROR(scanner.ReadPreamble(spool::kVerifyStateMagic));
    spool::Record rec;
    Status s;
    while ((s = scanner.Next(&rec)).ok()) {
      pb::VerifyStateRecord r;
      if (rec.type != spool::kRecordVerifyState || !r.ParseFromString(rec.payload)) {
        return spool::CorruptionAt(path, rec.offset, "not a verify state record");
      }
      records->push_back(std::move(r));
    }
    if (!s.IsEndOfFile()) return s;  // a torn tail (killed mid-append) just ends the log
    if (records->empty() || records->front().fingerprint() != fingerprint) {
      *note = "state file " + path + " is for another run (other endpoints, filters or options); starting over";
      records->clear();
    } else if (records->back().entry_case() == pb::VerifyStateRecord::kFinished) {
      *note = "state file " + path + " holds a finished run; starting a new one";
      records->clear();
    }
    return Status::OK();
  }

  Env* env_ = nullptr;
  std::string path_;
  std::mutex mu_;
  std::unique_ptr<WritableFile> file_;
};

std::string Fingerprint(const VerifyOptions& o, const VerifySource& src, const Side& tgt,
                        const std::string& transforms_text) {
  std::ostringstream f;
  f << "v1|" << src.Identity() << "|" << tgt.identity << "|inc=";
  for (const auto& g : o.filter.include) f << g << ",";
  f << "|exc=";
  for (const auto& g : o.filter.exclude) f << g << ",";
  f << "|map=";
  for (const auto& m : o.maps) f << m << ",";
  f << "|dpr=" << o.docs_per_range << "|counts_only=" << o.counts_only
    << "|strict=" << o.strict_order;
  if (!o.transforms_file.empty()) f << "|tf=" << o.transforms_file << "=" << std::hash<std::string>()(transforms_text);
  return f.str();
}

// ---- Spool: how far capture has written, how far apply has applied ----

StatusOr<uint64_t> SpoolEndSeq(Env* env, const std::string& dir) {
  Status last_error;
  for (int attempt = 0; attempt < 3; ++attempt) {  // the open segment may be sealed meanwhile
    spool::SpoolView view;
    RETURN_IF_ERROR(spool::OpenSpoolView(env, dir, &view));
    uint64_t end = view.manifest.next_seq_after_sealed() - 1;
    Status s;
    for (const auto& seg : view.segments) {
      if (seg.sealed) continue;
      auto r = spool::SegmentReader::Open(env, seg.path);
      if (!r.ok()) {
        s = r.status();
        break;
      }
      pb::ChangeBatch b;
      Status n;
      while ((n = r.value()->Next(&b)).ok()) {
      }
      if (!n.IsEndOfFile()) {
        s = n;
        break;
      }
      const auto& st = r.value()->stats();
      if (st.event_count > 0) end = std::max(end, st.next_seq - 1);
    }
    if (s.ok()) return end;
    last_error = s;
  }
  return last_error.WithContext("reading the spool's end");
}

// Waits until every apply checkpoint in the spool has reached `seq`. Returns whether it
// did within the timeout; *applied is the lowest checkpoint seen last.
StatusOr<bool> WaitForApply(Env* env, const std::string& dir,
                            const std::function<Status(uint64_t*, uint64_t*, bool*)>& positions, uint64_t seq,
                            int64_t timeout_ms,
                            const std::atomic<bool>* stop, uint64_t* applied,
                            const std::function<void(const std::string&)>& progress) {
  const int64_t deadline = NowMs() + timeout_ms;
  int64_t next_note = NowMs() + 10'000;
  for (;;) {
    bool any = false;
    uint64_t low = UINT64_MAX;
    if (positions) {
      uint64_t end = 0;
      RETURN_IF_ERROR(positions(&end, &low, &any));
    } else {
      ASSIGN_OR_RETURN(auto ckpts, spool::ListCheckpoints(env, dir));
      any = !ckpts.empty();
      for (const auto& c : ckpts) low = std::min<uint64_t>(low, c.ckpt.applied_seq());
    }
    if (!any) {
      *applied = 0;
    } else {
      *applied = low;
      if (low >= seq) return true;
    }
    const int64_t now = NowMs();
    if (now >= deadline) return false;
    if (stop != nullptr && stop->load()) return Status::Aborted("interrupted");
    if (progress && now >= next_note) {
      progress("waiting for apply to reach spool seq " + std::to_string(seq) + " (at " +
               std::to_string(*applied) + ")");
      next_note = now + 10'000;
    }
    // Polling a file another process replaces atomically; the deadline bounds it.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void SleepUnlessStopped(int64_t ms, const std::atomic<bool>* stop) {
  const int64_t until = NowMs() + ms;
  while (NowMs() < until && !(stop != nullptr && stop->load())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(100, until - NowMs() + 1)));
  }
}

// Reads the given candidates again by _id from both sides; returns those still different.
// With a transform rule that makes _id, the source's _ids are not the target's, and a
// source that cannot look documents up by _id (DynamoDB) reads the namespace whole
// anyway: then the source is read once, whole, and only the candidates' (transformed)
// _ids kept.
StatusOr<std::vector<Candidate>> RecheckIds(VerifySource* src, mongoc_client_t* t,
                                            const std::string& source_ns,
                                            const std::string& target_ns,
                                            const std::vector<Candidate>& cands, bool strict,
                                            const apply::TransformRule* rule) {
  std::vector<Candidate> out;
  constexpr size_t kChunk = 256;
  const bool sets_id = rule != nullptr && rule->sets_id();
  const bool whole = sets_id || !src->ReadsByIdRange();
  const size_t chunk = whole ? cands.size() : kChunk;  // one read of the source
  for (size_t i = 0; i < cands.size(); i += chunk) {
    std::vector<const std::string*> ids;
    std::unordered_set<std::string> keep;
    for (size_t j = i; j < std::min(cands.size(), i + chunk); ++j) {
      ids.push_back(&cands[j].id);
      keep.insert(apply::CanonicalKey(cands[j].id));
    }
    BsonPtr f = IdInFilter(ids);
    RangeComparer cmp;
    uint64_t n = 0;
    const pb::VerifyRange all;
    RETURN_IF_ERROR(ReadSource(
        [&](const DocSink& sink) {
          return sets_id ? src->ReadRange(source_ns, all, false, sink) : src->ReadIds(source_ns, ids, false, sink);
        },
        false, strict, &cmp, &n, rule, &keep));
    RETURN_IF_ERROR(ReadTarget(t, target_ns, f.get(), false, strict, &cmp, &n));
    for (auto& c : cmp.Finish()) out.push_back(std::move(c));
  }
  return out;
}

struct CollWork {
  NsPair ns;
  bool planned = false;
  pb::VerifyCollectionPlan plan;
  std::vector<bool> done;
  std::vector<std::vector<Candidate>> found;  // per range, first pass
  size_t ranges_done = 0;
  uint64_t src_docs = 0, tgt_docs = 0;
  std::vector<Candidate> persisting;
};

std::string Plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

bool CollectionResult::ok() const {
  if (!source_exists || !target_exists) return false;
  return differences.empty() && (ranges > 0 || source_count == target_count);
}

StatusOr<VerifyResult> RunVerify(const VerifyOptions& opts) {
  auto note = [&](const std::string& line) {
    if (opts.progress) opts.progress(line);
  };
  VerifyResult result;
  result.started_wall_ms = NowMs();
  result.counts_only = opts.counts_only;
  {
    apply::NamespaceMap check;
    for (const auto& m : opts.maps) RETURN_IF_ERROR(check.Add(m));
  }
  std::optional<apply::Transforms> transforms;
  if (!opts.transforms_file.empty()) {
    ASSIGN_OR_RETURN(transforms, apply::Transforms::Load(opts.transforms_file));
  }
  // The rule for a source namespace, or null.
  auto rule_for = [&](const std::string& source_ns) -> const apply::TransformRule* {
    if (!transforms) return nullptr;
    auto [db, coll] = SplitNs(source_ns);
    return transforms->RuleFor(db, coll);
  };
  Side tgt;
  const int parallel = std::max(1, opts.parallel);
  LoadLimit limit(opts.max_docs_per_s, opts.max_mb_per_s * 1e6);  // outlives src, which may use it
  ASSIGN_OR_RETURN(std::unique_ptr<VerifySource> src, OpenVerifySource(opts.source_uri, parallel, opts.stop,
                                                                                 opts.dynamodb_numbers));
  if (limit.limited()) src = std::make_unique<LimitedSource>(std::move(src), &limit, opts.stop);
  RETURN_IF_ERROR(Connect(opts.target_uri, "target", parallel + 1, &tgt));
  Env* env = Env::Default();

  std::vector<NsPair> pairs;
  {
    bool complete = true;
    ASSIGN_OR_RETURN(auto names, src->ListNamespaces(opts.filter, &complete));
    mongo::PooledClient t(tgt.pool.get());
    ASSIGN_OR_RETURN(pairs, PlanNamespaces(names, complete, t.get(), opts.filter, opts.maps, true));
  }
  note("comparing " + Plural(pairs.size(), "collection", "collections") + " of " +
       src->Redacted() + " with " + tgt.redacted);

  // Resume.
  StateLog state;
  std::vector<pb::VerifyStateRecord> records;
  if (!opts.state_path.empty()) {
    std::string why;
    RETURN_IF_ERROR(state.Open(env, opts.state_path, Fingerprint(opts, *src, tgt, transforms ? transforms->text() : std::string()), &records, &why));
    if (!why.empty()) note(why);
  }
  std::vector<CollWork> work(pairs.size());
  std::map<std::string, size_t> by_source;
  for (size_t i = 0; i < pairs.size(); ++i) {
    work[i].ns = pairs[i];
    by_source[pairs[i].source] = i;
  }
  bool pass_done = false;
  size_t resumed_ranges = 0;
  for (const auto& r : records) {
    if (r.has_plan()) {
      auto it = by_source.find(r.plan().source_ns());
      if (it == by_source.end()) {  // gone from the listing since: keep its plan anyway
        NsPair p{r.plan().source_ns(), r.plan().target_ns(), r.plan().source_exists(),
                 r.plan().target_exists()};
        work.push_back(CollWork{});
        work.back().ns = p;
        it = by_source.emplace(p.source, work.size() - 1).first;
      }
      CollWork& w = work[it->second];
      w.planned = true;
      w.plan = r.plan();
      w.done.assign(w.plan.ranges_size(), false);
      w.found.assign(w.plan.ranges_size(), {});
    } else if (r.has_range_done()) {
      auto it = by_source.find(r.range_done().source_ns());
      if (it == by_source.end()) continue;
      CollWork& w = work[it->second];
      const uint32_t i = r.range_done().range_index();
      if (!w.planned || i >= w.done.size() || w.done[i]) continue;
      w.done[i] = true;
      ++w.ranges_done;
      ++resumed_ranges;
      w.src_docs += r.range_done().source_docs();
      w.tgt_docs += r.range_done().target_docs();
      for (const auto& c : r.range_done().candidates()) {
        w.found[i].push_back(Candidate{static_cast<DiffKind>(c.kind()), c.id(), ""});
      }
    } else if (r.entry_case() == pb::VerifyStateRecord::kPassDone) {
      pass_done = true;
    }
  }
  size_t planned_before = 0;
  for (const auto& w : work) planned_before += w.planned;
  if (planned_before > 0) {
    result.resumed = true;
    note("resuming from " + opts.state_path + ": " + Plural(planned_before, "collection", "collections") +
         " planned, " + Plural(resumed_ranges, "range", "ranges") + " already compared" +
         (pass_done ? ", first pass complete" : ""));
  }

  std::mutex mu;
  // Phase 1: counts and range plans, in parallel.
  if (!pass_done) {
    std::vector<size_t> todo;
    for (size_t i = 0; i < work.size(); ++i)
      if (!work[i].planned) todo.push_back(i);
    RETURN_IF_ERROR(ParallelFor(&tgt, parallel, todo.size(), opts.stop,
                                [&](size_t k, mongoc_client_t* t) -> Status {
      CollWork& w = work[todo[k]];
      pb::VerifyCollectionPlan p;
      p.set_source_ns(w.ns.source);
      p.set_target_ns(w.ns.target);
      p.set_source_exists(w.ns.source_exists);
      p.set_target_exists(w.ns.target_exists);
      // A source read whole is counted by the comparison's read, not twice.
      const bool count_by_reading = !src->ReadsByIdRange() && !opts.counts_only && w.ns.target_exists;
      if (w.ns.source_exists && !count_by_reading) {
        ASSIGN_OR_RETURN(uint64_t n, src->Count(w.ns.source));
        p.set_source_count(n);
      }
      if (w.ns.target_exists) {
        ASSIGN_OR_RETURN(uint64_t n, CountDocs(t, w.ns.target));
        p.set_target_count(n);
      }
      const apply::TransformRule* rule = rule_for(w.ns.source);
      const bool sets_id = rule != nullptr && rule->sets_id();
      const bool one_range = sets_id || !src->ReadsByIdRange();
      if (one_range && !opts.counts_only && w.ns.source_exists && w.ns.target_exists) {
        // The whole collection: a rule makes _id (no _id range fits both sides), or the
        // source cannot be read by _id range.
        p.add_ranges();
      } else if (!opts.counts_only && w.ns.source_exists && w.ns.target_exists) {
        bool mixed = false;
        ASSIGN_OR_RETURN(auto ranges, src->SplitRanges(w.ns.source, opts.docs_per_range, &mixed));
        p.set_mixed_id_types(mixed);
        for (auto& r : ranges) *p.add_ranges() = std::move(r);
      }
      pb::VerifyStateRecord rec;
      *rec.mutable_plan() = p;
      RETURN_IF_ERROR(state.Append(rec));
      std::string line = w.ns.source + (w.ns.target != w.ns.source ? " -> " + w.ns.target : "") + ": ";
      if (!w.ns.target_exists) {
        line += "MISSING on the target (" + Plural(p.source_count(), "document", "documents") + " on the source)";
      } else if (!w.ns.source_exists) {
        line += "only on the target (" + Plural(p.target_count(), "document", "documents") + ")";
      } else {
        const int64_t d = static_cast<int64_t>(p.target_count()) - static_cast<int64_t>(p.source_count());
        if (count_by_reading) {
          line += "target count " + std::to_string(p.target_count()) + " (the source is counted as it is read)";
        } else {
          line += "counts " + std::to_string(p.source_count()) + " / " + std::to_string(p.target_count()) +
                  " (delta " + (d > 0 ? "+" : "") + std::to_string(d) + ")";
        }
        if (!opts.counts_only) {
          line += ", " + Plural(p.ranges_size(), "range", "ranges");
          if (p.mixed_id_types()) line += " (mixed _id types: one range)";
          if (sets_id) {
            line += " (" + rule->Name() + " makes _id: one range)";
          } else if (one_range) {
            line += " (read whole: the source has no _id ranges)";
          }
        }
      }
      std::lock_guard<std::mutex> l(mu);
      w.plan = std::move(p);
      w.planned = true;
      w.done.assign(w.plan.ranges_size(), false);
      w.found.assign(w.plan.ranges_size(), {});
      note(line);
      return Status::OK();
    }).WithContext("planning"));
  }

  // Phase 2: compare ranges, in parallel across collections.
  if (!pass_done) {
    std::vector<std::pair<size_t, int>> todo;
    size_t total_ranges = 0;
    for (size_t i = 0; i < work.size(); ++i) {
      total_ranges += work[i].done.size();
      for (size_t r = 0; r < work[i].done.size(); ++r)
        if (!work[i].done[r]) todo.emplace_back(i, static_cast<int>(r));
    }
    // Interleave collections so that one large collection does not hold all workers
    // while the others wait: round-robin by range index.
    std::stable_sort(todo.begin(), todo.end(),
                     [](const auto& a, const auto& b) { return a.second < b.second; });
    size_t ranges_done = total_ranges - todo.size();
    int64_t next_progress = NowMs() + 10'000;
    uint64_t found_total = 0;
    Status s = ParallelFor(&tgt, parallel, todo.size(), opts.stop,
                           [&](size_t k, mongoc_client_t* tc) -> Status {
      CollWork& w = work[todo[k].first];
      const int ri = todo[k].second;
      const pb::VerifyRange& range = w.plan.ranges(ri);
      BsonPtr f = RangeFilterOf(range);
      RangeComparer cmp;
      uint64_t sd = 0, td = 0;
      Status st = ReadSource(
          [&](const DocSink& sink) { return src->ReadRange(w.ns.source, range, false, sink); }, false,
          opts.strict_order, &cmp, &sd, rule_for(w.ns.source));
      if (st.ok()) st = ReadTarget(tc, w.ns.target, f.get(), false, opts.strict_order, &cmp, &td);
      if (!st.ok()) return st.WithContext("range " + DescribeVerifyRange(range));
      std::vector<Candidate> found = cmp.Finish();
      pb::VerifyStateRecord rec;
      auto* rd = rec.mutable_range_done();
      rd->set_source_ns(w.ns.source);
      rd->set_range_index(ri);
      rd->set_source_docs(sd);
      rd->set_target_docs(td);
      for (const auto& c : found) {
        auto* pc = rd->add_candidates();
        pc->set_kind(static_cast<int>(c.kind));
        pc->set_id(c.id);
      }
      RETURN_IF_ERROR(state.Append(std::move(rec)));
      std::lock_guard<std::mutex> l(mu);
      found_total += found.size();
      w.found[ri] = std::move(found);
      w.done[ri] = true;
      ++w.ranges_done;
      w.src_docs += sd;
      w.tgt_docs += td;
      ++ranges_done;
      if (w.ranges_done == w.done.size()) {
        uint64_t n = 0;
        for (const auto& v : w.found) n += v.size();
        note(w.ns.source + ": " + std::to_string(w.ranges_done) + "/" + std::to_string(w.done.size()) +
             " ranges compared (" + std::to_string(w.src_docs) + " / " + std::to_string(w.tgt_docs) +
             " documents), " + Plural(n, "difference", "differences") +
             (n ? " to re-check" : ""));
      } else if (NowMs() >= next_progress) {
        next_progress = NowMs() + 10'000;
        note(std::to_string(ranges_done) + "/" + std::to_string(total_ranges) +
             " ranges compared, " + Plural(found_total, "difference", "differences") + " so far");
      }
      return Status::OK();
    });
    if (s.IsAborted() && !opts.state_path.empty()) {
      return Status::Aborted("interrupted; progress is saved in " + opts.state_path +
                             ": run again with the same flags to continue");
    }
    RETURN_IF_ERROR(s);
    pb::VerifyStateRecord rec;
    rec.set_pass_done(true);
    RETURN_IF_ERROR(state.Append(rec));
  }

  // Re-check rounds.
  for (auto& w : work) {
    for (auto& v : w.found)
      for (auto& c : v) w.persisting.push_back(c);
    result.first_pass_differences += w.persisting.size();
  }
  uint64_t remaining = result.first_pass_differences;
  for (int round = 1; round <= opts.recheck_rounds && remaining > 0; ++round) {
    if (!opts.spool_dir.empty() || opts.spool_positions) {
      uint64_t end = 0;
      if (opts.spool_positions) {
        uint64_t low = 0;
        bool any = false;
        RETURN_IF_ERROR(opts.spool_positions(&end, &low, &any));
      } else {
        ASSIGN_OR_RETURN(end, SpoolEndSeq(env, opts.spool_dir));
      }
      result.waited_for_seq = end;
      uint64_t applied = 0;
      ASSIGN_OR_RETURN(bool reached, WaitForApply(env, opts.spool_dir, opts.spool_positions, end, opts.recheck_timeout_ms,
                                                  opts.stop, &applied, opts.progress));
      if (!reached) {
        result.apply_caught_up = false;
        note("apply did not reach spool seq " + std::to_string(end) + " within the re-check timeout (" +
             (applied ? "at " + std::to_string(applied) : std::string("no apply checkpoint in the spool")) +
             "); re-checking anyway, so lag may show as differences");
      }
    } else {
      SleepUnlessStopped(opts.recheck_delay_ms, opts.stop);
    }
    if (opts.stop != nullptr && opts.stop->load()) return Status::Aborted("interrupted");
    note("re-check round " + std::to_string(round) + "/" + std::to_string(opts.recheck_rounds) + ": " +
         Plural(remaining, "difference", "differences"));
    std::vector<size_t> todo;
    for (size_t i = 0; i < work.size(); ++i)
      if (!work[i].persisting.empty()) todo.push_back(i);
    RETURN_IF_ERROR(ParallelFor(&tgt, parallel, todo.size(), opts.stop,
                                [&](size_t k, mongoc_client_t* t) -> Status {
      CollWork& w = work[todo[k]];
      ASSIGN_OR_RETURN(auto still, RecheckIds(src.get(), t, w.ns.source, w.ns.target, w.persisting,
                                              opts.strict_order, rule_for(w.ns.source)));
      std::lock_guard<std::mutex> l(mu);
      w.persisting = std::move(still);
      return Status::OK();
    }));
    remaining = 0;
    for (const auto& w : work) remaining += w.persisting.size();
    result.recheck_rounds_run = round;
  }

  // Result.
  result.identical = true;
  for (auto& w : work) {
    CollectionResult c;
    c.source_ns = w.ns.source;
    c.target_ns = w.ns.target;
    c.source_exists = w.plan.source_exists();
    c.target_exists = w.plan.target_exists();
    c.source_count = w.plan.source_count();
    if (!src->ReadsByIdRange() && !opts.counts_only && c.source_exists && c.target_exists) {
      c.source_count = w.src_docs;  // counted by the comparison's read
    }
    c.target_count = w.plan.target_count();
    c.mixed_id_types = w.plan.mixed_id_types();
    c.ranges = w.plan.ranges_size();
    c.source_docs_read = w.src_docs;
    c.target_docs_read = w.tgt_docs;
    for (const auto& v : w.found) c.first_pass_differences += v.size();
    std::stable_sort(w.persisting.begin(), w.persisting.end(),
                     [](const Candidate& a, const Candidate& b) { return a.kind < b.kind; });
    for (auto& p : w.persisting) {
      switch (p.kind) {
        case DiffKind::kMissing: ++c.missing; break;
        case DiffKind::kExtra: ++c.extra; break;
        case DiffKind::kChanged: ++c.changed; break;
      }
      c.differences.push_back(Difference{p.kind, p.id, IdJson(p.id), p.problem});
    }
    result.differences += c.differences.size();
    if (!c.ok()) result.identical = false;
    result.collections.push_back(std::move(c));
  }
  std::sort(result.collections.begin(), result.collections.end(),
            [](const CollectionResult& a, const CollectionResult& b) { return a.source_ns < b.source_ns; });
  result.finished_wall_ms = NowMs();
  if (!opts.report_path.empty()) {
    RETURN_IF_ERROR_CTX(env->WriteFileAtomic(opts.report_path, ReportJson(opts, result)),
                        "writing the report " + opts.report_path);
  }
  pb::VerifyStateRecord fin;
  fin.set_finished(true);
  RETURN_IF_ERROR(state.Append(fin));
  if (limit.limited()) result.load = limit.Describe("docs");
  return result;
}

// ---- Report ----


std::string ReportJson(const VerifyOptions& o, const VerifyResult& r) {
  std::ostringstream j;
  j << "{\n  \"identical\": " << (r.identical ? "true" : "false")
    << ",\n  \"source\": " << JsonString(mongo::RedactUri(o.source_uri))
    << ",\n  \"target\": " << JsonString(mongo::RedactUri(o.target_uri))
    << ",\n  \"counts_only\": " << (r.counts_only ? "true" : "false")
    << ",\n  \"started_wall_ms\": " << r.started_wall_ms
    << ",\n  \"finished_wall_ms\": " << r.finished_wall_ms
    << ",\n  \"resumed\": " << (r.resumed ? "true" : "false")
    << ",\n  \"differences\": " << r.differences
    << ",\n  \"first_pass_differences\": " << r.first_pass_differences
    << ",\n  \"recheck\": {\"rounds_run\": " << r.recheck_rounds_run
    << ", \"rounds\": " << o.recheck_rounds << ", \"spool\": " << JsonString(o.spool_dir)
    << ", \"waited_for_seq\": " << r.waited_for_seq
    << ", \"apply_caught_up\": " << (r.apply_caught_up ? "true" : "false") << "}"
    << ",\n  \"collections\": [";
  for (size_t i = 0; i < r.collections.size(); ++i) {
    const auto& c = r.collections[i];
    j << (i ? "," : "") << "\n    {\"source_ns\": " << JsonString(c.source_ns)
      << ", \"target_ns\": " << JsonString(c.target_ns)
      << ", \"ok\": " << (c.ok() ? "true" : "false")
      << ", \"source_exists\": " << (c.source_exists ? "true" : "false")
      << ", \"target_exists\": " << (c.target_exists ? "true" : "false")
      << ", \"source_count\": " << c.source_count << ", \"target_count\": " << c.target_count
      << ", \"delta\": " << c.delta() << ", \"ranges\": " << c.ranges
      << ", \"mixed_id_types\": " << (c.mixed_id_types ? "true" : "false")
      << ", \"first_pass_differences\": " << c.first_pass_differences
      << ", \"missing\": " << c.missing << ", \"extra\": " << c.extra
      << ", \"changed\": " << c.changed << ",\n     \"differences\": [";
    for (size_t k = 0; k < c.differences.size(); ++k) {
      const auto& d = c.differences[k];
      j << (k ? ",\n       " : "\n       ") << "{\"kind\": \"" << DiffKindName(d.kind)
        << "\", \"_id\": " << d.id_json;
      if (!d.problem.empty()) j << ", \"problem\": " << JsonString(d.problem);
      j << "}";
    }
    j << (c.differences.empty() ? "]}" : "\n     ]}");
  }
  j << "\n  ]\n}\n";
  return j.str();
}

}  // namespace docshift::verify
