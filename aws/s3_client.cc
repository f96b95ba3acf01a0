#include "aws/s3_client.h"

#include <openssl/evp.h>

#include <charconv>
#include <chrono>

#include "aws/http_client.h"
#include "aws/s3_client_internal.h"
#include "aws/sigv4.h"
#include "aws/text.h"
#include "util/backoff.h"

namespace docshift::aws {
namespace {

constexpr size_t kMaxMessageChars = 300;
constexpr int kMaxXmlDepth = 32;
constexpr size_t kMaxKeyBytes = 1024;
constexpr char kMetaPrefix[] = "x-amz-meta-";

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }


void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out += static_cast<char>(0xE0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (cp >> 18));
    *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A recursive-descent reader over the document; pos_ is the offset for messages.
class XmlReader {
 public:
  explicit XmlReader(std::string_view doc) : doc_(doc) {}

  StatusOr<internal::XmlElement> Document() {
    if (doc_.starts_with("\xEF\xBB\xBF")) pos_ = 3;
    RETURN_IF_ERROR(SkipMisc());
    if (pos_ >= doc_.size() || doc_[pos_] != '<') return Error("no root element");
    internal::XmlElement root;
    RETURN_IF_ERROR(Element(&root, 0));
    RETURN_IF_ERROR(SkipMisc());
    if (pos_ != doc_.size()) return Error("content after the root element");
    return root;
  }

 private:
  Status Error(const std::string& what) const {
    return Status::Corruption("malformed XML: " + what + " at offset " + std::to_string(pos_));
  }
  bool At(std::string_view s) const { return doc_.substr(pos_).starts_with(s); }

  // Skips `open` ... `close`; false when `close` is missing.
  bool SkipPast(std::string_view close) {
    const size_t end = doc_.find(close, pos_);
    if (end == std::string_view::npos) return false;
    pos_ = end + close.size();
    return true;
  }

  // Whitespace, comments and processing instructions (prolog and epilog).
  Status SkipMisc() {
    for (;;) {
      while (pos_ < doc_.size() && IsSpace(doc_[pos_])) ++pos_;
      if (At("<?")) {
        if (!SkipPast("?>")) return Error("unclosed processing instruction");
      } else if (At("<!--")) {
        if (!SkipPast("-->")) return Error("unclosed comment");
      } else if (At("<!")) {
        return Error("DOCTYPE and declarations are not supported");
      } else {
        return Status::OK();
      }
    }
  }

  static bool IsNameChar(char c) {
    return !IsSpace(c) && c != '/' && c != '>' && c != '<' && c != '=' && c != '"' && c != '\'' && c != '&';
  }

  Status Name(std::string* out) {
    const size_t start = pos_;
    while (pos_ < doc_.size() && IsNameChar(doc_[pos_])) ++pos_;
    if (pos_ == start) return Error("expected a name");
    *out = std::string(doc_.substr(start, pos_ - start));
    return Status::OK();
  }

  Status Entity(std::string* out) {
    const size_t semi = doc_.find(';', pos_);
    if (semi == std::string_view::npos || semi - pos_ > 12) return Error("unterminated entity");
    const std::string_view ent = doc_.substr(pos_ + 1, semi - pos_ - 1);
    if (ent == "amp") {
      *out += '&';
    } else if (ent == "lt") {
      *out += '<';
    } else if (ent == "gt") {
      *out += '>';
    } else if (ent == "quot") {
      *out += '"';
    } else if (ent == "apos") {
      *out += '\'';
    } else if (ent.starts_with("#")) {
      std::string_view digits = ent.substr(1);
      int base = 10;
      if (digits.starts_with("x") || digits.starts_with("X")) {
        digits.remove_prefix(1);
        base = 16;
      }
      uint32_t cp = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), cp, base);
      if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || cp == 0 ||
          cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return Error("bad character reference");
      }
      AppendUtf8(cp, out);
    } else {
      return Error("unknown entity '&" + std::string(ent.substr(0, 12)) + ";'");
    }
    pos_ = semi + 1;
    return Status::OK();
  }

  // At '<' of a start tag.
  Status Element(internal::XmlElement* el, int depth) {
    if (depth >= kMaxXmlDepth) return Error("elements nested deeper than " + std::to_string(kMaxXmlDepth));
    ++pos_;
    RETURN_IF_ERROR(Name(&el->name));
    // Attributes: name = "value" | 'value', skipped.
    for (;;) {
      while (pos_ < doc_.size() && IsSpace(doc_[pos_])) ++pos_;
      if (pos_ >= doc_.size()) return Error("unclosed start tag <" + el->name + ">");
      if (At("/>")) {
        pos_ += 2;
        return Status::OK();
      }
      if (doc_[pos_] == '>') {
        ++pos_;
        break;
      }
      std::string attr;
      RETURN_IF_ERROR(Name(&attr));
      while (pos_ < doc_.size() && IsSpace(doc_[pos_])) ++pos_;
      if (pos_ >= doc_.size() || doc_[pos_] != '=') return Error("attribute without a value");
      ++pos_;
      while (pos_ < doc_.size() && IsSpace(doc_[pos_])) ++pos_;
      if (pos_ >= doc_.size() || (doc_[pos_] != '"' && doc_[pos_] != '\'')) return Error("unquoted attribute value");
      const char q = doc_[pos_++];
      const size_t end = doc_.find(q, pos_);
      if (end == std::string_view::npos) return Error("unclosed attribute value");
      pos_ = end + 1;
    }
    // Content.
    for (;;) {
      if (pos_ >= doc_.size()) return Error("unclosed element <" + el->name + ">");
      const char c = doc_[pos_];
      if (c == '&') {
        RETURN_IF_ERROR(Entity(&el->text));
      } else if (c != '<') {
        el->text += c;
        ++pos_;
      } else if (At("</")) {
        pos_ += 2;
        std::string name;
        RETURN_IF_ERROR(Name(&name));
        while (pos_ < doc_.size() && IsSpace(doc_[pos_])) ++pos_;
        if (pos_ >= doc_.size() || doc_[pos_] != '>') return Error("bad end tag </" + name);
        if (name != el->name) return Error("end tag </" + name + "> does not close <" + el->name + ">");
        ++pos_;
        return Status::OK();
      } else if (At("<![CDATA[")) {
        const size_t start = pos_ + 9;
        const size_t end = doc_.find("]]>", start);
        if (end == std::string_view::npos) return Error("unclosed CDATA section");
        el->text += doc_.substr(start, end - start);
        pos_ = end + 3;
      } else if (At("<!--")) {
        if (!SkipPast("-->")) return Error("unclosed comment");
      } else if (At("<?")) {
        if (!SkipPast("?>")) return Error("unclosed processing instruction");
      } else if (At("<!")) {
        return Error("declaration inside an element");
      } else {
        el->children.emplace_back();
        RETURN_IF_ERROR(Element(&el->children.back(), depth + 1));
      }
    }
  }

  std::string_view doc_;
  size_t pos_ = 0;
};

bool ParseInt64(std::string_view s, int64_t* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

std::string Trimmed(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return std::string(s);
}

void Md5(std::string_view data, unsigned char* md, unsigned int* len) {
  if (EVP_Digest(data.data(), data.size(), md, len, EVP_md5(), nullptr) != 1) *len = 0;
}

bool ValidBucket(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return false;
  }
  return b.front() != '.' && b.front() != '-' && b.back() != '.' && b.back() != '-';
}

bool ValidMetaName(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

bool PrintableAscii(std::string_view v) {
  for (char c : v) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) return false;
  }
  return true;
}


}  // namespace

namespace internal {

const XmlElement* XmlElement::Child(std::string_view child_name) const {
  for (const XmlElement& c : children) {
    if (c.name == child_name) return &c;
  }
  return nullptr;
}

std::string XmlElement::ChildText(std::string_view child_name) const {
  const XmlElement* c = Child(child_name);
  return c != nullptr ? c->text : std::string();
}

StatusOr<XmlElement> ParseXml(std::string_view doc) { return XmlReader(doc).Document(); }

StatusOr<ListPage> ParseListObjectsV2(std::string_view xml) {
  ASSIGN_OR_RETURN(XmlElement root, ParseXml(xml));
  if (root.name != "ListBucketResult") {
    return Status::Corruption("expected <ListBucketResult>, got <" + root.name.substr(0, 64) + ">");
  }
  ListPage page;
  const std::string truncated = Trimmed(root.ChildText("IsTruncated"));
  if (truncated == "true") {
    page.truncated = true;
  } else if (truncated != "false" && !truncated.empty()) {
    return Status::Corruption("IsTruncated is '" + truncated.substr(0, 16) + "'");
  }
  page.next_continuation_token = root.ChildText("NextContinuationToken");
  for (const XmlElement& c : root.children) {
    if (c.name != "Contents") continue;
    S3ObjectInfo info;
    const XmlElement* key = c.Child("Key");
    if (key == nullptr) return Status::Corruption("a <Contents> has no <Key>");
    info.key = key->text;
    if (const XmlElement* size = c.Child("Size"); size != nullptr) {
      if (!ParseInt64(Trimmed(size->text), &info.size) || info.size < 0) {
        return Status::Corruption("<Size> of key '" + info.key + "' is not a byte count");
      }
    }
    info.etag = Trimmed(c.ChildText("ETag"));
    info.last_modified = Trimmed(c.ChildText("LastModified"));
    page.objects.push_back(std::move(info));
  }
  if (page.truncated && page.next_continuation_token.empty()) {
    return Status::Corruption("a truncated page without <NextContinuationToken>");
  }
  return page;
}

S3ErrorInfo ParseS3Error(std::string_view body) {
  S3ErrorInfo info;
  auto root = ParseXml(body);
  if (!root.ok() || root->name != "Error") return info;
  info.code = Trimmed(root->ChildText("Code")).substr(0, 64);
  info.message = FirstLine(root->ChildText("Message"), kMaxMessageChars);
  return info;
}

S3ErrorKind ClassifyS3Error(int http_status, std::string_view code) {
  if (code == "SlowDown" || code == "Throttling" || code == "ThrottlingException" ||
      code == "RequestLimitExceeded" || code == "TooManyRequests" || http_status == 429) {
    return S3ErrorKind::kThrottled;
  }
  if (http_status == 412 || code == "PreconditionFailed") return S3ErrorKind::kPreconditionFailed;
  if (code == "ConditionalRequestConflict" || code == "OperationAborted") return S3ErrorKind::kConflict;
  // A request the server timed out reading: the connection's fault, not the request's.
  if (code == "RequestTimeout") return S3ErrorKind::kNetwork;
  if (code == "BadDigest" || code == "InvalidDigest") return S3ErrorKind::kCorruption;
  if (http_status == 404 || code == "NoSuchKey" || code == "NoSuchBucket") return S3ErrorKind::kNotFound;
  if (http_status == 401 || http_status == 403 || code == "AccessDenied" || code == "SignatureDoesNotMatch" ||
      code == "InvalidAccessKeyId" || code == "ExpiredToken" || code == "InvalidToken" ||
      code == "RequestTimeTooSkewed") {
    return S3ErrorKind::kAuth;
  }
  if (http_status >= 500) return S3ErrorKind::kServer;
  if (http_status >= 400) return S3ErrorKind::kValidation;
  return S3ErrorKind::kBadResponse;
}

bool IsRetryable(S3ErrorKind kind) {
  return kind == S3ErrorKind::kNetwork || kind == S3ErrorKind::kThrottled || kind == S3ErrorKind::kServer ||
         kind == S3ErrorKind::kConflict;
}

Status S3StatusForKind(S3ErrorKind kind, const std::string& msg) {
  switch (kind) {
    case S3ErrorKind::kPreconditionFailed:
      return Status::FailedPrecondition(msg);
    case S3ErrorKind::kNotFound:
      return Status::NotFound(msg);
    case S3ErrorKind::kAuth:
    case S3ErrorKind::kValidation:
      return Status::InvalidArgument(msg);
    case S3ErrorKind::kCorruption:
    case S3ErrorKind::kBadResponse:
      return Status::Corruption(msg);
    case S3ErrorKind::kNetwork:
    case S3ErrorKind::kThrottled:
    case S3ErrorKind::kServer:
    case S3ErrorKind::kConflict:
      return Status::Unavailable(msg);
    case S3ErrorKind::kNone:
      break;
  }
  return Status::Internal(msg);
}

StatusOr<S3Location> LocateObject(std::string_view endpoint_url, std::string_view region, std::string_view bucket,
                                  std::string_view key) {
  if (!ValidBucket(bucket)) {
    return Status::InvalidArgument("bucket name '" + std::string(bucket.substr(0, 80)) +
                                   "' is not valid: 3 to 63 characters of a-z, 0-9, '.' and '-'");
  }
  if (key.size() > kMaxKeyBytes) {
    return Status::InvalidArgument("key of " + std::to_string(key.size()) + " bytes: S3 allows at most 1024");
  }
  for (std::string_view seg : SplitView(key, '/')) {
    if (seg == "." || seg == "..") {
      return Status::InvalidArgument("key '" + std::string(key) + "' has a '.' or '..' segment (not supported)");
    }
  }
  S3Location loc;
  const std::string encoded_key = UriEncode(key, /*keep_slash=*/true);
  if (!endpoint_url.empty()) {
    ASSIGN_OR_RETURN(loc.endpoint, ParseEndpoint(endpoint_url));
    loc.path = "/" + std::string(bucket) + (key.empty() ? "" : "/" + encoded_key);
    return loc;
  }
  if (region.empty()) return Status::InvalidArgument("no region configured for S3");
  const std::string suffix = region.starts_with("cn-") ? ".amazonaws.com.cn" : ".amazonaws.com";
  const std::string s3_host = "s3." + std::string(region) + suffix;
  if (bucket.find('.') != std::string_view::npos) {
    ASSIGN_OR_RETURN(loc.endpoint, ParseEndpoint("https://" + s3_host));
    loc.path = "/" + std::string(bucket) + (key.empty() ? "" : "/" + encoded_key);
  } else {
    ASSIGN_OR_RETURN(loc.endpoint, ParseEndpoint("https://" + std::string(bucket) + "." + s3_host));
    loc.path = "/" + encoded_key;
  }
  return loc;
}

std::string ListQuery(const ListOptions& o, std::string_view continuation_token) {
  // Sorted by name, as the canonical query is (not required on the wire; easier to read).
  std::string q;
  auto add = [&q](std::string_view name, std::string_view value) {
    if (!q.empty()) q += '&';
    q += name;
    q += '=';
    q += UriEncode(value, /*keep_slash=*/false);
  };
  if (!continuation_token.empty()) add("continuation-token", continuation_token);
  add("list-type", "2");
  add("max-keys", std::to_string(o.page_size));
  if (!o.prefix.empty()) add("prefix", o.prefix);
  // Sent on every page: S3 ignores it once a continuation token is given.
  if (!o.start_after.empty()) add("start-after", o.start_after);
  return q;
}

std::string HexMd5(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  Md5(data, md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

std::string Base64Md5(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  Md5(data, md, &len);
  unsigned char b64[64];
  const int n = EVP_EncodeBlock(b64, md, static_cast<int>(len));
  return std::string(reinterpret_cast<const char*>(b64), static_cast<size_t>(n));
}

StatusOr<Headers> PutHeaders(std::string_view body, const PutOptions& o) {
  Headers h;
  h.emplace_back("Content-Type", o.content_type);
  h.emplace_back("Content-MD5", Base64Md5(body));
  if (o.condition == PutOptions::Condition::kIfNoneMatch) {
    h.emplace_back("If-None-Match", "*");
  } else if (o.condition == PutOptions::Condition::kIfMatch) {
    if (o.if_match_etag.empty() || !PrintableAscii(o.if_match_etag)) {
      return Status::InvalidArgument("If-Match needs an ETag of printable ASCII");
    }
    h.emplace_back("If-Match", o.if_match_etag);
  }
  if (!PrintableAscii(o.content_type)) return Status::InvalidArgument("bad Content-Type");
  h.emplace_back(std::string(kMetaPrefix) + kS3MetaMd5, HexMd5(body));
  if (!o.writer_id.empty()) {
    if (!PrintableAscii(o.writer_id)) return Status::InvalidArgument("the writer id is not printable ASCII");
    h.emplace_back(std::string(kMetaPrefix) + kS3MetaWriter, o.writer_id);
  }
  for (const auto& [name, value] : o.metadata) {
    if (!ValidMetaName(name)) {
      return Status::InvalidArgument("metadata name '" + name.substr(0, 64) + "': only a-z, 0-9 and '-'");
    }
    if (name == kS3MetaMd5 || name == kS3MetaWriter) {
      return Status::InvalidArgument("metadata name '" + name + "' is docshift's own");
    }
    // The value is not named: it might be anything the caller put there.
    if (!PrintableAscii(value)) return Status::InvalidArgument("metadata '" + name + "': not printable ASCII");
    h.emplace_back(kMetaPrefix + name, value);
  }
  return h;
}

S3ObjectInfo ObjectInfoFromHeaders(const HttpResponse& r) {
  S3ObjectInfo info;
  for (const auto& [name, value] : r.headers) {
    const std::string lower = AsciiLower(name);
    if (lower.starts_with(kMetaPrefix)) info.metadata[lower.substr(sizeof(kMetaPrefix) - 1)] = Trimmed(value);
  }
  if (auto it = info.metadata.find(kS3MetaWriter); it != info.metadata.end()) info.writer_id = it->second;
  if (auto it = info.metadata.find(kS3MetaMd5); it != info.metadata.end()) info.md5_hex = AsciiLower(it->second);
  info.etag = Trimmed(r.Header("ETag").value_or(""));
  info.last_modified = Trimmed(r.Header("Last-Modified").value_or(""));
  int64_t len = -1;
  if (auto cl = r.Header("Content-Length"); cl.has_value() && ParseInt64(Trimmed(*cl), &len)) info.size = len;
  return info;
}

Status VerifyBody(const S3ObjectInfo& info, std::string_view body, bool require_checksum) {
  if (info.size >= 0 && static_cast<uint64_t>(info.size) != body.size()) {
    return Status::Corruption("got " + std::to_string(body.size()) + " bytes, Content-Length said " +
                              std::to_string(info.size));
  }
  if (info.md5_hex.empty()) {
    if (require_checksum) return Status::Corruption("the object has no x-amz-meta-docshift-md5 checksum");
    return Status::OK();
  }
  if (info.md5_hex.size() != 32 || info.md5_hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return Status::Corruption("the stored x-amz-meta-docshift-md5 is not 32 hex digits");
  }
  const std::string actual = HexMd5(body);
  if (actual != info.md5_hex) {
    return Status::Corruption("checksum mismatch: the body's MD5 is " + actual + ", the stored one " + info.md5_hex);
  }
  return Status::OK();
}

PreconditionVerdict ResolvePreconditionFailed(const std::optional<S3ObjectInfo>& current, std::string_view writer_id,
                                              std::string_view md5_hex, int64_t size) {
  if (!current.has_value()) return PreconditionVerdict::kGone;
  if (writer_id.empty() || current->writer_id != writer_id || current->md5_hex != md5_hex ||
      (current->size >= 0 && current->size != size)) {
    return PreconditionVerdict::kTheirs;
  }
  return PreconditionVerdict::kOurs;
}

}  // namespace internal

const char* S3ErrorKindName(S3ErrorKind kind) {
  switch (kind) {
    case S3ErrorKind::kNone: return "kNone";
    case S3ErrorKind::kNetwork: return "kNetwork";
    case S3ErrorKind::kThrottled: return "kThrottled";
    case S3ErrorKind::kServer: return "kServer";
    case S3ErrorKind::kConflict: return "kConflict";
    case S3ErrorKind::kPreconditionFailed: return "kPreconditionFailed";
    case S3ErrorKind::kNotFound: return "kNotFound";
    case S3ErrorKind::kAuth: return "kAuth";
    case S3ErrorKind::kValidation: return "kValidation";
    case S3ErrorKind::kCorruption: return "kCorruption";
    case S3ErrorKind::kBadResponse: return "kBadResponse";
  }
  return "?";
}

StatusOr<S3ClientOptions> S3ClientOptionsFromEnv(const EnvLookup& env, std::string_view region_from_uri) {
  S3ClientOptions o;
  ASSIGN_OR_RETURN(o.credentials, LoadCredentials(env));
  ASSIGN_OR_RETURN(o.region, ResolveRegion(env, region_from_uri));
  o.endpoint = ResolveEndpoint(env, "S3").value_or("");
  return o;
}

// One operation's request, before signing.
struct S3Client::Request {
  std::string op;  // "PutObject"
  std::string method;
  std::string bucket, key;
  std::string query;
  Headers headers;  // without Host and the signature
  std::string_view body;
};

S3Client::S3Client(S3ClientOptions options, std::unique_ptr<HttpClient> http)
    : options_(std::move(options)), http_(std::move(http)) {}

S3Client::~S3Client() = default;

StatusOr<std::unique_ptr<S3Client>> S3Client::New(S3ClientOptions options) {
  if (options.region.empty()) return Status::InvalidArgument("S3 client: no region configured");
  if (!options.endpoint.empty()) {
    auto ep = ParseEndpoint(options.endpoint);
    if (!ep.ok()) return ep.status().WithContext("S3 client: endpoint");
  }
  HttpClientOptions http_options;
  http_options.connect_timeout_ms = options.connect_timeout_ms;
  http_options.request_timeout_ms = options.request_timeout_ms;
  http_options.max_response_bytes = std::max<int64_t>(options.max_object_bytes, int64_t{1} << 20);
  ASSIGN_OR_RETURN(auto http, HttpClient::New(http_options));
  return std::unique_ptr<S3Client>(new S3Client(std::move(options), std::move(http)));
}

std::string S3Client::endpoint_for_messages(const std::string& bucket) const {
  auto loc = internal::LocateObject(options_.endpoint, options_.region, ValidBucket(bucket) ? bucket : "bucket", "");
  return loc.ok() ? loc->endpoint.BaseUrl() : options_.endpoint;
}

Status S3Client::Call(const Request& req, HttpResponse* out, S3Error* err) {
  S3Error local;
  S3Error& e = err != nullptr ? *err : local;
  e = S3Error{};
  const std::string object = "s3://" + req.bucket + (req.key.empty() ? "" : "/" + req.key);
  auto loc = internal::LocateObject(options_.endpoint, options_.region, req.bucket, req.key);
  if (!loc.ok()) {
    e.kind = S3ErrorKind::kValidation;
    return Status::InvalidArgument("S3 " + req.op + " " + object + ": " + loc.status().message());
  }
  const std::string prefix = "S3 " + req.op + " " + object + " at " + loc->endpoint.BaseUrl();
  // What Send's messages start with; dropped, since prefix already names the endpoint.
  const std::string send_prefix = "HTTP " + req.method + " " + loc->endpoint.BaseUrl() + loc->path + ": ";

  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::milliseconds(options_.retry_for_ms);
  Backoff backoff;
  int attempts = 0;
  std::string detail;  // the last failure, for messages
  auto elapsed_note = [&] {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    return " (" + std::to_string(attempts) + (attempts == 1 ? " attempt" : " attempts") + " in " +
           std::to_string(ms) + " ms)";
  };
  for (;;) {
    if (options_.stop != nullptr && options_.stop->load()) {
      return Status::Aborted(prefix + ": stopped" + (detail.empty() ? "" : "; last failure: " + detail));
    }
    ++attempts;
    last_call_attempts_ = attempts;
    Headers headers = {{"Host", loc->endpoint.HostHeader()}};
    headers.insert(headers.end(), req.headers.begin(), req.headers.end());
    HttpRequest hreq{req.method, loc->path, req.query, headers, req.body};
    auto signed_req = SignRequest(
        hreq, options_.credentials,
        SigningOptions::ForS3(options_.region, std::chrono::system_clock::now(), Payload::kHashBody));
    if (!signed_req.ok()) {
      e.kind = S3ErrorKind::kAuth;
      return Status::InvalidArgument(prefix + ": cannot sign the request: " + signed_req.status().message());
    }
    for (auto& h : signed_req->headers_to_add) headers.push_back(std::move(h));

    auto resp = http_->Send(loc->endpoint, req.method, loc->path, req.query, headers, req.body);
    ++requests_sent_;
    S3ErrorKind kind;
    if (resp.ok() && options_.drop_response) {
      const S3RequestInfo info{req.op, req.method, req.bucket, req.key, requests_sent_, attempts};
      if (options_.drop_response(info)) resp = Status::Unavailable(send_prefix + "response lost (injected fault)");
    }
    if (!resp.ok()) {
      if (!resp.status().IsUnavailable()) {
        e.kind = resp.status().IsCorruption() ? S3ErrorKind::kBadResponse : S3ErrorKind::kValidation;
        std::string m = resp.status().message();
        if (m.starts_with(send_prefix)) m.erase(0, send_prefix.size());
        return internal::S3StatusForKind(e.kind, prefix + ": " + m);
      }
      kind = S3ErrorKind::kNetwork;
      e.http_status = 0;
      e.code.clear();
      detail = resp.status().message();
      if (detail.starts_with(send_prefix)) detail.erase(0, send_prefix.size());
    } else if (resp->status >= 200 && resp->status < 300) {
      e.kind = S3ErrorKind::kNone;
      e.http_status = static_cast<int>(resp->status);
      *out = std::move(resp).value();
      return Status::OK();
    } else {
      const internal::S3ErrorInfo info = internal::ParseS3Error(resp->body);
      kind = internal::ClassifyS3Error(static_cast<int>(resp->status), info.code);
      e.http_status = static_cast<int>(resp->status);
      e.code = info.code;
      detail = (info.code.empty() ? "" : info.code + ", ") + "HTTP " + std::to_string(resp->status);
      if (!info.message.empty()) detail += ": " + info.message;
      // S3 echoes the string to sign for a bad signature; never let a secret through.
      Redact(&detail, options_.credentials.secret_access_key);
      Redact(&detail, options_.credentials.session_token);
      if (kind == S3ErrorKind::kAuth) detail += " (credentials: " + options_.credentials.Redacted() + ")";
    }
    e.kind = kind;
    if (!internal::IsRetryable(kind)) return internal::S3StatusForKind(kind, prefix + ": " + detail);
    const int64_t delay = backoff.Next();
    if (std::chrono::steady_clock::now() + std::chrono::milliseconds(delay) >= deadline) {
      return Status::Unavailable(prefix + ": " + detail + elapsed_note());
    }
    if (SleepUnlessStopped(delay, options_.stop)) return Status::Aborted(prefix + ": stopped; last failure: " + detail);
  }
}

StatusOr<PutResult> S3Client::Put(const std::string& bucket, const std::string& key, std::string_view body,
                                  const PutOptions& options, const std::string& op, S3Error* err) {
  S3Error local;
  S3Error& e = err != nullptr ? *err : local;
  const std::string where = "S3 " + op + " s3://" + bucket + "/" + key;
  if (key.empty()) {
    e = S3Error{S3ErrorKind::kValidation, "", 0};
    return Status::InvalidArgument(where + ": empty key");
  }
  auto headers = internal::PutHeaders(body, options);
  if (!headers.ok()) {
    e = S3Error{S3ErrorKind::kValidation, "", 0};
    return headers.status().WithContext(where);
  }
  const std::string md5_hex = internal::HexMd5(body);
  PutResult result;
  // A create-only PUT may find the object deleted between its 412 and the HEAD (kGone):
  // it tries again, a few times at most.
  for (int round = 0;; ++round) {
    Request req{op, "PUT", bucket, key, "", *headers, body};
    HttpResponse resp;
    Status st = Call(req, &resp, &e);
    result.attempts += last_call_attempts_;
    if (st.ok()) {
      result.etag = Trimmed(resp.Header("ETag").value_or(""));
      return result;
    }
    if (e.kind != S3ErrorKind::kPreconditionFailed || options.condition == PutOptions::Condition::kNone ||
        options.writer_id.empty()) {
      return st;
    }
    // 412: is the object there this very write (a lost response, a repeated call)?
    S3Error head_err;
    auto head = HeadObject(bucket, key, &head_err);
    std::optional<S3ObjectInfo> current;
    if (head.ok()) {
      current = std::move(head).value();
    } else if (head_err.kind != S3ErrorKind::kNotFound) {
      e = head_err;
      return head.status().WithContext(where + ": resolving a 412 (precondition failed)");
    }
    switch (internal::ResolvePreconditionFailed(current, options.writer_id, md5_hex,
                                                static_cast<int64_t>(body.size()))) {
      case internal::PreconditionVerdict::kOurs:
        e = S3Error{};
        result.etag = current->etag;
        result.resolved = true;
        return result;
      case internal::PreconditionVerdict::kTheirs:
        e = S3Error{S3ErrorKind::kPreconditionFailed, "PreconditionFailed", 412};
        return Status::FailedPrecondition(
            st.message() + (options.condition == PutOptions::Condition::kIfNoneMatch
                                ? " (the object exists, written by another writer: lost race)"
                                : " (the object is not the version expected: not current)"));
      case internal::PreconditionVerdict::kGone:
        if (options.condition == PutOptions::Condition::kIfMatch || round >= 3) {
          e = S3Error{S3ErrorKind::kPreconditionFailed, "PreconditionFailed", 412};
          return Status::FailedPrecondition(st.message() + " (the object is gone)");
        }
        break;  // create-only: try again
    }
  }
}

StatusOr<PutResult> S3Client::PutObject(const std::string& bucket, const std::string& key, std::string_view body,
                                        const PutOptions& options, S3Error* err) {
  return Put(bucket, key, body, options, "PutObject", err);
}

StatusOr<PutResult> S3Client::CreateObject(const std::string& bucket, const std::string& key, std::string_view body,
                                           const std::string& writer_id, S3Error* err) {
  if (writer_id.empty()) {
    if (err != nullptr) *err = S3Error{S3ErrorKind::kValidation, "", 0};
    return Status::InvalidArgument("S3 CreateObject s3://" + bucket + "/" + key + ": a writer id is required");
  }
  PutOptions o;
  o.condition = PutOptions::Condition::kIfNoneMatch;
  o.writer_id = writer_id;
  return Put(bucket, key, body, o, "CreateObject", err);
}

StatusOr<S3Object> S3Client::GetObject(const std::string& bucket, const std::string& key, const GetOptions& options,
                                       S3Error* err) {
  S3Error local;
  S3Error& e = err != nullptr ? *err : local;
  const std::string where = "S3 GetObject s3://" + bucket + "/" + key;
  Request req{"GetObject", "GET", bucket, key, "", {}, {}};
  if (options.range.has_value()) {
    const auto [offset, length] = *options.range;
    if (offset < 0 || length < 0) {
      e = S3Error{S3ErrorKind::kValidation, "", 0};
      return Status::InvalidArgument(where + ": negative range");
    }
    req.headers.emplace_back("Range", "bytes=" + std::to_string(offset) + "-" +
                                          (length > 0 ? std::to_string(offset + length - 1) : ""));
  }
  if (key.empty()) {
    e = S3Error{S3ErrorKind::kValidation, "", 0};
    return Status::InvalidArgument(where + ": empty key");
  }
  HttpResponse resp;
  RETURN_IF_ERROR(Call(req, &resp, &e));
  S3Object obj;
  obj.info = internal::ObjectInfoFromHeaders(resp);
  obj.info.key = key;
  obj.body = std::move(resp.body);
  if (!options.range.has_value()) {
    Status st = internal::VerifyBody(obj.info, obj.body, options.require_checksum);
    if (!st.ok()) {
      e = S3Error{S3ErrorKind::kCorruption, "", static_cast<int>(resp.status)};
      return Status::Corruption(where + " at " + endpoint_for_messages(bucket) + ": " + st.message());
    }
  } else {
    // Content-Range "bytes A-B/TOTAL" must start where asked: a server ignoring Range
    // answers 200 with the whole object.
    const int64_t offset = options.range->first;
    const std::string cr = resp.Header("Content-Range").value_or("");
    const std::string want = "bytes " + std::to_string(offset) + "-";
    if (resp.status != 206 || !cr.starts_with(want)) {
      e = S3Error{S3ErrorKind::kBadResponse, "", static_cast<int>(resp.status)};
      return Status::Corruption(where + " at " + endpoint_for_messages(bucket) + ": asked for a range from byte " +
                                std::to_string(offset) + ", got HTTP " + std::to_string(resp.status) +
                                " without a matching Content-Range");
    }
    obj.info.size = -1;  // Content-Length is the range's, not the object's
  }
  return obj;
}

StatusOr<S3ObjectInfo> S3Client::HeadObject(const std::string& bucket, const std::string& key, S3Error* err) {
  if (key.empty()) {
    if (err != nullptr) *err = S3Error{S3ErrorKind::kValidation, "", 0};
    return Status::InvalidArgument("S3 HeadObject s3://" + bucket + ": empty key");
  }
  Request req{"HeadObject", "HEAD", bucket, key, "", {}, {}};
  HttpResponse resp;
  RETURN_IF_ERROR(Call(req, &resp, err));
  S3ObjectInfo info = internal::ObjectInfoFromHeaders(resp);
  info.key = key;
  return info;
}

StatusOr<std::vector<S3ObjectInfo>> S3Client::ListObjectsV2(const std::string& bucket, const ListOptions& options,
                                                            S3Error* err) {
  S3Error local;
  S3Error& e = err != nullptr ? *err : local;
  const std::string where = "S3 ListObjectsV2 s3://" + bucket + "/" + options.prefix + "*";
  if (options.page_size < 1 || options.page_size > 1000 || options.limit < 0) {
    e = S3Error{S3ErrorKind::kValidation, "", 0};
    return Status::InvalidArgument(where + ": page size must be 1..1000 and the limit not negative");
  }
  std::vector<S3ObjectInfo> out;
  std::string token;
  std::string last_key = options.start_after;
  for (int page = 1;; ++page) {
    Request req{"ListObjectsV2", "GET", bucket, "", internal::ListQuery(options, token), {}, {}};
    HttpResponse resp;
    RETURN_IF_ERROR(Call(req, &resp, &e));
    auto parsed = internal::ParseListObjectsV2(resp.body);
    Status st = parsed.status();
    if (st.ok()) {
      for (S3ObjectInfo& o : parsed->objects) {
        // Ascending and past the previous page: a server that loops is caught here.
        if (!last_key.empty() && o.key <= last_key) {
          st = Status::Corruption("key '" + o.key + "' is not after '" + last_key + "'");
          break;
        }
        if (!o.key.starts_with(options.prefix)) {
          st = Status::Corruption("key '" + o.key + "' is outside the prefix");
          break;
        }
        last_key = o.key;
        out.push_back(std::move(o));
        if (options.limit > 0 && static_cast<int64_t>(out.size()) >= options.limit) return out;
      }
      if (st.ok() && parsed->truncated && parsed->next_continuation_token == token) {
        st = Status::Corruption("the continuation token repeats");
      }
    }
    if (!st.ok()) {
      e = S3Error{S3ErrorKind::kBadResponse, "", static_cast<int>(resp.status)};
      return st.WithContext(where + " at " + endpoint_for_messages(bucket) + ", page " + std::to_string(page));
    }
    if (!parsed->truncated) return out;
    token = parsed->next_continuation_token;
  }
}

Status S3Client::DeleteObject(const std::string& bucket, const std::string& key, S3Error* err) {
  if (key.empty()) {
    if (err != nullptr) *err = S3Error{S3ErrorKind::kValidation, "", 0};
    return Status::InvalidArgument("S3 DeleteObject s3://" + bucket + ": empty key");
  }
  Request req{"DeleteObject", "DELETE", bucket, key, "", {}, {}};
  HttpResponse resp;
  S3Error local;
  S3Error& e = err != nullptr ? *err : local;
  Status st = Call(req, &resp, &e);
  if (!st.ok() && e.kind == S3ErrorKind::kNotFound && e.code != "NoSuchBucket") {
    e = S3Error{};
    return Status::OK();
  }
  return st;
}

}  // namespace docshift::aws
