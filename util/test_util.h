// Helpers shared by the unit tests: a temporary directory, whole-file byte access, and
// the assertion that a Status is a Corruption naming a file and an offset.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "util/env.h"
#include "util/status.h"

namespace docshift::test_util {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "docshift_test") {
    const char* t = getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/" + prefix + ".XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

inline void WriteBytes(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// s is a Corruption whose message names the file (its base name) and "offset N ".
inline void ExpectCorruptionAt(const Status& s, const std::string& path, uint64_t offset) {
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find(BaseName(path)), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("offset " + std::to_string(offset) + " "), std::string::npos)
      << "expected offset " << offset << " in: " << s.ToString();
}

// s is NotSupported: a file (its base name) written by a newer docshift, naming the
// version found, the version this build reads, and the fix.
inline void ExpectNewerFormat(const Status& s, const std::string& path, uint64_t version) {
  EXPECT_TRUE(s.IsNotSupported()) << s.ToString();
  EXPECT_NE(s.message().find(BaseName(path)), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("written by a newer docshift (format version " +
                             std::to_string(version) + ", this build reads up to 1); upgrade "
                             "docshift"),
            std::string::npos)
      << s.ToString();
}

// A loopback port nothing listens on: bind to port 0, read the port, close.
inline int UnusedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

}  // namespace docshift::test_util
