// ResolveUriFlag: a URI as given, env:VAR, and file:PATH (private, one line).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "cli/command.h"

namespace docshift::cli {
namespace {

class ResolveUriFlagTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/resolve_uri_flag_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  // Writes text to dir_/name with the given mode; returns the path.
  std::string Write(const std::string& name, const std::string& text, mode_t mode) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    EXPECT_EQ(chmod(path.c_str(), mode), 0);
    return path;
  }
  std::string dir_;
};

const char kUri[] = "mongodb://u:FileSecret9@db.example:27017/?tls=true&authSource=admin";

TEST_F(ResolveUriFlagTest, PlainUriAndEnv) {
  EXPECT_EQ(ResolveUriFlag("mongodb://h:1/", "--source").value(), "mongodb://h:1/");
  setenv("RESOLVE_URI_FLAG_TEST", kUri, 1);
  EXPECT_EQ(ResolveUriFlag("env:RESOLVE_URI_FLAG_TEST", "--source").value(), kUri);
  auto unset = ResolveUriFlag("env:RESOLVE_URI_FLAG_TEST_UNSET", "--target");
  ASSERT_FALSE(unset.ok());
  EXPECT_EQ(unset.status().code(), Status::Code::kInvalidArgument);
  EXPECT_FALSE(ResolveUriFlag("", "--source").ok());
}

TEST_F(ResolveUriFlagTest, PrivateFileIsReadTrailingNewlineDropped) {
  EXPECT_EQ(ResolveUriFlag("file:" + Write("a", std::string(kUri) + "\n", 0600), "--source").value(), kUri);
  EXPECT_EQ(ResolveUriFlag("file:" + Write("b", std::string(kUri) + "\r\n", 0400), "--source").value(), kUri);
  EXPECT_EQ(ResolveUriFlag("file:" + Write("c", kUri, 0600), "--source").value(), kUri);
}

TEST_F(ResolveUriFlagTest, RefusedFilesNameThePathAndTheFixNeverTheContent) {
  struct Case {
    std::string path;
    std::string want;  // in the message
  };
  const Case cases[] = {
      {Write("world", kUri, 0644), "chmod 600 " + dir_ + "/world"},
      {Write("group", kUri, 0640), "has mode 0640"},
      {Write("groupw", kUri, 0620), "chmod 600"},
      {Write("empty", "\n", 0600), "is empty"},
      {Write("two", std::string(kUri) + "\nmore\n", 0600), "more than one line"},
      {dir_ + "/missing", "cannot open " + dir_ + "/missing"},
      {dir_, "not a regular file"},
      {"", "no path"},
  };
  for (const Case& c : cases) {
    auto r = ResolveUriFlag("file:" + c.path, "--target");
    ASSERT_FALSE(r.ok()) << c.path;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << c.path;
    EXPECT_EQ(ExitCodeFor(r.status()), kExitUsage) << c.path;
    const std::string msg = r.status().ToString();
    EXPECT_NE(msg.find("--target"), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.want), std::string::npos) << msg;
    EXPECT_EQ(msg.find("FileSecret9"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST_F(ResolveUriFlagTest, OversizedFileRefused) {
  auto r = ResolveUriFlag("file:" + Write("big", std::string(kMaxSecretFileBytes + 1, 'x'), 0600), "--source");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().ToString().find("one connection string"), std::string::npos);
}

}  // namespace
}  // namespace docshift::cli
