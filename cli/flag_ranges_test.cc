// The flag-range table against the commands: every valued flag of every command has a row,
// every row names flags its commands accept, defaults are inside their ranges, and each
// range's edges are accepted while the values just past them are refused in one line
// naming the flag and the range.
#include "cli/flag_ranges.h"

#include <gflags/gflags.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "cli/command.h"
#include "util/duration.h"

namespace docshift::cli {
namespace {

bool Accepts(const Command& c, const std::string& flag) {
  return std::find(c.flags.begin(), c.flags.end(), flag) != c.flags.end();
}

const Command* CommandNamed(const std::string& name) {
  for (const Command& c : AllCommands())
    if (c.name == name) return &c;
  return nullptr;
}

// A flag holds a number or a duration: a numeric gflags type, or a string whose default
// parses as a duration.
bool Valued(const std::string& flag) {
  gflags::CommandLineFlagInfo info;
  if (!gflags::GetCommandLineFlagInfo(flag.c_str(), &info)) return false;
  if (info.type == "int32" || info.type == "int64" || info.type == "uint64" ||
      info.type == "uint32" || info.type == "double") {
    return true;
  }
  return info.type == "string" && !info.default_value.empty() &&
         ParseDurationMs(info.default_value).ok();
}

void ExpectRefused(const FlagRange& r, const std::string& value) {
  Status s = CheckFlagValue(r, value);
  ASSERT_TRUE(s.IsInvalidArgument()) << "--" << r.flag << " " << value;
  EXPECT_EQ(s.message().rfind("--" + r.flag + " '", 0), 0u) << s.ToString();
  EXPECT_NE(s.message().find(DescribeRange(r)), std::string::npos) << s.ToString();
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.ToString();
}

TEST(FlagRangesTest, EveryValuedFlagOfEveryCommandHasARow) {
  for (const Command& c : AllCommands()) {
    for (const std::string& flag : c.flags) {
      if (!Valued(flag)) continue;
      EXPECT_NE(FindFlagRange(c.name, flag), nullptr) << c.name << " --" << flag;
    }
  }
}

TEST(FlagRangesTest, RowsNameAcceptedFlagsOncePerCommandWithValidDefaults) {
  std::set<std::pair<std::string, std::string>> seen;
  for (const FlagRange& r : FlagRanges()) {
    EXPECT_FALSE(r.commands.empty()) << r.flag;
    gflags::CommandLineFlagInfo info;
    ASSERT_TRUE(gflags::GetCommandLineFlagInfo(r.flag.c_str(), &info)) << r.flag;
    EXPECT_TRUE(CheckFlagValue(r, info.default_value).ok())
        << "default of --" << r.flag << ": " << CheckFlagValue(r, info.default_value).ToString();
    for (const std::string& name : r.commands) {
      const Command* c = CommandNamed(name);
      ASSERT_NE(c, nullptr) << name;
      EXPECT_TRUE(Accepts(*c, r.flag)) << name << " does not accept --" << r.flag;
      EXPECT_TRUE(seen.insert({name, r.flag}).second) << "two rows for " << name << " --" << r.flag;
    }
  }
}

TEST(FlagRangesTest, EdgesAcceptedValuesPastThemRefused) {
  for (const FlagRange& r : FlagRanges()) {
    SCOPED_TRACE("--" + r.flag);
    switch (r.kind) {
      case FlagKind::kInteger:
      case FlagKind::kSeqOrTime:
        EXPECT_TRUE(CheckFlagValue(r, std::to_string(r.min)).ok());
        EXPECT_TRUE(CheckFlagValue(r, std::to_string(r.max)).ok());
        if (r.min > INT64_MIN && !(r.kind == FlagKind::kSeqOrTime && r.min == 0)) {
          ExpectRefused(r, std::to_string(r.min - 1));
        }
        ExpectRefused(r, r.max < INT64_MAX ? std::to_string(r.max + 1) : "9223372036854775808");
        ExpectRefused(r, "18446744073709551616");
        break;
      case FlagKind::kDuration:
        EXPECT_TRUE(CheckFlagValue(r, std::to_string(r.min) + "ms").ok());
        EXPECT_TRUE(CheckFlagValue(r, FormatDurationMs(r.max)).ok());
        if (r.min > 0) ExpectRefused(r, std::to_string(r.min - 1) + "ms");
        ExpectRefused(r, std::to_string(r.max + 1) + "ms");
        ExpectRefused(r, "-1s");
        break;
      case FlagKind::kSlot:
        EXPECT_TRUE(CheckFlagValue(r, "").ok());  // unset: no slots
        EXPECT_TRUE(CheckFlagValue(r, "0/1").ok());
        EXPECT_TRUE(CheckFlagValue(r, "63/64").ok());
        ExpectRefused(r, "3/3");
        ExpectRefused(r, "0/65");
        ExpectRefused(r, "1");
        break;
      case FlagKind::kChoice:
        for (const auto& c : r.choices) EXPECT_TRUE(CheckFlagValue(r, c).ok()) << c;
        ExpectRefused(r, "");
        ExpectRefused(r, "DECIMAL");
        ExpectRefused(r, r.choices.front() + " ");
        break;
      default:
        break;
    }
    if (r.kind == FlagKind::kInteger || r.kind == FlagKind::kDuration) {
      ExpectRefused(r, "abc");
      if (!r.empty_ok) ExpectRefused(r, "");
    }
  }
}

TEST(FlagRangesTest, TheIssueExamplesAreRefused) {
  const std::vector<std::tuple<std::string, std::string, std::string>> bad = {
      {"apply", "from", "18446744073709551616"}, {"apply", "batch_max_ops", "0"},
      {"apply", "batch_max_ops", "-5"},          {"apply", "checkpoint_interval", "0"},
      {"apply", "progress_interval", "0"},       {"apply", "max_update_statements", "-7"},
      {"apply", "lanes", "0"},                   {"capture", "batch_max_events", "0"},
      {"capture", "batch_max_events", "-1"},     {"capture", "batch_max_bytes", "0"},
      {"capture", "segment_max_bytes", "0"},     {"capture", "segment_max_age", "0"},
      {"capture", "oplog_max_await", "0"},       {"capture", "zstd_level", "1000"},
      {"capture", "start_at", "4102444800"},     {"snapshot", "parallel", "0"},
      {"apply", "name", "../../x"},              {"apply", "name", ""},
      {"status", "name", "a/b"},                 {"cutover", "name", ".x"},
      {"capture", "dynamodb_numbers", "float"},  {"verify", "dynamodb_numbers", "exact"},
  };
  for (const auto& [cmd, flag, value] : bad) {
    const FlagRange* r = FindFlagRange(cmd, flag);
    ASSERT_NE(r, nullptr) << cmd << " --" << flag;
    Status s = CheckFlagValue(*r, value);
    EXPECT_TRUE(s.IsInvalidArgument()) << cmd << " --" << flag << " " << value;
    EXPECT_EQ(s.message().rfind("--" + flag + " '", 0), 0u) << s.ToString();
  }
}

TEST(FlagRangesTest, ClusterTimes) {
  const int64_t now_ms = 1'800'000'000'000;
  EXPECT_EQ(ParseClusterTime("1700000000", now_ms, "--start_at").value(), 1700000000ull << 32);
  EXPECT_EQ(ParseClusterTime("1700000000.7", now_ms, "--start_at").value(),
            (1700000000ull << 32) | 7);
  EXPECT_TRUE(ParseClusterTime("1800000000", now_ms, "--start_at").ok());
  for (const char* bad : {"0", "1800000001", "4294967296", "1.4294967296", "1.", ".1", "1.2.3",
                          "x", "-1", "+1", "1.+1", "18446744073709551616"}) {
    auto v = ParseClusterTime(bad, now_ms, "--start_at");
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_EQ(v.status().message().rfind("--start_at '", 0), 0u) << v.status().ToString();
  }
}

TEST(FlagRangesTest, FlagOrder) {
  EXPECT_TRUE(CheckFlagOrder("--from_seq", "5", 5, "--until_seq", "5", 5).ok());
  Status s = CheckFlagOrder("--from_seq", "100", 100, "--until_seq", "50", 50);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("--from_seq '100'"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("--until_seq '50'"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace docshift::cli
