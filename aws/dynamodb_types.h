// DynamoDB AttributeValue JSON -> BSON, per issue #12 "Type mapping" (the same in
// capture, snapshot and verify):
//   N    -> int32 when an integer that fits, else int64, else Decimal128 when it has at
//           most 34 significant digits, else an InvalidArgument error naming the attribute
//           (the caller sends the item to the dead-letter file). Never a double.
//   S    -> string; B -> binary subtype 0 (base64-decoded); BOOL; NULL -> null;
//   M    -> document; L -> array;
//   SS/NS/BS -> arrays sorted canonically (strings and binaries by bytes, numbers by value).
//   _id  -> for a hash key only, the converted key value; for hash + range,
//           {<hash name>: value, <range name>: value}. Key attributes also stay top-level.
//           An item attribute already named `_id` is kept as `_dynamodb_id`.
//
// JSON is parsed with RapidJSON (Debian rapidjson-dev): header-only, one of the fastest
// C++ parsers, and its in-situ DOM suits per-record conversion without copies; simdjson
// is faster on large documents but its On-Demand API is forward-only, which the key
// lookup (for `_id`) before the other attributes does not fit.
//
// Thread safety: pure functions.
#pragma once

#include <bson/bson.h>
#include <rapidjson/document.h>

#include <string>
#include <string_view>

#include "util/status.h"

namespace docshift::aws {

struct KeySchema {
  std::string hash_name;
  std::string range_name;  // Empty for a hash-only table.
};

// Appends the AttributeValue `av` ({"S": "x"}, {"N": "1"}, ...) to `parent` under `key`.
// `attr_path` names the attribute in errors ("price", "tags[2]", "a.b").
// Errors: InvalidArgument naming attr_path (bad shape, bad number, bad base64, a number
// Decimal128 cannot hold).
Status AppendAttributeValue(const rapidjson::Value& av, std::string_view attr_path,
                            std::string_view key, bson_t* parent);

// Appends a DynamoDB number string to `parent` under `key` by the rules above.
Status AppendDynamoNumber(std::string_view n, std::string_view attr_path, std::string_view key,
                          bson_t* parent);

// Converts an item (a JSON object: attribute name -> AttributeValue) into `out`
// (initialised by the caller, empty): `_id` first, then every attribute in item order.
// Errors: InvalidArgument for a missing key attribute or any attribute error.
Status ItemToBson(const rapidjson::Value& item, const KeySchema& keys, bson_t* out);

// The same from JSON text. Errors: InvalidArgument for JSON that does not parse.
Status ItemJsonToBson(std::string_view json, const KeySchema& keys, bson_t* out);

// Base64 (RFC 4648, padded) decoding. Errors: InvalidArgument.
StatusOr<std::string> Base64Decode(std::string_view in);

}  // namespace docshift::aws
