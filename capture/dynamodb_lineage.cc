#include "capture/dynamodb_lineage.h"

#include "mongo/mongo_util.h"

namespace docshift::capture {

namespace {

using mongo::IterUtf8;

Status BadPosition(const bson_t* b, const std::string& what) {
  return Status::Corruption("DynamoDB position " + what + ": " + mongo::ToJson(b));
}

}  // namespace

TablePosition* DynamoPosition::Find(const std::string& table) {
  for (auto& t : tables) {
    if (t.table == table) return &t;
  }
  return nullptr;
}

std::string EncodeDynamoPosition(const DynamoPosition& p) {
  bson_t b = BSON_INITIALIZER, tables, table, shards, shard;
  BSON_APPEND_INT32(&b, "v", 1);
  BSON_APPEND_UTF8(&b, "kind", "dynamodb");
  BSON_APPEND_ARRAY_BEGIN(&b, "tables", &tables);
  int ti = 0;
  for (const auto& t : p.tables) {
    const std::string tk = std::to_string(ti++);
    BSON_APPEND_DOCUMENT_BEGIN(&tables, tk.c_str(), &table);
    BSON_APPEND_UTF8(&table, "t", t.table.c_str());
    BSON_APPEND_UTF8(&table, "arn", t.stream_arn.c_str());
    BSON_APPEND_ARRAY_BEGIN(&table, "shards", &shards);
    int si = 0;
    for (const auto& [id, sp] : t.shards) {
      const std::string sk = std::to_string(si++);
      BSON_APPEND_DOCUMENT_BEGIN(&shards, sk.c_str(), &shard);
      BSON_APPEND_UTF8(&shard, "id", id.c_str());
      if (!sp.last_seq.empty()) BSON_APPEND_UTF8(&shard, "s", sp.last_seq.c_str());
      if (sp.done) BSON_APPEND_BOOL(&shard, "d", true);
      bson_append_document_end(&shards, &shard);
    }
    bson_append_array_end(&table, &shards);
    bson_append_document_end(&tables, &table);
  }
  bson_append_array_end(&b, &tables);
  std::string out = mongo::Bytes(&b);
  bson_destroy(&b);
  return out;
}

Status DecodeDynamoPosition(const std::string& token, DynamoPosition* p) {
  bson_t b;
  if (!mongo::ViewBytes(token, &b)) return Status::Corruption("DynamoDB position is not BSON");
  bson_iter_t it;
  if (!bson_iter_init_find(&it, &b, "kind") || !BSON_ITER_HOLDS_UTF8(&it)) return BadPosition(&b, "has no kind");
  const std::string kind = IterUtf8(&it);
  if (kind != "dynamodb") {
    return Status::FailedPrecondition("the spool was captured with a " + kind +
                                      " position; a DynamoDB source cannot resume it");
  }
  p->tables.clear();
  if (!bson_iter_init_find(&it, &b, "tables") || !BSON_ITER_HOLDS_ARRAY(&it)) return BadPosition(&b, "has no tables");
  bson_iter_t ti;
  bson_iter_recurse(&it, &ti);
  while (bson_iter_next(&ti)) {
    if (!BSON_ITER_HOLDS_DOCUMENT(&ti)) return BadPosition(&b, "has a table that is not a document");
    TablePosition t;
    bson_iter_t f;
    bson_iter_recurse(&ti, &f);
    bool has_shards = false;
    while (bson_iter_next(&f)) {
      const std::string key = bson_iter_key(&f);
      if (key == "t" && BSON_ITER_HOLDS_UTF8(&f)) {
        t.table = IterUtf8(&f);
      } else if (key == "arn" && BSON_ITER_HOLDS_UTF8(&f)) {
        t.stream_arn = IterUtf8(&f);
      } else if (key == "shards" && BSON_ITER_HOLDS_ARRAY(&f)) {
        has_shards = true;
        bson_iter_t si;
        bson_iter_recurse(&f, &si);
        while (bson_iter_next(&si)) {
          if (!BSON_ITER_HOLDS_DOCUMENT(&si)) return BadPosition(&b, "has a shard that is not a document");
          bson_iter_t g;
          bson_iter_recurse(&si, &g);
          std::string id;
          ShardPosition sp;
          while (bson_iter_next(&g)) {
            const std::string k = bson_iter_key(&g);
            if (k == "id" && BSON_ITER_HOLDS_UTF8(&g)) id = IterUtf8(&g);
            if (k == "s" && BSON_ITER_HOLDS_UTF8(&g)) sp.last_seq = IterUtf8(&g);
            if (k == "d" && BSON_ITER_HOLDS_BOOL(&g)) sp.done = bson_iter_bool(&g);
          }
          if (id.empty()) return BadPosition(&b, "has a shard without an id");
          t.shards[id] = sp;
        }
      }
    }
    if (t.table.empty() || t.stream_arn.empty() || !has_shards) return BadPosition(&b, "has an incomplete table");
    p->tables.push_back(std::move(t));
  }
  return Status::OK();
}

std::string EncodeShardStep(const ShardStep& s) {
  bson_t b = BSON_INITIALIZER;
  BSON_APPEND_UTF8(&b, "t", s.table.c_str());
  BSON_APPEND_UTF8(&b, "id", s.shard_id.c_str());
  if (!s.last_seq.empty()) BSON_APPEND_UTF8(&b, "s", s.last_seq.c_str());
  if (s.done) BSON_APPEND_BOOL(&b, "d", true);
  if (s.forget) BSON_APPEND_BOOL(&b, "forget", true);
  std::string out = mongo::Bytes(&b);
  bson_destroy(&b);
  return out;
}

Status DecodeShardStep(const std::string& token, ShardStep* s) {
  bson_t b;
  if (!mongo::ViewBytes(token, &b)) return Status::Corruption("DynamoDB shard step is not BSON");
  *s = ShardStep{};
  bson_iter_t it;
  bson_iter_init(&it, &b);
  while (bson_iter_next(&it)) {
    const std::string k = bson_iter_key(&it);
    if (k == "t" && BSON_ITER_HOLDS_UTF8(&it)) s->table = IterUtf8(&it);
    if (k == "id" && BSON_ITER_HOLDS_UTF8(&it)) s->shard_id = IterUtf8(&it);
    if (k == "s" && BSON_ITER_HOLDS_UTF8(&it)) s->last_seq = IterUtf8(&it);
    if (k == "d" && BSON_ITER_HOLDS_BOOL(&it)) s->done = bson_iter_bool(&it);
    if (k == "forget" && BSON_ITER_HOLDS_BOOL(&it)) s->forget = bson_iter_bool(&it);
  }
  if (s->table.empty() || s->shard_id.empty()) return BadPosition(&b, "step names no table or shard");
  return Status::OK();
}

void ApplyShardStep(const ShardStep& s, DynamoPosition* p) {
  TablePosition* t = p->Find(s.table);
  if (t == nullptr) return;
  if (s.forget) {
    t->shards.erase(s.shard_id);
    return;
  }
  ShardPosition& sp = t->shards[s.shard_id];
  if (!s.last_seq.empty()) sp.last_seq = s.last_seq;
  if (s.done) sp.done = true;
}

ShardPlan PlanShards(const std::vector<aws::ShardInfo>& described, const std::map<std::string, ShardPosition>& known,
                     const std::set<std::string>& running) {
  ShardPlan plan;
  std::set<std::string> listed;
  for (const auto& s : described) listed.insert(s.shard_id);
  auto done = [&](const std::string& id) {
    auto it = known.find(id);
    return it != known.end() && it->second.done;
  };
  for (const auto& [id, sp] : known) {
    if (listed.count(id) != 0) continue;
    (sp.done ? plan.forget : plan.vanished).push_back(id);
  }
  for (const auto& id : running) {
    if (listed.count(id) == 0 && known.count(id) == 0) plan.vanished.push_back(id);
  }
  for (const auto& s : described) {
    if (done(s.shard_id) || running.count(s.shard_id) != 0) continue;
    const std::string& parent = s.parent_shard_id;
    // A parent still listed must be read to its end first; one no longer listed was
    // trimmed (its records are gone: if the spool had not finished it, it is in
    // `vanished` and capture stops before reading the child).
    const bool parent_ready = parent.empty() || done(parent) || (listed.count(parent) == 0 && known.count(parent) == 0);
    if (parent_ready) plan.start.push_back(s.shard_id);
  }
  return plan;
}

}  // namespace docshift::capture
