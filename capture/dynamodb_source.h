// DynamoDB Streams as a capture source (issue #12): one reader per shard being read,
// parents read to their end before their children (capture/dynamodb_lineage.h), the
// position per shard durable with the events it covers.
//
// Records become events of namespace dynamodb.TABLE: INSERT -> insert, MODIFY -> replace
// with the whole new image, REMOVE -> delete; TTL deletes (userIdentity
// dynamodb.amazonaws.com) follow CaptureOptions::ttl_deletes. Each event keeps the record
// as received (ChangeEvent.source_record). Item values are converted by
// aws/dynamodb_types.h; a record that cannot be converted keeps its operation and key
// with conversion_error set, and apply dead-letters it naming the attribute. Numbers no
// exact BSON type holds follow CaptureOptions::dynamodb_numbers (recorded in the spool).
//
// Only tables whose stream shows the new image (NEW_IMAGE or NEW_AND_OLD_IMAGES) can be
// captured; the user's stream settings are never changed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "aws/dynamodb_client.h"
#include "capture/source.h"

namespace docshift::capture {

// The source for tables (each captured as dynamodb.TABLE), with one DynamoDB client per
// thread made from client_options.
std::unique_ptr<ChangeSource> NewDynamoSource(SourceContext* ctx, aws::DynamoClientOptions client_options,
                                              std::vector<std::string> tables);

// InvalidArgument unless the table's stream is enabled and shows new images.
Status CheckCapturable(const aws::TableDescription& t);

// One stream record as an event. *skip set (and ev untouched) for a TTL delete that
// CaptureOptions::ttl_deletes says to skip. Conversion failures are recorded in ev
// (conversion_error), never returned: the error return is for a record that is not a
// DynamoDB Streams record at all (Corruption-like: no event name or sequence number).
// Item values are converted with `convert`.
Status StreamRecordToEvent(const aws::StreamRecord& r, const std::string& table, const aws::KeySchema& keys,
                           bool skip_ttl_deletes, pb::ChangeEvent* ev, bool* skip,
                           const aws::ConvertOptions& convert = {});

}  // namespace docshift::capture
