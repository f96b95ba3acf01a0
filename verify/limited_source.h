// Load control for verify and reconcile (issue #14: --max_docs_per_s, --max_mb_per_s): a
// VerifySource that hands each source document to its sink only once the process's
// LoadLimit covers it (one document, its BSON bytes). Every range worker reads through
// the one source, so the limit holds for the whole process. Only the source is counted:
// the target is read range by range beside it, so its pace follows.
//
// Thread safety: as VerifySource; the LoadLimit is thread-safe. The limit and *stop must
// outlive the source.
#pragma once

#include <atomic>
#include <memory>

#include "util/load_limit.h"
#include "verify/source.h"

namespace docshift::verify {

class LimitedSource : public VerifySource {
 public:
  LimitedSource(std::unique_ptr<VerifySource> inner, LoadLimit* limit, const std::atomic<bool>* stop)
      : inner_(std::move(inner)), limit_(limit), stop_(stop) {}

  const std::string& Redacted() const override { return inner_->Redacted(); }
  const std::string& Identity() const override { return inner_->Identity(); }
  StatusOr<std::vector<std::string>> ListNamespaces(const mongo::NamespaceFilter& filter, bool* complete) override {
    return inner_->ListNamespaces(filter, complete);
  }
  StatusOr<uint64_t> Count(const std::string& ns) override { return inner_->Count(ns); }
  bool ReadsByIdRange() const override { return inner_->ReadsByIdRange(); }
  StatusOr<std::vector<pb::VerifyRange>> SplitRanges(const std::string& ns, uint64_t docs_per_range,
                                                     bool* mixed) override {
    return inner_->SplitRanges(ns, docs_per_range, mixed);
  }
  Status ReadRange(const std::string& ns, const pb::VerifyRange& r, bool ids_only, const DocSink& sink) override {
    return inner_->ReadRange(ns, r, ids_only, Paced(sink));
  }
  Status ReadIds(const std::string& ns, const std::vector<const std::string*>& ids, bool ids_only,
                 const DocSink& sink) override {
    return inner_->ReadIds(ns, ids, ids_only, Paced(sink));
  }

 private:
  // A stop cuts the wait short; the reader's own stop check ends the read.
  DocSink Paced(const DocSink& sink) {
    return [this, &sink](const SourceDocument& d) {
      (void)limit_->Take(1, d.doc != nullptr ? static_cast<double>(d.doc->len) : 0, stop_);
      sink(d);
    };
  }

  std::unique_ptr<VerifySource> inner_;
  LoadLimit* limit_;
  const std::atomic<bool>* stop_;
};

}  // namespace docshift::verify
