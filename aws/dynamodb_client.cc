#include "aws/dynamodb_client.h"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cmath>

#include "aws/dynamodb_client_internal.h"
#include "aws/http_client.h"
#include "aws/sigv4.h"
#include "aws/text.h"
#include "util/backoff.h"

namespace docshift::aws {
namespace {

using rapidjson::Document;
using rapidjson::Value;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr char kJsonContentType[] = "application/x-amz-json-1.0";
constexpr char kDynamoTargetPrefix[] = "DynamoDB_20120810.";
constexpr char kStreamsTargetPrefix[] = "DynamoDBStreams_20120810.";
constexpr char kSigningName[] = "dynamodb";
constexpr size_t kMaxMessageChars = 300;

const Value* Member(const Value& obj, const char* name) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

std::string StringMember(const Value& obj, const char* name) {
  const Value* v = Member(obj, name);
  return v != nullptr && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : std::string();
}

int64_t Int64Member(const Value& obj, const char* name) {
  const Value* v = Member(obj, name);
  if (v == nullptr || !v->IsNumber()) return 0;
  if (v->IsInt64()) return v->GetInt64();
  if (v->IsUint64()) return static_cast<int64_t>(std::min<uint64_t>(v->GetUint64(), INT64_MAX));
  return static_cast<int64_t>(v->GetDouble());
}

std::string ToJson(const Value& v) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

StatusOr<std::unique_ptr<Document>> ParseJson(std::string_view json) {
  auto doc = std::make_unique<Document>();
  doc->Parse(json.data(), json.size());
  if (doc->HasParseError()) {
    return Status::Corruption(std::string("the answer is not JSON: ") +
                              rapidjson::GetParseError_En(doc->GetParseError()) + " at offset " +
                              std::to_string(doc->GetErrorOffset()));
  }
  if (!doc->IsObject()) return Status::Corruption("the answer is not a JSON object");
  return doc;
}


std::string XmlUnescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '&') {
      static constexpr std::pair<std::string_view, char> kEntities[] = {
          {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
      bool done = false;
      for (const auto& [ent, c] : kEntities) {
        if (s.substr(i).starts_with(ent)) {
          out += c;
          i += ent.size() - 1;
          done = true;
          break;
        }
      }
      if (done) continue;
    }
    out += s[i];
  }
  return out;
}

// The text of the first <tag>...</tag>, or nullopt.
std::optional<std::string> XmlElement(std::string_view body, std::string_view tag) {
  const std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
  const size_t a = body.find(open);
  if (a == std::string_view::npos) return std::nullopt;
  const size_t b = body.find(close, a + open.size());
  if (b == std::string_view::npos) return std::nullopt;
  return XmlUnescape(body.substr(a + open.size(), b - a - open.size()));
}

// "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException" -> the part after '#';
// "ResourceNotFoundException:http://internal..." (x-amzn-ErrorType) -> before ':'.
std::string ShortType(std::string_view t) {
  if (size_t h = t.rfind('#'); h != std::string_view::npos) t = t.substr(h + 1);
  if (size_t c = t.find(':'); c != std::string_view::npos) t = t.substr(0, c);
  return FirstLine(t, kMaxMessageChars);
}

Status StatusForKind(CallErrorKind kind, const std::string& msg) {
  switch (kind) {
    case CallErrorKind::kNotFound:
      return Status::NotFound(msg);
    case CallErrorKind::kAuth:
    case CallErrorKind::kValidation:
      return Status::InvalidArgument(msg);
    case CallErrorKind::kExpiredIterator:
    case CallErrorKind::kTrimmedData:
      return Status::FailedPrecondition(msg);
    case CallErrorKind::kBadResponse:
      return Status::Corruption(msg);
    case CallErrorKind::kNetwork:
    case CallErrorKind::kThrottled:
    case CallErrorKind::kServer:
      return Status::Unavailable(msg);
    case CallErrorKind::kNone:
      break;
  }
  return Status::Internal(msg);
}

Status ParseKeySchema(const Value& parent, KeySchema* keys) {
  const Value* ks = Member(parent, "KeySchema");
  if (ks == nullptr || !ks->IsArray()) return Status::Corruption("no KeySchema array");
  for (const Value& k : ks->GetArray()) {
    const std::string name = StringMember(k, "AttributeName"), type = StringMember(k, "KeyType");
    if (name.empty()) return Status::Corruption("a KeySchema element has no AttributeName");
    if (type == "HASH") {
      keys->hash_name = name;
    } else if (type == "RANGE") {
      keys->range_name = name;
    } else {
      return Status::Corruption("KeySchema: unknown KeyType '" + type + "'");
    }
  }
  if (keys->hash_name.empty()) return Status::Corruption("KeySchema has no HASH key");
  return Status::OK();
}

StatusOr<TableDescription> TableFromDoc(const Document& doc) {
  const Value* t = Member(doc, "Table");
  if (t == nullptr || !t->IsObject()) return Status::Corruption("no Table object in the answer");
  TableDescription out;
  out.name = StringMember(*t, "TableName");
  out.status = StringMember(*t, "TableStatus");
  RETURN_IF_ERROR(ParseKeySchema(*t, &out.keys));
  if (const Value* ss = Member(*t, "StreamSpecification"); ss != nullptr) {
    const Value* en = Member(*ss, "StreamEnabled");
    out.stream_enabled = en != nullptr && en->IsBool() && en->GetBool();
    out.stream_view_type = StringMember(*ss, "StreamViewType");
  }
  out.latest_stream_arn = StringMember(*t, "LatestStreamArn");
  out.item_count = Int64Member(*t, "ItemCount");
  out.size_bytes = Int64Member(*t, "TableSizeBytes");
  return out;
}

StatusOr<ScanPage> ScanFromDoc(std::unique_ptr<Document> doc) {
  const Value* items = Member(*doc, "Items");
  if (items != nullptr && !items->IsArray()) return Status::Corruption("Items is not an array");
  ScanPage page;
  if (const Value* lek = Member(*doc, "LastEvaluatedKey"); lek != nullptr) {
    if (!lek->IsObject()) return Status::Corruption("LastEvaluatedKey is not an object");
    if (lek->MemberCount() > 0) page.last_evaluated_key_json = ToJson(*lek);
  }
  if (const Value* cc = Member(*doc, "ConsumedCapacity"); cc != nullptr) {
    const Value* cu = Member(*cc, "CapacityUnits");
    if (cu != nullptr && cu->IsNumber()) page.consumed_capacity = cu->GetDouble();
  }
  page.doc = std::move(doc);
  return page;
}

Status StreamPageFromDoc(const Document& doc, StreamDescription* out, std::string* last_shard_id) {
  const Value* sd = Member(doc, "StreamDescription");
  if (sd == nullptr || !sd->IsObject()) return Status::Corruption("no StreamDescription object in the answer");
  // Later pages may repeat these or not: a field absent from a page keeps its value.
  auto keep = [&](const char* name, std::string* field) {
    std::string v = StringMember(*sd, name);
    if (!v.empty()) *field = std::move(v);
  };
  keep("StreamArn", &out->stream_arn);
  keep("StreamStatus", &out->stream_status);
  keep("StreamViewType", &out->stream_view_type);
  keep("TableName", &out->table_name);
  if (Member(*sd, "KeySchema") != nullptr) RETURN_IF_ERROR(ParseKeySchema(*sd, &out->keys));
  if (const Value* shards = Member(*sd, "Shards"); shards != nullptr) {
    if (!shards->IsArray()) return Status::Corruption("Shards is not an array");
    for (const Value& s : shards->GetArray()) {
      ShardInfo info;
      info.shard_id = StringMember(s, "ShardId");
      if (info.shard_id.empty()) return Status::Corruption("a shard has no ShardId");
      info.parent_shard_id = StringMember(s, "ParentShardId");
      if (const Value* r = Member(s, "SequenceNumberRange"); r != nullptr) {
        info.starting_sequence_number = StringMember(*r, "StartingSequenceNumber");
        info.ending_sequence_number = StringMember(*r, "EndingSequenceNumber");
      }
      out->shards.push_back(std::move(info));
    }
  }
  *last_shard_id = StringMember(*sd, "LastEvaluatedShardId");
  return Status::OK();
}

// Epoch seconds (a JSON number, possibly fractional, or a numeric string) -> ms.
int64_t EpochSecondsToMs(const Value* v) {
  if (v == nullptr) return 0;
  double seconds = 0;
  if (v->IsNumber()) {
    seconds = v->GetDouble();
  } else if (v->IsString()) {
    char* end = nullptr;
    seconds = std::strtod(v->GetString(), &end);
    if (end == v->GetString()) return 0;
  } else {
    return 0;
  }
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e13) return 0;
  return std::llround(seconds * 1000.0);
}

StatusOr<RecordsPage> RecordsFromDoc(std::unique_ptr<Document> doc) {
  RecordsPage page;
  page.next_iterator = StringMember(*doc, "NextShardIterator");
  const Value* records = Member(*doc, "Records");
  if (records != nullptr) {
    if (!records->IsArray()) return Status::Corruption("Records is not an array");
    page.records.reserve(records->Size());
    size_t i = 0;
    for (const Value& r : records->GetArray()) {
      const std::string where = "record " + std::to_string(i++);
      if (!r.IsObject()) return Status::Corruption(where + " is not an object");
      StreamRecord rec;
      rec.event_name = StringMember(r, "eventName");
      if (rec.event_name.empty()) return Status::Corruption(where + " has no eventName");
      const Value* ddb = Member(r, "dynamodb");
      if (ddb == nullptr || !ddb->IsObject()) return Status::Corruption(where + " has no dynamodb object");
      rec.sequence_number = StringMember(*ddb, "SequenceNumber");
      if (rec.sequence_number.empty()) return Status::Corruption(where + " has no dynamodb.SequenceNumber");
      rec.approximate_creation_ms = EpochSecondsToMs(Member(*ddb, "ApproximateCreationDateTime"));
      auto object_or_null = [&](const char* name) -> const Value* {
        const Value* v = Member(*ddb, name);
        return v != nullptr && v->IsObject() ? v : nullptr;
      };
      rec.keys = object_or_null("Keys");
      rec.new_image = object_or_null("NewImage");
      rec.old_image = object_or_null("OldImage");
      if (const Value* ui = Member(r, "userIdentity"); ui != nullptr) {
        rec.ttl_delete = StringMember(*ui, "type") == "Service" &&
                         StringMember(*ui, "principalId") == "dynamodb.amazonaws.com";
      }
      rec.raw_json = ToJson(r);
      page.records.push_back(std::move(rec));
    }
  }
  page.doc = std::move(doc);
  return page;
}

const char* IteratorTypeName(IteratorType t) {
  switch (t) {
    case IteratorType::kTrimHorizon:
      return "TRIM_HORIZON";
    case IteratorType::kLatest:
      return "LATEST";
    case IteratorType::kAtSequenceNumber:
      return "AT_SEQUENCE_NUMBER";
    case IteratorType::kAfterSequenceNumber:
      return "AFTER_SEQUENCE_NUMBER";
  }
  return "?";
}


}  // namespace

namespace internal {

ErrorInfo ParseErrorResponse(std::string_view body, std::string_view error_type_header) {
  ErrorInfo info;
  Document doc;
  doc.Parse(body.data(), body.size());
  if (!doc.HasParseError() && doc.IsObject()) {
    std::string type = StringMember(doc, "__type");
    if (type.empty()) type = StringMember(doc, "code");
    info.aws_type = ShortType(type);
    std::string msg = StringMember(doc, "message");
    if (msg.empty()) msg = StringMember(doc, "Message");
    info.message = FirstLine(msg, kMaxMessageChars);
  } else if (auto code = XmlElement(body, "Code"); code.has_value()) {
    info.aws_type = ShortType(*code);
    info.message = FirstLine(XmlElement(body, "Message").value_or(""));
  } else if (auto title = XmlElement(body, "title"); title.has_value()) {
    info.message = FirstLine(*title, kMaxMessageChars);
  } else if (auto title_uc = XmlElement(body, "TITLE"); title_uc.has_value()) {
    info.message = FirstLine(*title_uc, kMaxMessageChars);
  }
  if (info.aws_type.empty() && !error_type_header.empty()) info.aws_type = ShortType(error_type_header);
  return info;
}

CallErrorKind ClassifyError(int http_status, std::string_view t) {
  if (t == "ProvisionedThroughputExceededException" || t == "ThrottlingException" ||
      t == "RequestLimitExceeded" || t == "LimitExceededException" || t == "Throttling" ||
      t == "TooManyRequestsException" || t == "SlowDown") {
    return CallErrorKind::kThrottled;
  }
  if (t == "ResourceNotFoundException") return CallErrorKind::kNotFound;
  if (t == "UnrecognizedClientException" || t == "InvalidSignatureException" ||
      t == "SignatureDoesNotMatch" || t.starts_with("AccessDenied") ||
      t.starts_with("MissingAuthenticationToken") || t == "IncompleteSignatureException" ||
      t == "IncompleteSignature" || t == "InvalidClientTokenId" || t.starts_with("ExpiredToken") ||
      t == "InvalidAccessKeyId") {
    return CallErrorKind::kAuth;
  }
  if (t == "ExpiredIteratorException") return CallErrorKind::kExpiredIterator;
  if (t == "TrimmedDataAccessException") return CallErrorKind::kTrimmedData;
  if (http_status == 429) return CallErrorKind::kThrottled;
  if (http_status >= 500) return CallErrorKind::kServer;
  if (http_status == 401 || http_status == 403) return CallErrorKind::kAuth;
  if (http_status >= 400) return CallErrorKind::kValidation;
  return CallErrorKind::kBadResponse;
}

bool IsRetryable(CallErrorKind kind) {
  return kind == CallErrorKind::kNetwork || kind == CallErrorKind::kThrottled ||
         kind == CallErrorKind::kServer;
}

const char* CallErrorKindName(CallErrorKind kind) {
  switch (kind) {
    case CallErrorKind::kNone: return "kNone";
    case CallErrorKind::kNetwork: return "kNetwork";
    case CallErrorKind::kThrottled: return "kThrottled";
    case CallErrorKind::kServer: return "kServer";
    case CallErrorKind::kNotFound: return "kNotFound";
    case CallErrorKind::kAuth: return "kAuth";
    case CallErrorKind::kExpiredIterator: return "kExpiredIterator";
    case CallErrorKind::kTrimmedData: return "kTrimmedData";
    case CallErrorKind::kValidation: return "kValidation";
    case CallErrorKind::kBadResponse: return "kBadResponse";
  }
  return "?";
}

std::string DefaultEndpoint(bool streams, std::string_view region) {
  const std::string suffix = region.starts_with("cn-") ? ".amazonaws.com.cn" : ".amazonaws.com";
  return std::string("https://") + (streams ? "streams.dynamodb." : "dynamodb.") + std::string(region) + suffix;
}

StatusOr<std::string> ScanRequestBody(const ScanRequest& r) {
  if (r.total_segments < 1 || r.total_segments > 1'000'000 || r.segment < 0 || r.segment >= r.total_segments) {
    return Status::InvalidArgument("Scan of table '" + r.table + "': segment " + std::to_string(r.segment) +
                                   " of " + std::to_string(r.total_segments) + " is out of range");
  }
  if (r.limit < 0) return Status::InvalidArgument("Scan of table '" + r.table + "': negative limit");
  Document start;
  if (!r.exclusive_start_key_json.empty()) {
    start.Parse(r.exclusive_start_key_json.data(), r.exclusive_start_key_json.size());
    if (start.HasParseError() || !start.IsObject()) {
      return Status::InvalidArgument("Scan of table '" + r.table + "': the exclusive start key is not a JSON object");
    }
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("TableName");
  w.String(r.table.data(), static_cast<rapidjson::SizeType>(r.table.size()));
  if (r.total_segments > 1) {
    w.Key("Segment");
    w.Int(r.segment);
    w.Key("TotalSegments");
    w.Int(r.total_segments);
  }
  if (!r.exclusive_start_key_json.empty()) {
    w.Key("ExclusiveStartKey");
    start.Accept(w);
  }
  if (r.limit > 0) {
    w.Key("Limit");
    w.Int(r.limit);
  }
  w.Key("ConsistentRead");
  w.Bool(r.consistent_read);
  w.Key("ReturnConsumedCapacity");
  w.String("TOTAL");
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

StatusOr<TableDescription> ParseDescribeTable(std::string_view json) {
  ASSIGN_OR_RETURN(auto doc, ParseJson(json));
  return TableFromDoc(*doc);
}

StatusOr<ScanPage> ParseScan(std::string_view json) {
  ASSIGN_OR_RETURN(auto doc, ParseJson(json));
  return ScanFromDoc(std::move(doc));
}

Status ParseDescribeStreamPage(std::string_view json, StreamDescription* out, std::string* last_shard_id) {
  ASSIGN_OR_RETURN(auto doc, ParseJson(json));
  return StreamPageFromDoc(*doc, out, last_shard_id);
}

StatusOr<RecordsPage> ParseGetRecords(std::string_view json) {
  ASSIGN_OR_RETURN(auto doc, ParseJson(json));
  return RecordsFromDoc(std::move(doc));
}

}  // namespace internal

const rapidjson::Value& ScanPage::Items() const {
  static const rapidjson::Value kEmpty(rapidjson::kArrayType);
  if (doc == nullptr) return kEmpty;
  const Value* items = Member(*doc, "Items");
  return items != nullptr && items->IsArray() ? *items : kEmpty;
}

StatusOr<DynamoClientOptions> DynamoClientOptionsFromEnv(const EnvLookup& env, std::string_view region_from_uri) {
  DynamoClientOptions o;
  ASSIGN_OR_RETURN(o.credentials, LoadCredentials(env));
  ASSIGN_OR_RETURN(o.region, ResolveRegion(env, region_from_uri));
  o.dynamodb_endpoint = ResolveEndpoint(env, "DYNAMODB").value_or("");
  o.streams_endpoint = ResolveEndpoint(env, "DYNAMODB_STREAMS").value_or("");
  return o;
}

DynamoClient::DynamoClient(DynamoClientOptions options, std::unique_ptr<HttpClient> http)
    : options_(std::move(options)), http_(std::move(http)) {}

DynamoClient::~DynamoClient() = default;

StatusOr<std::unique_ptr<DynamoClient>> DynamoClient::New(DynamoClientOptions options) {
  if (options.region.empty()) return Status::InvalidArgument("DynamoDB client: no region configured");
  std::string ddb = options.dynamodb_endpoint.empty() ? internal::DefaultEndpoint(false, options.region)
                                                      : options.dynamodb_endpoint;
  std::string streams = options.streams_endpoint.empty() ? internal::DefaultEndpoint(true, options.region)
                                                         : options.streams_endpoint;
  ASSIGN_OR_RETURN(Endpoint ddb_ep, ParseEndpoint(ddb));
  ASSIGN_OR_RETURN(Endpoint streams_ep, ParseEndpoint(streams));
  HttpClientOptions http_options;
  http_options.connect_timeout_ms = options.connect_timeout_ms;
  http_options.request_timeout_ms = options.request_timeout_ms;
  ASSIGN_OR_RETURN(auto http, HttpClient::New(http_options));
  std::unique_ptr<DynamoClient> client(new DynamoClient(std::move(options), std::move(http)));
  client->dynamodb_endpoint_ = ddb_ep.BaseUrl();
  client->streams_endpoint_ = streams_ep.BaseUrl();
  return client;
}

StatusOr<std::unique_ptr<rapidjson::Document>> DynamoClient::Call(bool streams, std::string_view target,
                                                                  const std::string& body,
                                                                  const std::string& what, CallError* err) {
  CallError local;
  CallError& e = err != nullptr ? *err : local;
  e = CallError{};
  const std::string& base = streams ? streams_endpoint_ : dynamodb_endpoint_;
  const std::string prefix = std::string(streams ? "DynamoDB Streams " : "DynamoDB ") + what + " at " + base;
  ASSIGN_OR_RETURN(Endpoint ep, ParseEndpoint(base));
  const std::string full_target = std::string(streams ? kStreamsTargetPrefix : kDynamoTargetPrefix) + std::string(target);
  // What Send's messages start with; dropped, since prefix already names the endpoint.
  const std::string send_prefix = "HTTP POST " + ep.BaseUrl() + "/: ";

  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::milliseconds(options_.retry_for_ms);
  Backoff backoff;
  int attempts = 0;
  std::string detail;  // the last failure, for messages
  auto elapsed_note = [&] {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    return " (" + std::to_string(attempts) + (attempts == 1 ? " attempt" : " attempts") + " in " +
           std::to_string(ms) + " ms)";
  };
  for (;;) {
    if (options_.stop != nullptr && options_.stop->load()) {
      return Status::Aborted(prefix + ": stopped" + (detail.empty() ? "" : "; last failure: " + detail));
    }
    ++attempts;
    Headers headers = {{"Host", ep.HostHeader()}, {"Content-Type", kJsonContentType}, {"X-Amz-Target", full_target}};
    HttpRequest req{"POST", "/", "", headers, body};
    SigningOptions so;
    so.region = options_.region;
    so.service = kSigningName;
    so.time = std::chrono::system_clock::now();
    auto signed_req = SignRequest(req, options_.credentials, so);
    if (!signed_req.ok()) {
      e.kind = CallErrorKind::kAuth;
      return Status::InvalidArgument(prefix + ": cannot sign the request: " + signed_req.status().message());
    }
    for (auto& h : signed_req->headers_to_add) headers.push_back(std::move(h));

    auto resp = http_->Send(ep, "POST", "/", "", headers, body);
    CallErrorKind kind;
    if (!resp.ok()) {
      if (!resp.status().IsUnavailable()) {
        e.kind = CallErrorKind::kBadResponse;
        return StatusForKind(e.kind, prefix + ": " + resp.status().message());
      }
      kind = CallErrorKind::kNetwork;
      e.http_status = 0;
      e.aws_type.clear();
      detail = resp.status().message();
      if (detail.starts_with(send_prefix)) detail.erase(0, send_prefix.size());
    } else if (resp->status >= 200 && resp->status < 300) {
      auto doc = ParseJson(resp->body);
      e.http_status = static_cast<int>(resp->status);
      if (!doc.ok()) {
        e.kind = CallErrorKind::kBadResponse;
        return Status::Corruption(prefix + ": HTTP " + std::to_string(resp->status) + ": " + doc.status().message());
      }
      e.kind = CallErrorKind::kNone;
      return std::move(doc).value();
    } else {
      internal::ErrorInfo info =
          internal::ParseErrorResponse(resp->body, resp->Header("x-amzn-ErrorType").value_or(""));
      kind = internal::ClassifyError(static_cast<int>(resp->status), info.aws_type);
      e.http_status = static_cast<int>(resp->status);
      e.aws_type = info.aws_type;
      detail = info.aws_type.empty() ? "HTTP " + std::to_string(resp->status) : info.aws_type;
      if (!info.message.empty()) detail += ": " + info.message;
      // AWS can echo the canonical request; never let a secret through.
      Redact(&detail, options_.credentials.secret_access_key);
      Redact(&detail, options_.credentials.session_token);
      if (kind == CallErrorKind::kAuth) detail += " (credentials: " + options_.credentials.Redacted() + ")";
    }
    e.kind = kind;
    if (!internal::IsRetryable(kind)) return StatusForKind(kind, prefix + ": " + detail);
    const int64_t delay = backoff.Next();
    if (std::chrono::steady_clock::now() + std::chrono::milliseconds(delay) >= deadline) {
      return Status::Unavailable(prefix + ": " + detail + elapsed_note());
    }
    if (SleepUnlessStopped(delay, options_.stop)) {
      return Status::Aborted(prefix + ": stopped; last failure: " + detail);
    }
  }
}

namespace {

std::string Quoted(const std::string& s) { return "'" + s + "'"; }

void WriteString(JsonWriter& w, const std::string& s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

}  // namespace

StatusOr<TableDescription> DynamoClient::DescribeTable(const std::string& table, CallError* err) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("TableName");
  WriteString(w, table);
  w.EndObject();
  const std::string what = "DescribeTable on table " + Quoted(table);
  ASSIGN_OR_RETURN(auto doc, Call(false, "DescribeTable", std::string(buf.GetString(), buf.GetSize()), what, err));
  auto out = TableFromDoc(*doc);
  if (!out.ok()) {
    if (err != nullptr) err->kind = CallErrorKind::kBadResponse;
    return out.status().WithContext("DynamoDB " + what + " at " + dynamodb_endpoint_);
  }
  return out;
}

StatusOr<ScanPage> DynamoClient::Scan(const ScanRequest& request, CallError* err) {
  auto body = internal::ScanRequestBody(request);
  if (!body.ok()) {
    if (err != nullptr) *err = CallError{CallErrorKind::kValidation, "", 0};
    return body.status();
  }
  std::string what = "Scan on table " + Quoted(request.table);
  if (request.total_segments > 1) {
    what += " segment " + std::to_string(request.segment) + "/" + std::to_string(request.total_segments);
  }
  ASSIGN_OR_RETURN(auto doc, Call(false, "Scan", *body, what, err));
  auto page = ScanFromDoc(std::move(doc));
  if (!page.ok()) {
    if (err != nullptr) err->kind = CallErrorKind::kBadResponse;
    return page.status().WithContext("DynamoDB " + what + " at " + dynamodb_endpoint_);
  }
  return page;
}

StatusOr<StreamDescription> DynamoClient::DescribeStream(const std::string& stream_arn, CallError* err) {
  StreamDescription out;
  std::string start_shard;
  const std::string what = "DescribeStream on stream " + Quoted(stream_arn);
  for (int page = 0;; ++page) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("StreamArn");
    WriteString(w, stream_arn);
    if (!start_shard.empty()) {
      w.Key("ExclusiveStartShardId");
      WriteString(w, start_shard);
    }
    w.EndObject();
    ASSIGN_OR_RETURN(auto doc, Call(true, "DescribeStream", std::string(buf.GetString(), buf.GetSize()), what, err));
    std::string last;
    Status st = StreamPageFromDoc(*doc, &out, &last);
    if (st.ok() && !last.empty() && last == start_shard) {
      st = Status::Corruption("LastEvaluatedShardId '" + last + "' repeats the start shard");
    }
    if (!st.ok()) {
      if (err != nullptr) err->kind = CallErrorKind::kBadResponse;
      return st.WithContext("DynamoDB Streams " + what + " at " + streams_endpoint_ + ", page " +
                            std::to_string(page + 1));
    }
    if (last.empty()) return out;
    start_shard = std::move(last);
  }
}

StatusOr<std::string> DynamoClient::GetShardIterator(const std::string& stream_arn, const std::string& shard_id,
                                                     IteratorType type, const std::string& sequence_number,
                                                     CallError* err) {
  const bool needs_seq = type == IteratorType::kAtSequenceNumber || type == IteratorType::kAfterSequenceNumber;
  const std::string what = std::string("GetShardIterator ") + IteratorTypeName(type) + " on shard " +
                           Quoted(shard_id) + " of stream " + Quoted(stream_arn);
  if (needs_seq && sequence_number.empty()) {
    if (err != nullptr) *err = CallError{CallErrorKind::kValidation, "", 0};
    return Status::InvalidArgument("DynamoDB Streams " + what + ": a sequence number is required");
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("StreamArn");
  WriteString(w, stream_arn);
  w.Key("ShardId");
  WriteString(w, shard_id);
  w.Key("ShardIteratorType");
  w.String(IteratorTypeName(type));
  if (needs_seq) {
    w.Key("SequenceNumber");
    WriteString(w, sequence_number);
  }
  w.EndObject();
  ASSIGN_OR_RETURN(auto doc, Call(true, "GetShardIterator", std::string(buf.GetString(), buf.GetSize()), what, err));
  std::string it = StringMember(*doc, "ShardIterator");
  if (it.empty()) {
    if (err != nullptr) err->kind = CallErrorKind::kBadResponse;
    return Status::Corruption("DynamoDB Streams " + what + " at " + streams_endpoint_ + ": no ShardIterator in the answer");
  }
  return it;
}

StatusOr<RecordsPage> DynamoClient::GetRecords(const std::string& iterator, int limit, CallError* err) {
  const std::string what = "GetRecords";
  if (limit < 0 || limit > 1000 || iterator.empty()) {
    if (err != nullptr) *err = CallError{CallErrorKind::kValidation, "", 0};
    return Status::InvalidArgument("DynamoDB Streams GetRecords: " +
                                   std::string(iterator.empty() ? "empty shard iterator" : "limit must be 0..1000, got " + std::to_string(limit)));
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("ShardIterator");
  WriteString(w, iterator);
  if (limit > 0) {
    w.Key("Limit");
    w.Int(limit);
  }
  w.EndObject();
  ASSIGN_OR_RETURN(auto doc, Call(true, "GetRecords", std::string(buf.GetString(), buf.GetSize()), what, err));
  auto page = RecordsFromDoc(std::move(doc));
  if (!page.ok()) {
    if (err != nullptr) err->kind = CallErrorKind::kBadResponse;
    return page.status().WithContext("DynamoDB Streams " + what + " at " + streams_endpoint_);
  }
  return page;
}

}  // namespace docshift::aws
