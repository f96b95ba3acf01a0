// How far a spool is committed to each bucket it is shipped to: DIR/shipped/<id>.mark, a
// ShippedMark state file per destination (id: 16 hex digits of FNV-1a 64 over the
// destination "s3://BUCKET/PREFIX"), written by `docshift ship` after each commit record
// exists in the bucket. SpoolWriter::Prune keeps every segment some mark has not passed.
// A destination no longer shipped to holds pruning back until its mark is deleted.
#pragma once

#include <string>
#include <vector>

#include "proto/spool.pb.h"
#include "util/env.h"
#include "util/status.h"

namespace docshift::spool {

std::string ShippedMarkPath(const std::string& spool_dir, const std::string& to);
// Durable on return.
Status WriteShippedMark(Env* env, const std::string& spool_dir, const pb::ShippedMark& mark);
// Every mark in the spool (none: empty). Corruption naming a damaged one.
StatusOr<std::vector<pb::ShippedMark>> ListShippedMarks(Env* env, const std::string& spool_dir);

}  // namespace docshift::spool
