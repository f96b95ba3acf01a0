#include "bench/synth.h"

#include <bson/bson.h>
#include <gtest/gtest.h>
#include <zstd.h>

#include <map>
#include <set>
#include <string>

namespace docshift::bench {
namespace {

bool ValidBson(const std::string& bytes) {
  bson_t b;
  if (!bson_init_static(&b, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())) {
    return false;
  }
  size_t err = 0;
  return bson_validate(&b, BSON_VALIDATE_UTF8, &err);
}

void CollectTypes(bson_iter_t* it, std::set<bson_type_t>* types) {
  while (bson_iter_next(it)) {
    types->insert(bson_iter_type(it));
    if (BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it)) {
      bson_iter_t child;
      ASSERT_TRUE(bson_iter_recurse(it, &child));
      CollectTypes(&child, types);
    }
  }
}

SynthConfig Config(DocShape shape) {
  SynthConfig cfg;
  cfg.shape = shape;
  return cfg;
}

class SynthTest : public ::testing::TestWithParam<DocShape> {};

TEST_P(SynthTest, DeterministicAndIndependentOfBatching) {
  const SynthConfig cfg = Config(GetParam());
  pb::ChangeBatch whole, a, b, again;
  FillBatch(cfg, 1000, 100, &whole);
  FillBatch(cfg, 1000, 37, &a);
  FillBatch(cfg, 1037, 63, &b);
  FillBatch(cfg, 1000, 100, &again);
  ASSERT_EQ(whole.events_size(), 100);
  EXPECT_EQ(whole.SerializeAsString(), again.SerializeAsString());
  for (int i = 0; i < 100; ++i) {
    const pb::ChangeEvent& part = i < 37 ? a.events(i) : b.events(i - 37);
    EXPECT_EQ(whole.events(i).SerializeAsString(), part.SerializeAsString()) << i;
  }
  EXPECT_EQ(whole.resume_token(), whole.events(99).resume_token());
  EXPECT_EQ(whole.resume_cluster_time(), whole.events(99).cluster_time());
  EXPECT_EQ(whole.first_seq(), 0u);

  SynthConfig other = cfg;
  other.seed = 2;
  pb::ChangeBatch c;
  FillBatch(other, 1000, 100, &c);
  EXPECT_NE(whole.SerializeAsString(), c.SerializeAsString());
}

TEST_P(SynthTest, ValidBsonIncreasingTimeAndConsistentOps) {
  const SynthConfig cfg = Config(GetParam());
  constexpr int kEvents = 20000;
  // (namespace, document_key) of live documents.
  std::set<std::pair<std::string, std::string>> live;
  std::map<pb::OpType, int> ops;
  uint64_t last_ct = 0;
  int64_t last_capture = 0;
  int txn_events = 0;
  pb::ChangeEvent e;
  for (uint64_t i = 0; i < kEvents; ++i) {
    MakeEvent(cfg, i, &e);
    ops[e.op()]++;
    ASSERT_GT(e.cluster_time(), last_ct) << i;
    ASSERT_GE(e.capture_wall_ms(), last_capture) << i;
    ASSERT_GT(e.capture_wall_ms(), e.wall_time_ms());
    last_ct = e.cluster_time();
    last_capture = e.capture_wall_ms();
    ASSERT_TRUE(ValidBson(e.document_key())) << i;
    ASSERT_TRUE(ValidBson(e.resume_token())) << i;
    if (!e.lsid().empty()) {
      ASSERT_TRUE(ValidBson(e.lsid()));
      ASSERT_GT(e.txn_number(), 0);
      ++txn_events;
    }
    const auto key = std::make_pair(e.db() + "\x01" + e.coll(), e.document_key());
    switch (e.op()) {
      case pb::OP_INSERT:
        ASSERT_TRUE(ValidBson(e.full_document())) << i;
        ASSERT_TRUE(e.update_description().empty());
        ASSERT_TRUE(live.insert(key).second) << "insert of an existing document at " << i;
        break;
      case pb::OP_REPLACE:
        ASSERT_TRUE(ValidBson(e.full_document())) << i;
        ASSERT_TRUE(live.count(key)) << "replace of a missing document at " << i;
        break;
      case pb::OP_UPDATE:
        ASSERT_TRUE(ValidBson(e.update_description())) << i;
        ASSERT_TRUE(e.full_document().empty());  // no updateLookup by default
        ASSERT_TRUE(live.count(key)) << "update of a missing document at " << i;
        break;
      case pb::OP_DELETE:
        ASSERT_TRUE(e.full_document().empty());
        ASSERT_EQ(live.erase(key), 1u) << "delete of a missing document at " << i;
        break;
      default:
        FAIL() << "unexpected op " << e.op();
    }
  }
  // Roughly the documented mix.
  EXPECT_GT(ops[pb::OP_INSERT], kEvents * 40 / 100);
  EXPECT_GT(ops[pb::OP_UPDATE], kEvents * 35 / 100);
  EXPECT_GT(ops[pb::OP_REPLACE], kEvents * 7 / 100);
  EXPECT_GT(ops[pb::OP_DELETE], kEvents * 4 / 100);
  EXPECT_GT(txn_events, 0);
}

TEST_P(SynthTest, RealisticSizeAndCompression) {
  const SynthConfig cfg = Config(GetParam());
  pb::ChangeBatch batch;
  FillBatch(cfg, 5000, 200, &batch);
  size_t doc_bytes = 0;
  int docs = 0;
  for (const auto& e : batch.events()) {
    if (e.op() != pb::OP_INSERT) continue;
    doc_bytes += e.full_document().size();
    ++docs;
  }
  ASSERT_GT(docs, 0);
  const size_t avg = doc_bytes / static_cast<size_t>(docs);
  EXPECT_GT(avg, 900u);
  EXPECT_LT(avg, 2000u);

  const std::string raw = batch.SerializeAsString();
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), 1);
  ASSERT_FALSE(ZSTD_isError(n));
  const double ratio = static_cast<double>(raw.size()) / static_cast<double>(n);
  EXPECT_GT(ratio, 2.0);  // not random bytes
  EXPECT_LT(ratio, 8.0);  // not copies of one document
}

INSTANTIATE_TEST_SUITE_P(Shapes, SynthTest,
                         ::testing::Values(DocShape::kYcsb, DocShape::kNested),
                         [](const auto& info) {
                           return info.param == DocShape::kYcsb ? "Ycsb" : "Nested";
                         });

TEST(SynthNestedTest, CarriesEveryCommonBsonType) {
  const SynthConfig cfg = Config(DocShape::kNested);
  std::set<bson_type_t> types;
  pb::ChangeEvent e;
  for (uint64_t i = 0; i < 50; ++i) {
    MakeEvent(cfg, i, &e);
    if (e.full_document().empty()) continue;
    bson_t b;
    ASSERT_TRUE(bson_init_static(&b, reinterpret_cast<const uint8_t*>(e.full_document().data()),
                                 e.full_document().size()));
    bson_iter_t it;
    ASSERT_TRUE(bson_iter_init(&it, &b));
    CollectTypes(&it, &types);
  }
  for (bson_type_t t : {BSON_TYPE_INT32, BSON_TYPE_INT64, BSON_TYPE_DOUBLE, BSON_TYPE_UTF8,
                        BSON_TYPE_BOOL, BSON_TYPE_DATE_TIME, BSON_TYPE_OID, BSON_TYPE_BINARY,
                        BSON_TYPE_DOCUMENT, BSON_TYPE_ARRAY}) {
    EXPECT_TRUE(types.count(t)) << "missing BSON type 0x" << std::hex << static_cast<int>(t);
  }
}

TEST(SynthTest, UpdateLookupAddsFullDocument) {
  SynthConfig cfg;
  cfg.update_lookup = true;
  pb::ChangeEvent e;
  int updates = 0;
  for (uint64_t i = 0; i < 200; ++i) {
    MakeEvent(cfg, i, &e);
    if (e.op() != pb::OP_UPDATE) continue;
    ++updates;
    EXPECT_TRUE(ValidBson(e.full_document()));
    EXPECT_TRUE(ValidBson(e.update_description()));
  }
  EXPECT_GT(updates, 0);
}

TEST(SynthTest, ValidateConfig) {
  SynthConfig cfg;
  EXPECT_EQ(ValidateSynthConfig(cfg), "");
  cfg.delete_pct = 20;
  EXPECT_NE(ValidateSynthConfig(cfg), "");
  cfg = SynthConfig();
  cfg.live_window = 1;
  EXPECT_NE(ValidateSynthConfig(cfg), "");
  cfg = SynthConfig();
  cfg.events_per_second = 0;
  EXPECT_NE(ValidateSynthConfig(cfg), "");
}

}  // namespace
}  // namespace docshift::bench
