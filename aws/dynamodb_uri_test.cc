// dynamodb:// source URIs: the accepted forms and each refusal.
#include "aws/dynamodb_uri.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace docshift::aws {
namespace {

TEST(DynamoUri, RegionAndTables) {
  auto u = ParseDynamoUri("dynamodb://us-east-1/orders,users", "--source");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->region, "us-east-1");
  EXPECT_EQ(u->tables, (std::vector<std::string>{"orders", "users"}));
}

TEST(DynamoUri, RegionFromEnvironmentAndEmptyItems) {
  auto u = ParseDynamoUri("dynamodb:///orders,,a.b-c_d", "--source");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->region, "");
  EXPECT_EQ(u->tables, (std::vector<std::string>{"orders", "a.b-c_d"}));
}

TEST(DynamoUri, Refusals) {
  for (const char* bad : {"mongodb://h/", "dynamodb://us-east-1", "dynamodb://us-east-1/",
                          "dynamodb://US_EAST/orders", "dynamodb://us-east-1/ab",
                          "dynamodb://us-east-1/or ders", "dynamodb://us-east-1/orders,orders",
                          "dynamodb://us-east-1/orders?x=1"}) {
    auto u = ParseDynamoUri(bad, "--source");
    EXPECT_FALSE(u.ok()) << bad;
    if (!u.ok()) {
      EXPECT_EQ(u.status().code(), Status::Code::kInvalidArgument) << bad;
      EXPECT_NE(u.status().ToString().find("--source"), std::string::npos) << u.status().ToString();
    }
  }
}

TEST(DynamoUri, IsDynamoUriAndIdentity) {
  EXPECT_TRUE(IsDynamoUri("dynamodb://x/t12"));
  EXPECT_FALSE(IsDynamoUri("mongodb://x/"));
  EXPECT_EQ(DynamoIdentity("us-east-1", ""), "dynamodb:us-east-1");
  EXPECT_EQ(DynamoIdentity("us-east-1", "http://127.0.0.1:27105"), "dynamodb:us-east-1@http://127.0.0.1:27105");
}

}  // namespace
}  // namespace docshift::aws
