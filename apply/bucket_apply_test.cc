// The pure parts of apply from a bucket (apply/bucket_apply.h): where the cache dir is by
// default, and the refusals made before any request.
#include "apply/bucket_apply.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace docshift::apply {
namespace {

// Sets (or unsets, nullopt) an environment variable for one test, and restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value->c_str(), 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(DefaultCacheDir, XdgCacheHomeThenHome) {
  const bucket::BucketLocation loc{"my-bucket", "spools/eu"};
  {
    ScopedEnv x("XDG_CACHE_HOME", "/var/cache/me"), h("HOME", "/home/me");
    auto d = DefaultCacheDir(loc, "apply");
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(*d, "/var/cache/me/docshift/s3/my-bucket/spools/eu/@apply");
  }
  {
    ScopedEnv x("XDG_CACHE_HOME", std::nullopt), h("HOME", "/home/me");
    auto d = DefaultCacheDir(loc, "eu.slot-0-of-3");
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(*d, "/home/me/.cache/docshift/s3/my-bucket/spools/eu/@eu.slot-0-of-3");
  }
  {  // an empty prefix; a relative XDG_CACHE_HOME is ignored, as the spec says
    ScopedEnv x("XDG_CACHE_HOME", "relative"), h("HOME", "/home/me");
    auto d = DefaultCacheDir(bucket::BucketLocation{"b-1", ""}, "apply");
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(*d, "/home/me/.cache/docshift/s3/b-1/@apply");
  }
}

TEST(DefaultCacheDir, NoHomeAsksForTheFlag) {
  ScopedEnv x("XDG_CACHE_HOME", std::nullopt), h("HOME", std::nullopt);
  auto d = DefaultCacheDir(bucket::BucketLocation{"b-1", "p"}, "apply");
  ASSERT_TRUE(d.status().IsInvalidArgument()) << d.status().ToString();
  EXPECT_NE(d.status().message().find("--cache_dir"), std::string::npos) << d.status().ToString();
}

TEST(RunBucketApply, RefusesAReplayFromATimeBeforeAnyRequest) {
  BucketApplyOptions o;
  o.loc = bucket::BucketLocation{"b-1", "p"};
  o.s3.region = "us-east-1";
  o.s3.endpoint = "http://127.0.0.1:9";  // never contacted
  o.apply.from.set = true;
  o.apply.from.is_time = true;
  o.apply.from.time_ms = 1'800'000'000'000;
  auto r = RunBucketApply(o);
  ASSERT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
  EXPECT_NE(r.status().message().find("--from TIME on a bucket spool is not supported"), std::string::npos)
      << r.status().ToString();
}

// A log whose segments 1..10 were deleted and 11..30 are live.
bucket::LogState LogWithDeletions() {
  bucket::LogState st;
  st.last_number = 6;
  for (uint64_t first : {11, 21}) {
    pb::SegmentSealed s;
    s.set_first_seq(first);
    s.set_last_seq(first + 9);
    st.segments.push_back(s);
  }
  st.next_seq = 31;
  st.deleted_through_seq = 10;
  return st;
}

TEST(CheckReplayStart, FromTheOldestLiveSequenceToTheCommittedEnd) {
  const bucket::BucketLocation loc{"b-1", "p"};
  const bucket::LogState st = LogWithDeletions();
  EXPECT_TRUE(CheckReplayStart(st, loc, 11).ok());
  EXPECT_TRUE(CheckReplayStart(st, loc, 25).ok());
  EXPECT_TRUE(CheckReplayStart(st, loc, 30).ok());
  Status below = CheckReplayStart(st, loc, 10);
  ASSERT_TRUE(below.IsInvalidArgument()) << below.ToString();
  EXPECT_NE(below.message().find("sequence 10 is no longer in s3://b-1/p"), std::string::npos) << below.ToString();
  EXPECT_NE(below.message().find("the oldest replayable sequence is 11: give --from 11 to 30"), std::string::npos)
      << below.ToString();
  Status zero = CheckReplayStart(st, loc, 0);
  ASSERT_TRUE(zero.IsInvalidArgument());
  EXPECT_NE(zero.message().find("is not a sequence number"), std::string::npos) << zero.ToString();
  Status past = CheckReplayStart(st, loc, 31);
  ASSERT_TRUE(past.IsInvalidArgument());
  EXPECT_NE(past.message().find("past the end of s3://b-1/p (committed up to seq 30)"), std::string::npos)
      << past.ToString();
  bucket::LogState empty;
  EXPECT_TRUE(CheckReplayStart(empty, loc, 5).ok());  // no spool: the cache's NotFound says so
}

}  // namespace
}  // namespace docshift::apply
