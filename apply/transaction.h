// apply --transactions=atomic: each source transaction applied as one target transaction.
//
// A source transaction's events carry its identity (lsid and txnNumber, ChangeEvent fields
// 10 and 11). They are consecutive in the spool when the source reports a transaction as
// one unit: one applyOps oplog entry, or a deployment or database change stream (every
// event of a transaction is emitted together, in order). Per-collection change streams
// (Cosmos DB mode, the fallback path) report each collection's part of a transaction on
// its own stream, so such a transaction may reach the spool in pieces: each piece is then
// applied atomically on its own (README, "Transactions").
//
// The grouper is pure code: it decides, event by event, where a group ends. A group ends
// at the first later event that is not a document write of the same transaction, or at a
// batch that carries no events (the source moved its position past the transaction: all
// of it is in the spool). While the spool ends inside a group, the group waits: the rest
// of the transaction may still be on its way. ApplyTransaction runs one group on the
// target in one transaction (libmongoc's with_transaction retries transient transaction
// errors and unknown commit results; every write is idempotent, so a retry is harmless).
#pragma once

#include <mongoc/mongoc.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "proto/spool.pb.h"
#include "util/status.h"

namespace docshift::apply {

struct TxnId {
  std::string lsid;  // BSON bytes of the session id
  int64_t number = 0;
  bool in_txn() const { return number != 0 || !lsid.empty(); }
  bool operator==(const TxnId& o) const { return number == o.number && lsid == o.lsid; }
};

TxnId TxnIdOf(const pb::ChangeEvent& e);

class TxnGrouper {
 public:
  struct Step {
    bool flush_before = false;  // apply the open group before handling this event
    bool join = false;          // this event joins (or opens) the group; else it goes alone
  };
  // For the next event in sequence order.
  Step Next(const pb::ChangeEvent& e);
  // A batch with no events: true when an open group is now complete (apply it); the
  // grouper then has no open group.
  bool EmptyBatch() { return End(); }
  // The open group ends here (an event the applier handles without the grouper, such as
  // one it dead-letters outright): true when one was open (apply it first).
  bool End() {
    const bool was_open = open_;
    open_ = false;
    return was_open;
  }
  bool open() const { return open_; }

 private:
  bool open_ = false;
  TxnId id_;
};

// One event of a group, with its target namespace (after --map).
struct TxnItem {
  uint64_t seq = 0;
  const pb::ChangeEvent* ev = nullptr;
  std::string db, coll;
};

// Whether the target can run multi-document transactions: starts a session and runs a
// read inside a transaction (then aborts it). FailedPrecondition naming the target and
// the server's answer when it cannot (no sessions, a standalone, a server that does not
// know startTransaction).
Status ProbeTransactions(mongoc_client_t* client, const std::string& what);

struct TxnOutcome {
  bool refused = false;  // a permanent error: nothing of the group was written
  int code = 0;          // the server's error code, when refused
  std::string message;   // which event and the server's message, when refused
  uint64_t refused_seq = 0;
  int attempts = 1;
};

// Applies the group as one transaction; transient failures of the whole transaction
// (network, not primary) are retried with backoff until stop. Aborted on stop.
StatusOr<TxnOutcome> ApplyTransaction(mongoc_client_t* client, const std::vector<TxnItem>& items,
                                      const std::atomic<bool>* stop);

}  // namespace docshift::apply
