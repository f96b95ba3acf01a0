// dynamodb://REGION/TABLE[,TABLE...] parsing and the source identity.
#include "aws/dynamodb_uri.h"

#include <gtest/gtest.h>

namespace docshift::aws {
namespace {

TEST(DynamoUriTest, RegionAndTables) {
  auto u = ParseDynamoUri("dynamodb://us-east-1/orders,users", "--source");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->region, "us-east-1");
  EXPECT_EQ(u->tables, (std::vector<std::string>{"orders", "users"}));
}

TEST(DynamoUriTest, RegionFromEnvironment) {
  auto u = ParseDynamoUri("dynamodb:///orders", "--source");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->region, "");
  EXPECT_EQ(u->tables, (std::vector<std::string>{"orders"}));
}

TEST(DynamoUriTest, EmptyListItemsIgnored) {
  auto u = ParseDynamoUri("dynamodb://eu-west-1/a.b-c_d,,xyz,", "--source");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->tables, (std::vector<std::string>{"a.b-c_d", "xyz"}));
}

TEST(DynamoUriTest, Refusals) {
  const char* bad[] = {
      "mongodb://h/x",                  // another scheme
      "dynamodb://us-east-1",           // no table
      "dynamodb://us-east-1/",          // no table
      "dynamodb://US_EAST/orders",      // bad region
      "dynamodb://us-east-1/ab",        // too short a table name
      "dynamodb://us-east-1/or ders",   // bad character
      "dynamodb://us-east-1/abc,abc",   // twice
      "dynamodb://us-east-1/abc?x=1",   // options
  };
  for (const char* uri : bad) {
    auto u = ParseDynamoUri(uri, "--source");
    ASSERT_FALSE(u.ok()) << uri;
    EXPECT_TRUE(u.status().IsInvalidArgument()) << uri;
    EXPECT_NE(u.status().message().find("--source"), std::string::npos) << u.status().ToString();
  }
}

TEST(DynamoUriTest, IsDynamoUri) {
  EXPECT_TRUE(IsDynamoUri("dynamodb://x/abc"));
  EXPECT_FALSE(IsDynamoUri("mongodb://x/abc"));
  EXPECT_FALSE(IsDynamoUri("dynamodb:/x"));
}

TEST(DynamoUriTest, Identity) {
  EXPECT_EQ(DynamoIdentity("us-east-1", ""), "dynamodb:us-east-1");
  EXPECT_EQ(DynamoIdentity("us-east-1", "http://127.0.0.1:27105"), "dynamodb:us-east-1@http://127.0.0.1:27105");
}

}  // namespace
}  // namespace docshift::aws
