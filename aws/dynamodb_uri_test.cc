#include "aws/dynamodb_uri.h"

#include <gtest/gtest.h>

namespace docshift::aws {
namespace {

TEST(DynamoUri, RegionAndTables) {
  auto u = ParseDynamoUri("dynamodb://us-east-1/orders,users.v2", "--source");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->region, "us-east-1");
  EXPECT_EQ(u->tables, (std::vector<std::string>{"orders", "users.v2"}));
  auto v = ParseDynamoUri("dynamodb:///orders", "--source");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->region, "");
  EXPECT_TRUE(IsDynamoUri("dynamodb://x/y"));
  EXPECT_FALSE(IsDynamoUri("mongodb://h/"));
}

TEST(DynamoUri, BadUrisAreOneLineNamingTheFlag) {
  for (const char* bad : {"dynamodb://us-east-1", "dynamodb://us-east-1/", "dynamodb://us-east-1/ab",
                          "dynamodb://us-east-1/a b c", "dynamodb://US_EAST/orders", "dynamodb://r/orders,orders",
                          "dynamodb://r/orders?x=1", "mongodb://r/orders"}) {
    auto u = ParseDynamoUri(bad, "--source");
    ASSERT_FALSE(u.ok()) << bad;
    EXPECT_TRUE(u.status().IsInvalidArgument()) << bad;
    EXPECT_NE(u.status().ToString().find("--source"), std::string::npos) << u.status().ToString();
    EXPECT_EQ(u.status().ToString().find('\n'), std::string::npos);
  }
}

TEST(DynamoUri, Identity) {
  EXPECT_EQ(DynamoIdentity("us-east-1", ""), "dynamodb:us-east-1");
  EXPECT_EQ(DynamoIdentity("us-east-1", "http://127.0.0.1:5000"), "dynamodb:us-east-1@http://127.0.0.1:5000");
}

}  // namespace
}  // namespace docshift::aws
