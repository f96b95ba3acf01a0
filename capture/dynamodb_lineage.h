// DynamoDB Streams positions and shard lineage, as pure code (no network): what capture's
// DynamoDB source (capture/dynamodb_source.cc) decides from DescribeStream's shard list.
//
// A stream is a set of shards; a shard may have a parent, and a parent's records come
// before its children's (a split or a periodic roll-over closes the parent and opens
// children). DynamoDB keeps 24 hours of records, then trims the oldest shards.
//
// Position (the spool's resume token, BSON):
//   {v: 1, kind: "dynamodb", tables: [{t: TABLE, arn: STREAM_ARN,
//                                     shards: [{id: SHARD, s: LAST_SEQ, d: true}, ...]}]}
// `s` is the sequence number of the last record of that shard in the spool (absent: none
// yet), `d` is set once the shard is closed and read to its end. A shard that is not
// listed is read from its oldest record (TRIM_HORIZON) once its parent is done: a new
// spool lists no shard, so it starts at the oldest record every shard still holds (a
// LATEST iterator cannot be made durable, and replaying older records is harmless: each
// record carries the item's whole new image and apply replays from the snapshot's start).
//
// Thread safety: pure functions over values.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "aws/dynamodb_client.h"
#include "util/status.h"

namespace docshift::capture {

struct ShardPosition {
  std::string last_seq;  // "" when nothing of the shard is in the spool yet
  bool done = false;     // closed and read to its end
};

struct TablePosition {
  std::string table;
  std::string stream_arn;
  std::map<std::string, ShardPosition> shards;
};

struct DynamoPosition {
  std::vector<TablePosition> tables;
  TablePosition* Find(const std::string& table);
};

std::string EncodeDynamoPosition(const DynamoPosition& p);
// Errors: FailedPrecondition when the token is another kind of source's; Corruption when
// it is not a well-formed DynamoDB position.
Status DecodeDynamoPosition(const std::string& token, DynamoPosition* p);

// The token of one SourceItem (what Advance folds in): the shard's position after the
// item, or that the shard is gone from the stream and can be forgotten.
struct ShardStep {
  std::string table;
  std::string shard_id;
  std::string last_seq;  // "" keeps the one before
  bool done = false;
  bool forget = false;  // a done shard DescribeStream no longer lists (trimmed)
};
std::string EncodeShardStep(const ShardStep& s);
Status DecodeShardStep(const std::string& token, ShardStep* s);
// Folds a step into p (the table must be in p; unknown tables are ignored).
void ApplyShardStep(const ShardStep& s, DynamoPosition* p);

// What to do next with one table's stream.
struct ShardPlan {
  // Shards to start reading now, parents before children: neither done nor running, and
  // whose parent is done or no longer listed (trimmed, or never seen).
  std::vector<std::string> start;
  // Shards the spool has not finished that DescribeStream no longer lists: their records
  // were trimmed before capture read them (history lost).
  std::vector<std::string> vanished;
  // Done shards no longer listed: drop them from the position.
  std::vector<std::string> forget;
};

// known: every shard the position or this run knows (done or not); running: shards a
// reader is reading now.
ShardPlan PlanShards(const std::vector<aws::ShardInfo>& described, const std::map<std::string, ShardPosition>& known,
                     const std::set<std::string>& running);

}  // namespace docshift::capture
