#include "util/fault_injection_env.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

namespace docshift {
namespace {

class FaultInjectionEnvTest : public testing::Test {
 protected:
  void SetUp() override {
    const char* t = getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/docshift_fault_env.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Contents(const std::string& path) {
    std::string out;
    EXPECT_TRUE(Env::Default()->ReadFileToString(path, &out, 1 << 20).ok());
    return out;
  }

  std::string dir_;
  FaultInjectionEnv env_{Env::Default()};
};

TEST_F(FaultInjectionEnvTest, CrashDropsUnsyncedBytes) {
  const std::string p = JoinPath(dir_, "a");
  {
    auto f = env_.NewWritableFile(p);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append("synced").ok());
    ASSERT_TRUE((*f)->Sync().ok());
    ASSERT_TRUE(env_.SyncDir(dir_).ok());
    ASSERT_TRUE((*f)->Append("-lost").ok());
  }
  EXPECT_EQ(Contents(p), "synced-lost");
  ASSERT_TRUE(env_.SimulateCrash().ok());
  EXPECT_EQ(Contents(p), "synced");
}

TEST_F(FaultInjectionEnvTest, CrashDropsFilesWhoseNameWasNotSynced) {
  const std::string p = JoinPath(dir_, "new");
  {
    auto f = env_.NewWritableFile(p);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append("data").ok());
    ASSERT_TRUE((*f)->Sync().ok());  // data synced, directory entry not
  }
  ASSERT_TRUE(env_.SimulateCrash().ok());
  EXPECT_FALSE(env_.FileExists(p));
}

TEST_F(FaultInjectionEnvTest, AppendableFileOfUnknownFileIsDurableAsFound) {
  const std::string p = JoinPath(dir_, "old");
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(p, "before").ok());
  {
    auto f = env_.NewAppendableFile(p);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append("+after").ok());
  }
  ASSERT_TRUE(env_.SimulateCrash().ok());
  EXPECT_EQ(Contents(p), "before");
}

TEST_F(FaultInjectionEnvTest, WriteBudgetWritesWhatFitsThenFails) {
  const std::string p = JoinPath(dir_, "b");
  auto f = env_.NewWritableFile(p);
  ASSERT_TRUE(f.ok());
  env_.SetWriteBudget(4);
  Status s = (*f)->Append("abcdefgh");
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.message().find("No space left"), std::string::npos) << s.ToString();
  EXPECT_EQ((*f)->Size(), 4u);
  EXPECT_TRUE((*f)->Append("x").IsIOError());
  env_.SetWriteBudget(-1);
  EXPECT_TRUE((*f)->Append("ij").ok());
  EXPECT_EQ(Contents(p), "abcdij");
}

TEST_F(FaultInjectionEnvTest, AtomicWriteSurvivesCrash) {
  const std::string p = JoinPath(dir_, "state");
  ASSERT_TRUE(env_.WriteFileAtomic(p, "one").ok());
  ASSERT_TRUE(env_.WriteFileAtomic(p, "two").ok());
  ASSERT_TRUE(env_.SimulateCrash().ok());
  EXPECT_EQ(Contents(p), "two");
  EXPECT_FALSE(env_.FileExists(p + ".tmp"));
}

TEST_F(FaultInjectionEnvTest, TruncateIsDurable) {
  const std::string p = JoinPath(dir_, "t");
  {
    auto f = env_.NewWritableFile(p);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE(env_.SyncDir(dir_).ok());
    ASSERT_TRUE((*f)->Append("0123456789").ok());
  }
  ASSERT_TRUE(env_.Truncate(p, 4).ok());  // truncate + fsync: the 4 bytes are durable
  ASSERT_TRUE(env_.SimulateCrash().ok());
  EXPECT_EQ(Contents(p), "0123");
}

}  // namespace
}  // namespace docshift
