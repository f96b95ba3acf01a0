// Defaults docshift puts into connection strings (issue #16, item 7).
#include <gtest/gtest.h>

#include "mongo/mongo_util.h"

namespace docshift::mongo {
namespace {

TEST(StallTimeoutTest, DefaultIsSixtySecondsUnlessTheUriSaysOtherwise) {
  auto u = ParseUri("mongodb://127.0.0.1:1/?directConnection=true", "--source");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(ApplyStallTimeout(u->get()), kDefaultStallTimeoutMs);
  EXPECT_EQ(kDefaultStallTimeoutMs, 60'000);
  EXPECT_EQ(mongoc_uri_get_option_as_int32(u->get(), MONGOC_URI_SOCKETTIMEOUTMS, -1), 60'000);

  auto v = ParseUri("mongodb://127.0.0.1:1/?socketTimeoutMS=5000", "--source");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(ApplyStallTimeout(v->get()), 5000);
  EXPECT_EQ(mongoc_uri_get_option_as_int32(v->get(), MONGOC_URI_SOCKETTIMEOUTMS, -1), 5000);

  // Case-insensitive, as libmongoc reads options; 0 is libmongoc's own default (5 min).
  auto w = ParseUri("mongodb://127.0.0.1:1/?SOCKETTIMEOUTMS=0", "--source");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(ApplyStallTimeout(w->get()), 300'000);
}

TEST(StallTimeoutTest, SocketErrorsCountAsStalls) {
  bson_error_t e{};
  e.domain = MONGOC_ERROR_STREAM;
  e.code = MONGOC_ERROR_STREAM_SOCKET;
  EXPECT_TRUE(IsStallTimeout(e));
  e.domain = MONGOC_ERROR_SERVER;
  e.code = 11000;
  EXPECT_FALSE(IsStallTimeout(e));
}

}  // namespace
}  // namespace docshift::mongo
