// DynamoDB AttributeValue JSON -> BSON, per issue #12 "Type mapping" (the same in
// capture, snapshot and verify):
//   N    -> int32 when an integer that fits, else int64, else Decimal128 when it has at
//           most 34 significant digits and an exponent Decimal128 holds. A number that
//           fits none of these (DynamoDB allows 38 digits) follows ConvertOptions::numbers
//           (--dynamodb_numbers): decimal (the default) is an InvalidArgument error naming
//           the attribute (the caller dead-letters the item); string stores its canonical
//           decimal text (CanonicalNumber); double the nearest double. Never a double
//           otherwise: only these numbers change with the mode, the others keep their
//           exact type in every mode.
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

// What becomes of a number that fits no exact BSON type (see above). The names are
// --dynamodb_numbers' values, and what a spool records (SpoolCreated.dynamodb_numbers).
enum class NumberMode { kDecimal, kString, kDouble };

struct ConvertOptions {
  NumberMode numbers = NumberMode::kDecimal;
};

// "decimal", "string", "double".
const char* NumberModeName(NumberMode mode);
// The reverse; "" is decimal too (a spool written before the mode existed converted
// exactly). Errors: InvalidArgument naming the value and the choices.
StatusOr<NumberMode> ParseNumberMode(std::string_view name);

struct KeySchema {
  std::string hash_name;
  std::string range_name;  // Empty for a hash-only table.
};

// Appends the AttributeValue `av` ({"S": "x"}, {"N": "1"}, ...) to `parent` under `key`.
// `attr_path` names the attribute in errors ("price", "tags[2]", "a.b").
// Errors: InvalidArgument naming attr_path (bad shape, bad number, bad base64, a number
// Decimal128 cannot hold under NumberMode::kDecimal, or one out of a double's range under
// kDouble).
Status AppendAttributeValue(const rapidjson::Value& av, std::string_view attr_path,
                            std::string_view key, bson_t* parent, const ConvertOptions& opts = {});

// Appends a DynamoDB number string to `parent` under `key` by the rules above.
Status AppendDynamoNumber(std::string_view n, std::string_view attr_path, std::string_view key,
                          bson_t* parent, const ConvertOptions& opts = {});

// The canonical text of a valid DynamoDB number, what NumberMode::kString stores: no
// '+', no leading zeros, no trailing zeros after the point, "0" for zero; plain notation
// for an integer of at most 40 digits and for a fraction whose first significant digit is
// at most 6 places after the point, else d.dddE+n. So "012.50" -> "12.5",
// "1.5E+3" -> "1500", "1E-10" -> "1E-10". Errors: InvalidArgument as for a bad N.
StatusOr<std::string> CanonicalNumber(std::string_view n, std::string_view attr_path);

// Converts an item (a JSON object: attribute name -> AttributeValue) into `out`
// (initialised by the caller, empty): `_id` first, then every attribute in item order.
// Errors: InvalidArgument for a missing key attribute or any attribute error.
Status ItemToBson(const rapidjson::Value& item, const KeySchema& keys, bson_t* out,
                  const ConvertOptions& opts = {});

// The same from JSON text. Errors: InvalidArgument for JSON that does not parse.
Status ItemJsonToBson(std::string_view json, const KeySchema& keys, bson_t* out,
                      const ConvertOptions& opts = {});

// Base64 (RFC 4648, padded) decoding. Errors: InvalidArgument.
StatusOr<std::string> Base64Decode(std::string_view in);

}  // namespace docshift::aws
