// The flag parsers: numbers and durations, never throwing, every overflow refused.
#include "util/duration.h"

#include <gtest/gtest.h>

namespace docshift {
namespace {

TEST(ParseInt64Test, AcceptsWholeNumbersInRange) {
  EXPECT_EQ(ParseInt64("0").value(), 0);
  EXPECT_EQ(ParseInt64("-5").value(), -5);
  EXPECT_EQ(ParseInt64("+7").value(), 7);
  EXPECT_EQ(ParseInt64("9223372036854775807").value(), INT64_MAX);
  EXPECT_EQ(ParseInt64("-9223372036854775808").value(), INT64_MIN);
  EXPECT_EQ(ParseInt64("007").value(), 7);
}

TEST(ParseInt64Test, RefusesEverythingElse) {
  for (const char* bad : {"", "-", "+", " 1", "1 ", "1x", "0x10", "1.5", "1e3", "--1",
                          "9223372036854775808", "-9223372036854775809",
                          "18446744073709551616", "99999999999999999999999999"}) {
    auto v = ParseInt64(bad);
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_TRUE(v.status().IsInvalidArgument());
    EXPECT_NE(v.status().message().find(std::string("'") + bad + "'"), std::string::npos)
        << v.status().ToString();
  }
}

TEST(ParseUint64Test, FullRangeAndNoSign) {
  EXPECT_EQ(ParseUint64("18446744073709551615").value(), UINT64_MAX);
  EXPECT_EQ(ParseUint64("+3").value(), 3u);
  for (const char* bad : {"", "-1", "-0", "18446744073709551616", "1_000", "abc"}) {
    EXPECT_FALSE(ParseUint64(bad).ok()) << bad;
  }
}

TEST(DurationTest, ParsesUnitsAndRefusesOverflow) {
  EXPECT_EQ(ParseDurationMs("500ms").value(), 500);
  EXPECT_EQ(ParseDurationMs("30").value(), 30'000);
  EXPECT_EQ(ParseDurationMs("0").value(), 0);
  EXPECT_EQ(ParseDurationMs("15m").value(), 900'000);
  EXPECT_EQ(ParseDurationMs("7d").value(), 7 * 86'400'000LL);
  for (const char* bad : {"", "ms", "1y", "-1s", "1.5s", "1 s", "9223372036854775807s",
                          "106751991167301d", "99999999999999999999ms"}) {
    EXPECT_FALSE(ParseDurationMs(bad).ok()) << bad;
  }
  EXPECT_EQ(ParseDurationMs("9223372036854775807ms").value(), INT64_MAX);
}

TEST(DurationTest, FormatsWithTheLargestExactUnit) {
  EXPECT_EQ(FormatDurationMs(0), "0s");
  EXPECT_EQ(FormatDurationMs(10), "10ms");
  EXPECT_EQ(FormatDurationMs(1500), "1500ms");
  EXPECT_EQ(FormatDurationMs(90'000), "90s");
  EXPECT_EQ(FormatDurationMs(3'600'000), "1h");
  EXPECT_EQ(FormatDurationMs(30 * 86'400'000LL), "30d");
}

}  // namespace
}  // namespace docshift
