// Helpers the spool library's unit tests share (spool_test.cc, durable_mark_test.cc).
#pragma once

#include <cstdint>
#include <string>

#include "proto/spool.pb.h"
#include "spool/spool.h"
#include "util/env.h"

namespace docshift::spool::spool_testing {

// Writer options for a test spool: a fixed source, rolled by size or explicitly only.
inline SpoolWriterOptions Opts(const std::string& dir, Env* env = Env::Default()) {
  SpoolWriterOptions o;
  o.dir = dir;
  o.env = env;
  o.source_id = "mongodb:rs0/h1:27017";
  o.source_kind = "mongodb";
  o.segment_max_age_ms = int64_t{1} << 60;  // tests roll by size or explicitly
  return o;
}

// A batch whose content is unique to its token. first_seq is assigned by Append.
inline pb::ChangeBatch NewBatch(int events, const std::string& token, size_t pad = 16) {
  pb::ChangeBatch b;
  for (int i = 0; i < events; ++i) {
    auto* e = b.add_events();
    e->set_db("db");
    e->set_coll("c");
    e->set_op(pb::OP_UPDATE);
    e->set_document_key("key-" + token + "-" + std::to_string(i));
    e->set_full_document("doc-" + token + "-" + std::to_string(i) + std::string(pad, 'p'));
    e->set_cluster_time(1000 + static_cast<uint64_t>(i));
    e->set_capture_wall_ms(5000 + i);
  }
  b.set_resume_token(token);
  b.set_resume_cluster_time(token.size());
  return b;
}

}  // namespace docshift::spool::spool_testing
