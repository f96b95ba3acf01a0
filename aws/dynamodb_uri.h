// `dynamodb://REGION/TABLE[,TABLE...]`: the source URI of a DynamoDB source, shared by
// capture, snapshot, verify and cutover.
//
//   dynamodb://us-east-1/orders,users   region us-east-1, tables orders and users
//   dynamodb:///orders                  region from AWS_REGION / the profile (aws/credentials.h)
//
// Each table is namespace `dynamodb.TABLE` (kDynamoDb). Table names follow DynamoDB's
// rule: 3 to 255 characters of [A-Za-z0-9_.-].
//
// The source identity a spool records (SpoolCreated.source_id) is
// "dynamodb:REGION" plus "@ENDPOINT" when an endpoint is configured: the account's tables
// in one region, whichever of them a command selects. It never holds a credential.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace docshift::aws {

inline constexpr std::string_view kDynamoDbScheme = "dynamodb://";
// The database name every DynamoDB table's namespace has.
inline constexpr std::string_view kDynamoDb = "dynamodb";

struct DynamoUri {
  std::string region;               // "" when the URI leaves it to the environment
  std::vector<std::string> tables;  // in the order given, no duplicates
};

// Whether uri is a DynamoDB source URI (by its scheme).
bool IsDynamoUri(std::string_view uri);

// Errors: InvalidArgument naming `flag` and the fix (no table, a bad table name, a
// duplicate, a bad region).
StatusOr<DynamoUri> ParseDynamoUri(std::string_view uri, std::string_view flag);

// "dynamodb:us-east-1" or "dynamodb:us-east-1@http://127.0.0.1:27105".
std::string DynamoIdentity(std::string_view region, std::string_view dynamodb_endpoint);

}  // namespace docshift::aws
