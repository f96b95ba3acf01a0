// The commit log against a real gofakes3 server (S3_URL from build/testbed.env; unset:
// exit 77, skipped, or a failure when CI is set): appends, incremental reads, two writers
// racing for one number (exactly one wins, the other is told who), and a damaged log
// (a deleted record, a stranger's object, bad bytes) refused as corruption naming the
// object.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <cstdlib>
#include <iostream>
#include <random>
#include <thread>

#include "aws/s3_client.h"
#include "bucket/log.h"
#include "bucket/s3_test_util.h"

namespace docshift::bucket {
namespace {

using s3_test::NewClient;
BucketLocation FreshLocation(const std::string& name) { return s3_test::FreshLocation("dslog", name); }

pb::BucketLogRecord CreatedRecord() {
  pb::BucketLogRecord r;
  r.mutable_created()->set_source_id("mongo:127.0.0.1:1");
  return r;
}
pb::BucketLogRecord SealedRecord(uint64_t first, uint64_t last) {
  pb::BucketLogRecord r;
  auto* s = r.mutable_sealed();
  char name[64];
  std::snprintf(name, sizeof(name), "%020llu.seg", static_cast<unsigned long long>(first));
  s->set_file_name(name);
  s->set_first_seq(first);
  s->set_last_seq(last);
  return r;
}

TEST(BucketLogS3Test, AppendsAndReadsIncrementally) {
  auto c = NewClient();
  ASSERT_NE(c, nullptr);
  BucketLog log(c.get(), FreshLocation("incremental"));
  LogState w;
  ASSERT_TRUE(log.Refresh(&w).ok());
  EXPECT_EQ(w.last_number, 0u);
  ASSERT_TRUE(log.Append(CreatedRecord(), "writer-a", 1000, &w).ok());
  ASSERT_TRUE(log.Append(SealedRecord(1, 10), "writer-a", 1001, &w).ok());
  LogState r;
  ASSERT_TRUE(log.Refresh(&r).ok());
  EXPECT_EQ(r.last_number, 2u);
  EXPECT_EQ(r.next_seq, 11u);
  EXPECT_EQ(r.writer_id, "writer-a");
  ASSERT_TRUE(log.Append(SealedRecord(11, 20), "writer-a", 1002, &w).ok());
  ASSERT_TRUE(log.Refresh(&r).ok());
  EXPECT_EQ(r.last_number, 3u);
  EXPECT_EQ(r.segments.size(), 2u);
  ASSERT_TRUE(log.Refresh(&r).ok());  // nothing new
  EXPECT_EQ(r.last_number, 3u);
  // A record that would not follow is never written.
  Status bad = log.Append(SealedRecord(25, 30), "writer-a", 1003, &w);
  EXPECT_TRUE(bad.IsCorruption()) << bad.ToString();
  ASSERT_TRUE(log.Refresh(&r).ok());
  EXPECT_EQ(r.last_number, 3u);
}

TEST(BucketLogS3Test, TwoWritersRaceForEachNumberAndOneWins) {
  auto setup = NewClient();
  ASSERT_NE(setup, nullptr);
  const BucketLocation loc = FreshLocation("race");
  {
    BucketLog log(setup.get(), loc);
    LogState st;
    ASSERT_TRUE(log.Append(CreatedRecord(), "setup", 1, &st).ok());
  }
  for (int round = 0; round < 10; ++round) {
    auto a = NewClient(), b = NewClient();
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    BucketLog la(a.get(), loc), lb(b.get(), loc);
    LogState sa, sb;
    ASSERT_TRUE(la.Refresh(&sa).ok());
    ASSERT_TRUE(lb.Refresh(&sb).ok());
    ASSERT_EQ(sa.last_number, sb.last_number);
    pb::BucketLogRecord ra, rb;
    ra.mutable_shipper_started()->set_host("host-a");
    ra.mutable_shipper_started()->set_pid(1);
    rb.mutable_shipper_started()->set_host("host-b");
    rb.mutable_shipper_started()->set_pid(2);
    std::barrier go(2);
    Status stA, stB;
    std::thread ta([&] { go.arrive_and_wait(); stA = la.Append(ra, "writer-a-" + std::to_string(round), 10, &sa); });
    std::thread tb([&] { go.arrive_and_wait(); stB = lb.Append(rb, "writer-b-" + std::to_string(round), 10, &sb); });
    ta.join();
    tb.join();
    ASSERT_NE(stA.ok(), stB.ok()) << "round " << round << ": A " << stA.ToString() << " / B " << stB.ToString();
    const Status& lost = stA.ok() ? stB : stA;
    EXPECT_TRUE(lost.IsFailedPrecondition()) << lost.ToString();
    EXPECT_NE(lost.message().find(stA.ok() ? "writer-a-" : "writer-b-"), std::string::npos) << lost.ToString();
    EXPECT_NE(lost.message().find(stA.ok() ? "host-a" : "host-b"), std::string::npos) << lost.ToString();
    EXPECT_NE(lost.message().find("this one stops"), std::string::npos) << lost.ToString();
    LogState check;
    ASSERT_TRUE(la.Refresh(&check).ok());
    EXPECT_EQ(check.shipper.host(), stA.ok() ? "host-a" : "host-b");
  }
}

TEST(BucketLogS3Test, ADamagedLogIsCorruptionNamingTheObject) {
  auto c = NewClient();
  ASSERT_NE(c, nullptr);
  {  // a record deleted in the middle: a gap
    const BucketLocation loc = FreshLocation("gap");
    BucketLog log(c.get(), loc);
    LogState st;
    ASSERT_TRUE(log.Append(CreatedRecord(), "w", 1, &st).ok());
    ASSERT_TRUE(log.Append(SealedRecord(1, 5), "w", 2, &st).ok());
    ASSERT_TRUE(log.Append(SealedRecord(6, 9), "w", 3, &st).ok());
    ASSERT_TRUE(c->DeleteObject(loc.bucket, loc.LogKey(2)).ok());
    LogState r;
    Status s = log.Refresh(&r);
    ASSERT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_NE(s.message().find(loc.Url("log/00000000000000000003")), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find("gap"), std::string::npos) << s.ToString();
    // The first record deleted: a gap too.
    ASSERT_TRUE(c->DeleteObject(loc.bucket, loc.LogKey(1)).ok());
    LogState r2;
    s = log.Refresh(&r2);
    ASSERT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_NE(s.message().find("record 1 is missing"), std::string::npos) << s.ToString();
  }
  {  // an object that is not a record number
    const BucketLocation loc = FreshLocation("stranger");
    BucketLog log(c.get(), loc);
    LogState st;
    ASSERT_TRUE(log.Append(CreatedRecord(), "w", 1, &st).ok());
    ASSERT_TRUE(c->PutObject(loc.bucket, loc.Key("log/notes.txt"), "hello").ok());
    LogState r;
    Status s = log.Refresh(&r);
    ASSERT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_NE(s.message().find(loc.Url("log/notes.txt")), std::string::npos) << s.ToString();
  }
  {  // bad bytes with a matching MD5 (written through the client): the framing CRC catches them
    const BucketLocation loc = FreshLocation("badbytes");
    BucketLog log(c.get(), loc);
    LogState st;
    ASSERT_TRUE(log.Append(CreatedRecord(), "w", 1, &st).ok());
    auto got = c->GetObject(loc.bucket, loc.LogKey(1));
    ASSERT_TRUE(got.ok());
    std::string body = got->body;
    body[body.size() - 2] ^= 0x01;
    ASSERT_TRUE(c->PutObject(loc.bucket, loc.LogKey(1), body).ok());
    LogState r;
    Status s = log.Refresh(&r);
    ASSERT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_NE(s.message().find(loc.Url("log/00000000000000000001")), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find("offset"), std::string::npos) << s.ToString();
  }
}

}  // namespace
}  // namespace docshift::bucket

int main(int argc, char** argv) { return docshift::bucket::s3_test::Main(argc, argv, "bucket_log_s3_test"); }
