// bucket_test_ship: a stand-in for `docshift ship` in tests until it lands (issue #13).
// Copies a local spool's sealed segments to s3://BUCKET/PREFIX and commits each with a
// BucketLogRecord (record 1: SpoolCreated), as spool/FORMAT.md "Bucket layout" says;
// no fencing record, no retention. Endpoint and credentials by the AWS conventions.
//
//   bucket_test_ship SPOOL_DIR s3://BUCKET/PREFIX [--follow]   (--follow: every 200 ms until killed)
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "aws/credentials.h"
#include "aws/s3_client.h"
#include "bucket/checkpoint_store.h"
#include "bucket/location.h"
#include "bucket/log.h"
#include "spool/manifest.h"
#include "util/duration.h"

namespace docshift::bucket {
namespace {

Status ShipOnce(aws::S3Client* c, BucketLog* log, LogState* st, const std::string& dir, const std::string& writer) {
  RETURN_IF_ERROR(log->Refresh(st));
  spool::ManifestState m;
  RETURN_IF_ERROR(spool::ReadManifest(Env::Default(), dir + "/MANIFEST", &m));
  if (st->last_number == 0) {
    pb::BucketLogRecord r;
    *r.mutable_created() = m.created;
    RETURN_IF_ERROR(log->Append(r, writer, NowMs(), st));
  }
  const BucketLocation& loc = log->location();
  for (const auto& seg : m.segments) {
    if (seg.first_seq() < st->next_seq) continue;
    std::string body;
    RETURN_IF_ERROR(Env::Default()->ReadFileToString(dir + "/segments/" + seg.file_name(), &body, 1ull << 31));
    auto put = c->PutObject(loc.bucket, loc.SegmentKey(seg.file_name()), body);
    if (!put.ok()) return put.status();
    pb::BucketLogRecord r;
    *r.mutable_sealed() = seg;
    RETURN_IF_ERROR(log->Append(r, writer, NowMs(), st));
  }
  return Status::OK();
}

int Main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: bucket_test_ship SPOOL_DIR s3://BUCKET/PREFIX [--follow]\n";
    return 2;
  }
  const bool follow = argc > 3 && std::string(argv[3]) == "--follow";
  auto loc = ParseBucketUrl(argv[2], "destination");
  if (!loc.ok()) {
    std::cerr << loc.status().ToString() << "\n";
    return 2;
  }
  auto opts = aws::S3ClientOptionsFromEnv(aws::ProcessEnv(), "");
  if (!opts.ok()) {
    std::cerr << opts.status().ToString() << "\n";
    return 2;
  }
  auto c = aws::S3Client::New(std::move(opts).value());
  if (!c.ok()) {
    std::cerr << c.status().ToString() << "\n";
    return 2;
  }
  BucketLog log(c->get(), *loc);
  LogState st;
  const std::string writer = NewWriterId("test-ship");
  for (;;) {
    Status s = ShipOnce(c->get(), &log, &st, argv[1], writer);
    if (!s.ok()) {
      std::cerr << "bucket_test_ship: " << s.ToString() << "\n";
      return 3;
    }
    if (!follow) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace
}  // namespace docshift::bucket

int main(int argc, char** argv) { return docshift::bucket::Main(argc, argv); }
