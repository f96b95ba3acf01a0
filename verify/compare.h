// The pure part of verify: a document's content hash and the comparison of one range's
// documents on both sides. No database access; unit-tested in compare_test.cc.
//
// Documents are matched by apply::CanonicalKey of their {_id}, so an _id stored as
// int32 1 on one server and int64 1 on the other is one document (servers compare _ids
// by value). The hash covers that canonical _id and every other field type-exactly
// (int32 1 and int64 1 in a field differ, as do -0.0 and 0.0 and binary subtypes).
// Field order is ignored at every level unless `strict_order` is set, because some
// servers reorder fields on update (tests/README.md: mongo-java-server); array order
// always counts.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "mongo/mongo_util.h"

namespace docshift::verify {

// Stored in the state file (VerifyCandidate.kind): never renumber.
enum class DiffKind : int { kMissing = 1, kExtra = 2, kChanged = 3 };
// "missing" (on the target), "extra" (on the target), "changed".
const char* DiffKindName(DiffKind k);

struct Candidate {
  DiffKind kind = DiffKind::kMissing;
  std::string id;  // BSON {_id: value}: the source's bytes, the target's for extras
  // Why the source document could not be converted (verify/source.h), or "". Not kept in
  // the state file: the re-check finds it again.
  std::string problem;
};

// 64-bit content hash of a document as described above. A document without _id hashes
// its fields only.
uint64_t HashDocument(const bson_t* doc, bool strict_order);

// {_id: value} of a document; empty if it has none.
std::string IdOf(const bson_t* doc);

// Compares the documents of one range. Add every source document first, then stream the
// target's: memory holds one entry (canonical key, hash, _id bytes) per source document
// of the range, never document bodies. Not thread safe.
class RangeComparer {
 public:
  // Returns false (and ignores the document) if the key was already added: two byte
  // encodings of one _id value in one collection, which a server's unique _id index
  // does not allow. problem: the source document could not be converted (its hash is
  // meaningless): it differs from whatever the target holds, and the candidate says why.
  bool AddSource(std::string id, uint64_t hash, std::string problem = "");
  // REQUIRES: every AddSource call came before.
  void AddTarget(const std::string& id, uint64_t hash);
  // The differences: source entries never matched are missing; target entries with no
  // source entry are extra, with another hash changed. Sorted by canonical key, so the
  // output does not depend on the order documents arrived in. Resets the comparer.
  std::vector<Candidate> Finish();

 private:
  struct Entry {
    uint64_t hash;
    std::string id;
    std::string problem;
  };
  std::unordered_map<std::string, Entry> source_;  // canonical key → entry
  std::vector<std::pair<std::string, Candidate>> found_;  // from the target side
};

// Relaxed Extended JSON of the _id value of {_id: value} ("1", "\"a\"",
// "{\"$oid\": \"...\"}"), for output and reports.
std::string IdJson(const std::string& id);

}  // namespace docshift::verify
