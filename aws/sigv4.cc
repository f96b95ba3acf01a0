#include "aws/sigv4.h"

#include "aws/text.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <ctime>
#include <map>

namespace docshift::aws {
namespace {

constexpr char kAlgorithm[] = "AWS4-HMAC-SHA256";
constexpr char kUnsignedPayload[] = "UNSIGNED-PAYLOAD";

std::string Hex(const unsigned char* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '\0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 0xf];
  }
  return out;
}

std::string Hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoded; anything else (a stray '%' included) kept as is.
std::string UriDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// RFC 3986 dot-segment removal plus empty-segment removal, as the suite's *-normalized
// cases expect: "//example//" -> "/example/", "/a/b/../.." -> "/".
std::string NormalizePath(std::string_view path) {
  std::vector<std::string_view> kept;
  for (std::string_view seg : SplitView(path, '/')) {
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (!kept.empty()) kept.pop_back();
      continue;
    }
    kept.push_back(seg);
  }
  std::string out = "/";
  for (size_t i = 0; i < kept.size(); ++i) {
    if (i > 0) out += '/';
    out += kept[i];
  }
  if (!kept.empty() && !path.empty() && path.back() == '/') out += '/';
  return out;
}

std::string CanonicalQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  for (std::string_view param : SplitView(query, '&')) {
    if (param.empty()) continue;
    size_t eq = param.find('=');
    std::string_view name = param.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? "" : param.substr(eq + 1);
    params.emplace_back(UriEncode(UriDecode(name), false), UriEncode(UriDecode(value), false));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Trimmed, inner whitespace runs collapsed to one space.
std::string CanonicalHeaderValue(std::string_view v) {
  std::string out;
  bool pending_space = false;
  for (char c : v) {
    if (IsSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

bool Unsigned(const std::string& lower_name) {
  for (const char* skip : {"user-agent", "x-amzn-trace-id", "expect", "connection",
                           "transfer-encoding", "authorization"}) {
    if (lower_name == skip) return true;
  }
  return false;
}

}  // namespace

std::string HexSha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return Hex(md, len);
}

std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 0xf];
    }
  }
  return out;
}

std::string AmzDate(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

SigningOptions SigningOptions::ForS3(std::string region,
                                     std::chrono::system_clock::time_point time,
                                     Payload payload) {
  SigningOptions o;
  o.region = std::move(region);
  o.service = "s3";
  o.time = time;
  o.normalize_path = false;
  o.double_uri_encode = false;
  o.payload = payload;
  o.add_content_sha256_header = true;
  return o;
}

StatusOr<SignedRequest> SignRequest(const HttpRequest& request, const Credentials& creds,
                                    const SigningOptions& options) {
  if (creds.access_key_id.empty() || creds.secret_access_key.empty()) {
    return Status::InvalidArgument("SigV4: empty AWS access key id or secret key");
  }
  if (options.region.empty() || options.service.empty()) {
    return Status::InvalidArgument("SigV4: empty region or service name");
  }
  const std::string amz_date = AmzDate(options.time);
  const std::string date = amz_date.substr(0, 8);
  const std::string payload_hash =
      options.payload == Payload::kUnsigned ? kUnsignedPayload : HexSha256(request.body);

  SignedRequest out;
  const bool has_token = !creds.session_token.empty();
  if (has_token) out.headers_to_add.emplace_back("X-Amz-Security-Token", creds.session_token);
  out.headers_to_add.emplace_back("X-Amz-Date", amz_date);
  if (options.add_content_sha256_header) {
    out.headers_to_add.emplace_back("x-amz-content-sha256", payload_hash);
  }

  // Canonical headers: lower-case name -> values joined with ',' in order.
  std::map<std::string, std::string> canon;
  auto add = [&canon](std::string_view name, std::string_view value) {
    std::string lname = AsciiLower(name);
    if (Unsigned(lname)) return;
    auto [it, fresh] = canon.try_emplace(lname, CanonicalHeaderValue(value));
    if (!fresh) it->second += "," + CanonicalHeaderValue(value);
  };
  for (const auto& [name, value] : request.headers) {
    std::string lname = AsciiLower(name);
    if (lname == "x-amz-date" || lname == "x-amz-security-token" ||
        (lname == "x-amz-content-sha256" && options.add_content_sha256_header)) {
      return Status::InvalidArgument("SigV4: the request already has " + name +
                                     ": the signer adds it");
    }
    add(name, value);
  }
  if (!canon.count("host")) return Status::InvalidArgument("SigV4: the request has no Host header");
  for (const auto& [name, value] : out.headers_to_add) {
    if (AsciiLower(name) == "x-amz-security-token" && !options.sign_session_token) continue;
    add(name, value);
  }

  std::string path = request.path.empty() ? std::string("/") : request.path;
  if (options.normalize_path) path = NormalizePath(path);
  if (options.double_uri_encode) path = UriEncode(path, /*keep_slash=*/true);

  std::string signed_headers, header_block;
  for (const auto& [name, value] : canon) {
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += name;
    header_block += name + ":" + value + "\n";
  }
  out.canonical_request = request.method + "\n" + path + "\n" + CanonicalQuery(request.query) +
                          "\n" + header_block + "\n" + signed_headers + "\n" + payload_hash;

  const std::string scope = date + "/" + options.region + "/" + options.service + "/aws4_request";
  out.string_to_sign = std::string(kAlgorithm) + "\n" + amz_date + "\n" + scope + "\n" +
                       HexSha256(out.canonical_request);

  std::string key = Hmac("AWS4" + creds.secret_access_key, date);
  key = Hmac(key, options.region);
  key = Hmac(key, options.service);
  key = Hmac(key, "aws4_request");
  std::string sig = Hmac(key, out.string_to_sign);
  out.signature = Hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());

  out.headers_to_add.emplace_back(
      "Authorization", std::string(kAlgorithm) + " Credential=" + creds.access_key_id + "/" +
                           scope + ", SignedHeaders=" + signed_headers +
                           ", Signature=" + out.signature);
  return out;
}

}  // namespace docshift::aws
