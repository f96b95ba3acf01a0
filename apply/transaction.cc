#include "apply/transaction.h"

#include <glog/logging.h>

#include "apply/translate.h"
#include "mongo/errors.h"
#include "mongo/mongo_util.h"
#include "util/backoff.h"

namespace docshift::apply {
namespace {

using mongo::BsonPtr;

struct SessionDeleter {
  void operator()(mongoc_client_session_t* s) const { mongoc_client_session_destroy(s); }
};
using SessionPtr = std::unique_ptr<mongoc_client_session_t, SessionDeleter>;

// What the with_transaction callback needs, and what it reports back.
struct TxnRun {
  const std::vector<TxnItem>* items;
  std::vector<DocWrite> writes;
  size_t failed_at = SIZE_MAX;  // index of the write the server refused
};

// One write of the group inside the session's transaction.
bool WriteOne(mongoc_client_session_t* session, const TxnItem& item, const DocWrite& w,
              bson_error_t* err) {
  mongoc_client_t* client = mongoc_client_session_get_client(session);
  mongo::CollPtr coll(mongoc_client_get_collection(client, item.db.c_str(), item.coll.c_str()));
  BsonPtr opts(bson_new());
  if (!mongoc_client_session_append(session, opts.get(), err)) return false;
  switch (w.kind) {
    case DocWrite::Kind::kReplace:
      BSON_APPEND_BOOL(opts.get(), "upsert", true);
      return mongoc_collection_replace_one(coll.get(), w.filter.get(), w.doc.get(), opts.get(), nullptr, err);
    case DocWrite::Kind::kUpdate:
      for (const auto& p : w.pre_updates) {
        if (!mongoc_collection_update_one(coll.get(), w.filter.get(), p.get(), opts.get(), nullptr, err)) return false;
      }
      return mongoc_collection_update_one(coll.get(), w.filter.get(), w.doc.get(), opts.get(), nullptr, err);
    case DocWrite::Kind::kDelete:
      return mongoc_collection_delete_one(coll.get(), w.filter.get(), opts.get(), nullptr, err);
  }
  return false;
}

bool RunGroup(mongoc_client_session_t* session, void* ctx, bson_t** /*reply*/, bson_error_t* err) {
  auto* run = static_cast<TxnRun*>(ctx);
  for (size_t i = 0; i < run->writes.size(); ++i) {
    if (!WriteOne(session, (*run->items)[i], run->writes[i], err)) {
      run->failed_at = i;
      return false;
    }
  }
  run->failed_at = SIZE_MAX;
  return true;
}

}  // namespace

TxnId TxnIdOf(const pb::ChangeEvent& e) { return TxnId{e.lsid(), e.txn_number()}; }

TxnGrouper::Step TxnGrouper::Next(const pb::ChangeEvent& e) {
  Step step;
  const TxnId id = TxnIdOf(e);
  const bool joins = IsDocumentOp(e.op()) && id.in_txn();
  if (open_ && !(joins && id == id_)) {
    step.flush_before = true;
    open_ = false;
  }
  if (joins) {
    step.join = true;
    if (!open_) {
      open_ = true;
      id_ = id;
    }
  }
  return step;
}

Status ProbeTransactions(mongoc_client_t* client, const std::string& what) {
  const std::string fix = "; apply each event on its own with --transactions=per_event (the default)";
  bson_error_t err;
  SessionPtr session(mongoc_client_start_session(client, nullptr, &err));
  if (!session) {
    return Status::FailedPrecondition("--transactions=atomic: " + what +
                                      " has no sessions, so no transactions (" + err.message + ")" + fix);
  }
  if (!mongoc_client_session_start_transaction(session.get(), nullptr, &err)) {
    return Status::FailedPrecondition("--transactions=atomic: " + what + " cannot start a transaction (" +
                                      err.message + ")" + fix);
  }
  // A write inside the transaction (a delete that matches nothing, in a collection nobody
  // has): the first command carries startTransaction, which is where a server without
  // transactions says so. A read is not enough: FerretDB v1.24 ignores startTransaction on
  // find but refuses it on every write.
  mongo::CollPtr coll(mongoc_client_get_collection(client, "docshift", "transaction_probe"));
  mongo::BsonPtr opts(bson_new());
  mongo::BsonPtr filter(BCON_NEW("_id", BCON_UTF8("docshift transaction probe")));
  bool ok = mongoc_client_session_append(session.get(), opts.get(), &err) &&
            mongoc_collection_delete_one(coll.get(), filter.get(), opts.get(), nullptr, &err);
  bson_error_t abort_err;
  mongoc_client_session_abort_transaction(session.get(), &abort_err);
  if (!ok) {
    return Status::FailedPrecondition("--transactions=atomic: " + what + " refused a transaction (" +
                                      err.message + ", code " + std::to_string(err.code) + ")" + fix);
  }
  return Status::OK();
}

StatusOr<TxnOutcome> ApplyTransaction(mongoc_client_t* client, const std::vector<TxnItem>& items,
                                      const std::atomic<bool>* stop) {
  TxnOutcome out;
  TxnRun run;
  run.items = &items;
  run.writes.resize(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    Status t = Translate(*items[i].ev, &run.writes[i]);
    if (!t.ok()) {
      // Atomic: a transaction with an event that cannot be written is not written at all.
      out.refused = true;
      out.refused_seq = items[i].seq;
      out.message = t.message();
      return out;
    }
  }
  for (int attempt = 0;; ++attempt) {
    bson_error_t err{};
    SessionPtr session(mongoc_client_start_session(client, nullptr, &err));
    bool ok = false;
    if (session) {
      bson_t reply;
      ok = mongoc_client_session_with_transaction(session.get(), &RunGroup, nullptr, &run, &reply, &err);
      bson_destroy(&reply);
    }
    out.attempts = attempt + 1;
    if (ok) return out;
    if (!mongo::IsTransient(err)) {
      out.refused = true;
      out.code = static_cast<int>(err.code);
      if (run.failed_at < items.size()) {
        out.refused_seq = items[run.failed_at].seq;
        out.message = "seq " + std::to_string(out.refused_seq) + " (" + items[run.failed_at].db + "." +
                      items[run.failed_at].coll + "): " + err.message;
      } else {
        out.message = std::string("the commit: ") + err.message;
      }
      return out;
    }
    if (attempt == 0) {
      LOG(WARNING) << "apply: transient error in the transaction of seq " << items.front().seq << ".."
                   << items.back().seq << ": " << err.message << "; retrying with backoff";
    }
    // The target's push-back: after the retry-after it gives (mongo/errors.h), else backoff.
    if (SleepUnlessStopped(mongo::RetryDelayMs(mongo::FindPushBack(err, nullptr), attempt), stop)) {
      return Status::Aborted("stopped while retrying a transaction");
    }
  }
}

}  // namespace docshift::apply
