// The baseline of bench/ship/run.sh: a plain PUT loop of a spool's segment files to a
// bucket, one after another on one connection, with the same S3 client docshift ship uses
// (Content-MD5 on every PUT), and nothing else: no commit log, no checks, no marks.
//
//   put_loop --dir SPOOL/segments --to s3://BUCKET/PREFIX   (endpoint etc. from AWS_* env)
//
// Prints PUT_BYTES=, PUT_FILES=, PUT_SECONDS= (wall time of the loop, reading included).
#include <gflags/gflags.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "aws/credentials.h"
#include "aws/s3_client.h"
#include "bucket/location.h"
#include "util/env.h"

DEFINE_string(dir, "", "directory whose *.seg files are uploaded");
DEFINE_string(to, "", "s3://BUCKET/PREFIX");

int main(int argc, char** argv) {
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  using namespace docshift;
  auto to = bucket::ParseBucketUrl(FLAGS_to, "--to");
  if (FLAGS_dir.empty() || !to.ok()) {
    std::cerr << "put_loop: --dir and --to s3://BUCKET/PREFIX are required\n";
    return 2;
  }
  auto opts = aws::S3ClientOptionsFromEnv(aws::ProcessEnv(), "");
  if (!opts.ok()) {
    std::cerr << "put_loop: " << opts.status().ToString() << "\n";
    return 2;
  }
  auto s3 = aws::S3Client::New(std::move(opts).value());
  if (!s3.ok()) {
    std::cerr << "put_loop: " << s3.status().ToString() << "\n";
    return 2;
  }
  Env* env = Env::Default();
  auto names = env->GetChildren(FLAGS_dir);
  if (!names.ok()) {
    std::cerr << "put_loop: " << names.status().ToString() << "\n";
    return 1;
  }
  std::sort(names->begin(), names->end());
  const auto t0 = std::chrono::steady_clock::now();
  uint64_t bytes = 0, files = 0;
  for (const auto& n : *names) {
    if (n.size() < 4 || n.compare(n.size() - 4, 4, ".seg") != 0) continue;
    std::string body;
    Status s = env->ReadFileToString(JoinPath(FLAGS_dir, n), &body, uint64_t{1} << 32);
    if (s.ok()) s = (*s3)->PutObject(to->bucket, to->Key("segments/" + n), body).status();
    if (!s.ok()) {
      std::cerr << "put_loop: " << s.ToString() << "\n";
      return 1;
    }
    bytes += body.size();
    files++;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("PUT_BYTES=%llu\nPUT_FILES=%llu\nPUT_SECONDS=%.3f\n", static_cast<unsigned long long>(bytes),
              static_cast<unsigned long long>(files), secs);
  return 0;
}
