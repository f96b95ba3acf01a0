#include "apply/positions.h"

#include <gtest/gtest.h>

namespace docshift::apply {
namespace {

// A 285-event spool, source times 1 s apart from 2023-11-14T22:13:20Z.
constexpr int64_t kT0 = 1'700'000'000'000;
SpoolRange Spool285() { return SpoolRange{1, 286, kT0, kT0 + 284'000}; }

Point P(const std::string& text, const std::string& flag = "--from") {
  auto p = ParsePoint(text, flag);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? p.value() : Point{};
}

std::string Refused(const std::string& from, const std::string& until, const SpoolRange& s = Spool285()) {
  auto r = ResolveRange(P(from), P(until, "--until"), s);
  EXPECT_FALSE(r.ok()) << "from '" << from << "' until '" << until << "' was accepted";
  if (r.ok()) return "";
  EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
  return r.status().message();
}

TEST(ParsePointTest, SequenceTimeAndBadText) {
  EXPECT_FALSE(P("").set);
  Point s = P("123");
  EXPECT_TRUE(s.set);
  EXPECT_FALSE(s.is_time);
  EXPECT_EQ(s.seq, 123u);
  Point t = P("2026-01-01T00:00:00Z");
  EXPECT_TRUE(t.is_time);
  EXPECT_EQ(t.time_ms, 1767225600000);
  auto bad = ParsePoint("yesterday", "--until");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--until"), std::string::npos);
  auto huge = ParsePoint("99999999999999999999999", "--from");  // stoull would throw
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("--from"), std::string::npos);
}

TEST(ResolveRangeTest, NoFlagsIsANormalApply) {
  auto r = ResolveRange(Point{}, Point{}, Spool285());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->replay);
  EXPECT_FALSE(r->Past(1'000'000, kT0 + 1'000'000'000));
  EXPECT_FALSE(r->Before(0));
  // Also on an empty spool.
  EXPECT_TRUE(ResolveRange(Point{}, Point{}, SpoolRange{}).ok());
}

TEST(ResolveRangeTest, FromInsideTheSpoolIsAReplay) {
  auto r = ResolveRange(P("100"), Point{}, Spool285());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->replay);
  EXPECT_EQ(r->from_seq, 100u);
  r = ResolveRange(P("285"), P("285", "--until"), Spool285());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->Past(286, kT0));
  EXPECT_FALSE(r->Past(285, kT0));
}

TEST(ResolveRangeTest, FromPastTheEndIsRefusedNamingTheRange) {
  const std::string m = Refused("99999999", "");
  EXPECT_NE(m.find("--from 99999999"), std::string::npos) << m;
  EXPECT_NE(m.find("seq 1..285"), std::string::npos) << m;
  EXPECT_FALSE(Refused("286", "").empty());
  EXPECT_FALSE(Refused("0", "").empty());
  // Before a pruned start.
  const std::string p = Refused("5", "", SpoolRange{100, 286, kT0, kT0 + 1});
  EXPECT_NE(p.find("seq 100..285"), std::string::npos) << p;
  // Nothing to replay in an empty spool.
  EXPECT_FALSE(Refused("1", "", SpoolRange{1, 1, 0, 0}).empty());
}

TEST(ResolveRangeTest, UntilBeforeFromIsRefused) {
  const std::string m = Refused("100", "50");
  EXPECT_NE(m.find("--until 50 is before --from 100"), std::string::npos) << m;
  EXPECT_FALSE(Refused("2023-11-14T22:14:00Z", "2023-11-14T22:13:30Z").empty());
}

TEST(ResolveRangeTest, UntilSelectingNothingIsRefused) {
  EXPECT_NE(Refused("", "0").find("--until 0"), std::string::npos);
  EXPECT_NE(Refused("", "1970-01-01T00:00:00Z").find("--until"), std::string::npos);
  EXPECT_FALSE(Refused("", "2000-01-01T00:00:00Z").empty());
  // A later time, or a sequence not captured yet (following capture), is fine.
  auto r = ResolveRange(Point{}, P("2099-01-01T00:00:00Z", "--until"), Spool285());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->Past(1, 4'070'908'800'001));
  EXPECT_TRUE(ResolveRange(Point{}, P("1000", "--until"), Spool285()).ok());
}

TEST(ResolveRangeTest, FromTimeAfterTheNewestEventIsRefused) {
  const std::string m = Refused("2099-01-01T00:00:00Z", "");
  EXPECT_NE(m.find("after the newest event"), std::string::npos) << m;
  auto r = ResolveRange(P("2023-11-14T22:13:21Z"), Point{}, Spool285());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->from_seq, 1u);  // scans from the start, skipping earlier events
  EXPECT_TRUE(r->Before(kT0 + 999));
  EXPECT_FALSE(r->Before(kT0 + 1000));
}

TEST(CheckUntilAfterStartTest, UntilBelowTheCheckpointIsRefused) {
  auto r = ResolveRange(Point{}, P("50", "--until"), Spool285());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(CheckUntilAfterStart(*r, 50, "apply").ok());
  Status s = CheckUntilAfterStart(*r, 100, "apply");
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("seq 100"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace docshift::apply
