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

TEST(RunBucketApply, RefusesAReplayBeforeAnyRequest) {
  BucketApplyOptions o;
  o.loc = bucket::BucketLocation{"b-1", "p"};
  o.s3.region = "us-east-1";
  o.s3.endpoint = "http://127.0.0.1:9";  // never contacted
  o.apply.from.set = true;
  o.apply.from.seq = 5;
  auto r = RunBucketApply(o);
  ASSERT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
  EXPECT_NE(r.status().message().find("--from"), std::string::npos) << r.status().ToString();
}

}  // namespace
}  // namespace docshift::apply
