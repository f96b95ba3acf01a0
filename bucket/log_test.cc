// The commit log's pure parts: folding records (what readers and the shipper trust) and
// the record codec.
#include "bucket/log.h"

#include <gtest/gtest.h>

#include "spool/segment.h"

namespace docshift::bucket {
namespace {

pb::BucketLogRecord Created(uint64_t n) {
  pb::BucketLogRecord r;
  r.set_number(n);
  r.set_writer_id("w1");
  r.mutable_created()->set_source_id("mongo:h:1");
  return r;
}
pb::BucketLogRecord Sealed(uint64_t n, uint64_t first, uint64_t last) {
  pb::BucketLogRecord r;
  r.set_number(n);
  r.set_writer_id("w1");
  auto* s = r.mutable_sealed();
  s->set_file_name(spool::SegmentFileName(first));
  s->set_first_seq(first);
  s->set_last_seq(last);
  return r;
}
pb::BucketLogRecord Deleted(uint64_t n, uint64_t first, uint64_t last) {
  pb::BucketLogRecord r;
  r.set_number(n);
  auto* d = r.mutable_deleted();
  d->set_file_name(spool::SegmentFileName(first));
  d->set_first_seq(first);
  d->set_last_seq(last);
  return r;
}

TEST(BucketLogStateTest, FoldsAWellFormedLog) {
  LogState st;
  ASSERT_TRUE(ApplyLogRecord(Created(1), "r1", &st).ok());
  pb::BucketLogRecord started;
  started.set_number(2);
  started.set_writer_id("w2");
  started.mutable_shipper_started()->set_host("h");
  started.mutable_shipper_started()->set_pid(42);
  ASSERT_TRUE(ApplyLogRecord(started, "r2", &st).ok());
  ASSERT_TRUE(ApplyLogRecord(Sealed(3, 1, 10), "r3", &st).ok());
  ASSERT_TRUE(ApplyLogRecord(Sealed(4, 11, 11), "r4", &st).ok());
  ASSERT_TRUE(ApplyLogRecord(Sealed(5, 12, 30), "r5", &st).ok());
  EXPECT_EQ(st.last_number, 5u);
  EXPECT_EQ(st.next_seq, 31u);
  EXPECT_EQ(st.segments.size(), 3u);
  EXPECT_EQ(st.shipper.pid(), 42);
  EXPECT_EQ(st.created.source_id(), "mongo:h:1");
  EXPECT_EQ(FirstSegmentAtOrAfter(st, 1), 0u);
  EXPECT_EQ(FirstSegmentAtOrAfter(st, 11), 1u);
  EXPECT_EQ(FirstSegmentAtOrAfter(st, 12), 2u);
  EXPECT_EQ(FirstSegmentAtOrAfter(st, 31), 3u);
  ASSERT_TRUE(ApplyLogRecord(Deleted(6, 1, 10), "r6", &st).ok());
  EXPECT_EQ(st.segments.size(), 2u);
  EXPECT_EQ(st.deleted_through_seq, 10u);
  EXPECT_EQ(st.next_seq, 31u);
}

TEST(BucketLogStateTest, RefusesRecordsThatDoNotFollow) {
  auto expect_corrupt = [](LogState st, const pb::BucketLogRecord& r, const std::string& what) {
    Status s = ApplyLogRecord(r, "s3://b/p/log/x", &st);
    ASSERT_TRUE(s.IsCorruption()) << what << ": " << s.ToString();
    EXPECT_NE(s.message().find("s3://b/p/log/x"), std::string::npos) << s.ToString();
  };
  LogState empty;
  expect_corrupt(empty, Sealed(1, 1, 5), "first record not SpoolCreated");
  expect_corrupt(empty, Created(2), "numbered 2 on an empty log");
  LogState st;
  ASSERT_TRUE(ApplyLogRecord(Created(1), "r1", &st).ok());
  ASSERT_TRUE(ApplyLogRecord(Sealed(2, 1, 5), "r2", &st).ok());
  expect_corrupt(st, Created(3), "SpoolCreated again");
  expect_corrupt(st, Sealed(4, 6, 9), "number skipped");
  expect_corrupt(st, Sealed(3, 7, 9), "sequence gap");
  expect_corrupt(st, Sealed(3, 3, 9), "sequence overlap");
  auto misnamed = Sealed(3, 6, 9);
  misnamed.mutable_sealed()->set_file_name(spool::SegmentFileName(7));
  expect_corrupt(st, misnamed, "file name is not its first sequence");
  expect_corrupt(st, Deleted(3, 6, 9), "deletion of a segment not held");
  ASSERT_TRUE(ApplyLogRecord(Sealed(3, 6, 9), "r3", &st).ok());
  expect_corrupt(st, Deleted(4, 6, 9), "deletion out of order");
  pb::BucketLogRecord nothing;
  nothing.set_number(4);
  expect_corrupt(st, nothing, "empty record");
  EXPECT_EQ(st.last_number, 3u);  // refused records changed nothing
}

TEST(BucketLogCodecTest, RoundTripsAndRefusesDamage) {
  const pb::BucketLogRecord in = Sealed(9, 100, 200);
  const std::string body = EncodeLogRecord(in);
  pb::BucketLogRecord out;
  Status ok = DecodeLogRecord(body, "s3://b/log/9", &out);
  ASSERT_TRUE(ok.ok()) << ok.ToString();
  EXPECT_EQ(out.SerializeAsString(), in.SerializeAsString());

  for (size_t i = 0; i < body.size(); ++i) {
    std::string bad = body;
    bad[i] ^= 0x20;
    Status s = DecodeLogRecord(bad, "s3://b/log/9", &out);
    EXPECT_FALSE(s.ok()) << "flip at " << i;
    EXPECT_NE(s.message().find("s3://b/log/9"), std::string::npos) << s.ToString();
  }
  Status torn = DecodeLogRecord(body.substr(0, body.size() - 1), "s3://b/log/9", &out);
  EXPECT_TRUE(torn.IsCorruption()) << torn.ToString();
  Status extra = DecodeLogRecord(body + "x", "s3://b/log/9", &out);
  EXPECT_TRUE(extra.IsCorruption()) << extra.ToString();
  Status empty = DecodeLogRecord("", "s3://b/log/9", &out);
  EXPECT_TRUE(empty.IsCorruption()) << empty.ToString();
}

}  // namespace
}  // namespace docshift::bucket
