#include "aws/dynamodb_uri.h"

#include <algorithm>

namespace docshift::aws {

namespace {

bool ValidTableName(std::string_view t) {
  if (t.size() < 3 || t.size() > 255) return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

bool ValidRegion(std::string_view r) {
  return !r.empty() && r.size() <= 64 && std::all_of(r.begin(), r.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

}  // namespace

bool IsDynamoUri(std::string_view uri) { return uri.substr(0, kDynamoDbScheme.size()) == kDynamoDbScheme; }

StatusOr<DynamoUri> ParseDynamoUri(std::string_view uri, std::string_view flag) {
  const std::string f(flag);
  const std::string form = " (the form is dynamodb://REGION/TABLE[,TABLE...], e.g. dynamodb://us-east-1/orders)";
  if (!IsDynamoUri(uri)) return Status::InvalidArgument(f + ": not a dynamodb:// URI" + form);
  std::string_view rest = uri.substr(kDynamoDbScheme.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return Status::InvalidArgument(f + ": names no table" + form);
  DynamoUri out;
  out.region = std::string(rest.substr(0, slash));
  if (!out.region.empty() && !ValidRegion(out.region)) {
    return Status::InvalidArgument(f + ": '" + out.region + "' is not a region name" + form);
  }
  std::string_view tables = rest.substr(slash + 1);
  if (tables.find_first_of("?#") != std::string_view::npos) {
    return Status::InvalidArgument(f + ": takes no options after the tables" + form);
  }
  size_t pos = 0;
  while (pos <= tables.size()) {
    size_t comma = tables.find(',', pos);
    if (comma == std::string_view::npos) comma = tables.size();
    std::string t(tables.substr(pos, comma - pos));
    if (!t.empty()) {
      if (!ValidTableName(t)) {
        return Status::InvalidArgument(f + ": '" + t +
                                       "' is not a DynamoDB table name (3 to 255 characters of A-Z a-z 0-9 _ . -)");
      }
      if (std::find(out.tables.begin(), out.tables.end(), t) != out.tables.end()) {
        return Status::InvalidArgument(f + ": table '" + t + "' is named twice");
      }
      out.tables.push_back(std::move(t));
    }
    pos = comma + 1;
  }
  if (out.tables.empty()) return Status::InvalidArgument(f + ": names no table" + form);
  return out;
}

std::string DynamoIdentity(std::string_view region, std::string_view dynamodb_endpoint) {
  std::string id = "dynamodb:" + std::string(region);
  if (!dynamodb_endpoint.empty()) id += "@" + std::string(dynamodb_endpoint);
  return id;
}

}  // namespace docshift::aws
