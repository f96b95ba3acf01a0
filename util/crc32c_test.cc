#include "util/crc32c.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

namespace docshift::crc32c {
namespace {

// Bit-at-a-time reference, independent of both the table and the SSE4.2 code paths.
uint32_t Reference(const std::string& data) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
  }
  return ~crc;
}

uint32_t Of(const std::string& s) { return Value(s.data(), s.size()); }

TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(Of("123456789"), 0xE3069283u);
  EXPECT_EQ(Of(""), 0u);
  // RFC 3720, section B.4.
  EXPECT_EQ(Of(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Of(std::string(32, '\xff')), 0x62A8AB43u);
  std::string up(32, '\0'), down(32, '\0');
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<char>(i);
    down[i] = static_cast<char>(31 - i);
  }
  EXPECT_EQ(Of(up), 0x46DD794Eu);
  EXPECT_EQ(Of(down), 0x113FDB5Cu);
  const unsigned char iscsi_read[48] = {
      0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
      0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(Value(iscsi_read, sizeof(iscsi_read)), 0xD9963A56u);
}

TEST(Crc32cTest, ExtendEqualsWholeValue) {
  EXPECT_EQ(Of("hello world"), Extend(Of("hello "), "world", 5));
  EXPECT_EQ(Of("hello world"), Extend(Extend(0, "hello", 5), " world", 6));
}

TEST(Crc32cTest, DiffersOnSingleBitChange) {
  std::string a(100, 'a');
  std::string b = a;
  b[57] ^= 0x10;
  EXPECT_NE(Of(a), Of(b));
}

// Whichever implementation this CPU selects (SSE4.2 or tables) must agree with the
// bitwise reference, for every length, alignment and split point.
TEST(Crc32cTest, AgreesWithBitwiseReference) {
  std::mt19937 rng(42);
  std::string buf(1100, '\0');
  for (auto& c : buf) c = static_cast<char>(rng());
  for (size_t len = 0; len <= 300; ++len) {
    for (size_t align = 0; align < 8; ++align) {
      const std::string s = buf.substr(align, len);
      const uint32_t want = Reference(s);
      ASSERT_EQ(Value(buf.data() + align, len), want) << "len " << len << " align " << align;
      const size_t cut = len == 0 ? 0 : rng() % (len + 1);
      ASSERT_EQ(Extend(Value(s.data(), cut), s.data() + cut, len - cut), want)
          << "len " << len << " cut " << cut;
    }
  }
  EXPECT_EQ(Of(buf), Reference(buf));
}

TEST(Crc32cTest, MaskRoundTrip) {
  const uint32_t crc = Of("foo");
  EXPECT_NE(crc, Mask(crc));
  EXPECT_NE(crc, Mask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Unmask(Mask(Mask(crc)))));
  std::mt19937 rng(7);
  for (int i = 0; i < 10000; ++i) {
    const uint32_t v = static_cast<uint32_t>(rng());
    ASSERT_EQ(Unmask(Mask(v)), v);
  }
  EXPECT_EQ(Unmask(Mask(0)), 0u);
  EXPECT_EQ(Unmask(Mask(0xffffffffu)), 0xffffffffu);
}

}  // namespace
}  // namespace docshift::crc32c
