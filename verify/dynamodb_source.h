// The pure part of verify's DynamoDB source (verify/dynamodb_source.cc), exposed for
// dynamodb_source_test.cc.
#pragma once

#include <rapidjson/document.h>

#include <string>

#include "aws/dynamodb_types.h"
#include "mongo/mongo_util.h"

namespace docshift::verify {

// The document an item becomes (aws::ItemToBson with `convert`: as capture and snapshot
// convert it with the same --dynamodb_numbers),
// with *problem empty. An item that does not convert (a number no BSON type holds)
// becomes just {_id: its key} with *problem the conversion error, which names the
// attribute; when its key does not convert either, {_id: "unconvertible key {...}"}.
// Never fails.
mongo::BsonPtr ItemToSourceBson(const rapidjson::Value& item, const aws::KeySchema& keys, std::string* problem,
                                const aws::ConvertOptions& convert = {});

}  // namespace docshift::verify
