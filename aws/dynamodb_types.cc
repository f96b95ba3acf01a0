#include "aws/dynamodb_types.h"

#include <rapidjson/error/en.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace docshift::aws {
namespace {

// A decimal number as digits * 10^exp, digits without leading or trailing zeros; zero has
// no digits (DynamoDB has no negative zero).
struct Decimal {
  bool neg = false;
  std::string digits;
  int64_t exp = 0;
};

Status BadAttribute(std::string_view path, const std::string& what) {
  return Status::InvalidArgument("DynamoDB attribute " + std::string(path) + ": " + what);
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

StatusOr<Decimal> ParseDecimal(std::string_view n, std::string_view path) {
  Decimal d;
  size_t i = 0;
  if (i < n.size() && (n[i] == '-' || n[i] == '+')) d.neg = n[i++] == '-';
  std::string mantissa;
  size_t frac_digits = 0;
  while (i < n.size() && IsDigit(n[i])) mantissa += n[i++];
  if (i < n.size() && n[i] == '.') {
    ++i;
    while (i < n.size() && IsDigit(n[i])) {
      mantissa += n[i++];
      ++frac_digits;
    }
  }
  int64_t e = 0;
  bool bad = mantissa.empty();
  if (!bad && i < n.size() && (n[i] == 'e' || n[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < n.size() && (n[i] == '-' || n[i] == '+')) eneg = n[i++] == '-';
    size_t start = i;
    while (i < n.size() && IsDigit(n[i]) && i - start < 7) e = e * 10 + (n[i++] - '0');
    bad = i == start;
    if (eneg) e = -e;
  }
  if (bad || i != n.size()) {
    return BadAttribute(path, "\"" + std::string(n) + "\" is not a number");
  }
  size_t lead = mantissa.find_first_not_of('0');
  if (lead == std::string::npos) return Decimal{};  // Zero, "-0" included.
  size_t last = mantissa.find_last_not_of('0');
  d.digits = mantissa.substr(lead, last + 1 - lead);
  d.exp = e - static_cast<int64_t>(frac_digits) + static_cast<int64_t>(mantissa.size() - 1 - last);
  return d;
}

// Numeric order of two decimals.
bool DecimalLess(const Decimal& a, const Decimal& b) {
  auto sign = [](const Decimal& d) { return d.digits.empty() ? 0 : (d.neg ? -1 : 1); };
  if (sign(a) != sign(b)) return sign(a) < sign(b);
  if (sign(a) == 0) return false;
  // Compare magnitudes: by position of the leading digit, then digit by digit.
  int64_t adj_a = a.exp + static_cast<int64_t>(a.digits.size());
  int64_t adj_b = b.exp + static_cast<int64_t>(b.digits.size());
  bool mag_less = adj_a != adj_b ? adj_a < adj_b : a.digits < b.digits;
  bool mag_equal = adj_a == adj_b && a.digits == b.digits;
  if (mag_equal) return false;
  return a.neg ? !mag_less : mag_less;
}

const rapidjson::Value* Member(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::string_view View(const rapidjson::Value& v) {
  return std::string_view(v.GetString(), v.GetStringLength());
}

std::string Index(std::string_view path, size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

// The elements of a set, each required to be a string.
Status SetStrings(const rapidjson::Value& v, std::string_view path, const char* type,
                  std::vector<std::string_view>* out) {
  if (!v.IsArray()) return BadAttribute(path, std::string(type) + " is not an array");
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
    if (!v[i].IsString()) return BadAttribute(Index(path, i), "set element is not a string");
    out->push_back(View(v[i]));
  }
  return Status::OK();
}

int KeyLen(std::string_view key) { return static_cast<int>(key.size()); }

}  // namespace

StatusOr<std::string> Base64Decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (in.size() % 4 != 0) return Status::InvalidArgument("base64 length is not a multiple of 4");
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    int pad = 0;
    uint32_t acc = 0;
    for (size_t j = 0; j < 4; ++j) {
      char c = in[i + j];
      if (c == '=' && i + 4 == in.size() && j >= 2) {
        ++pad;
        acc <<= 6;
        continue;
      }
      int v = value(c);
      if (v < 0 || pad > 0) return Status::InvalidArgument("invalid base64 character");
      acc = (acc << 6) | static_cast<uint32_t>(v);
    }
    out += static_cast<char>((acc >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((acc >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(acc & 0xff);
  }
  return out;
}

const char* NumberModeName(NumberMode mode) {
  switch (mode) {
    case NumberMode::kDecimal:
      return "decimal";
    case NumberMode::kString:
      return "string";
    case NumberMode::kDouble:
      return "double";
  }
  return "?";
}

StatusOr<NumberMode> ParseNumberMode(std::string_view name) {
  if (name.empty() || name == "decimal") return NumberMode::kDecimal;
  if (name == "string") return NumberMode::kString;
  if (name == "double") return NumberMode::kDouble;
  return Status::InvalidArgument("DynamoDB number mode '" + std::string(name) +
                                 "' is not one of decimal, string, double");
}

namespace {

std::string CanonicalText(const Decimal& d) {
  if (d.digits.empty()) return "0";
  const int64_t len = static_cast<int64_t>(d.digits.size());
  const int64_t adjusted = d.exp + len - 1;  // the exponent of the first digit
  std::string out = d.neg ? "-" : "";
  if (d.exp >= 0 && len + d.exp <= 40) {
    out += d.digits;
    out.append(static_cast<size_t>(d.exp), '0');
  } else if (d.exp < 0 && adjusted >= -6) {
    if (-d.exp < len) {
      out += d.digits.substr(0, static_cast<size_t>(len + d.exp)) + "." +
             d.digits.substr(static_cast<size_t>(len + d.exp));
    } else {
      out += "0." + std::string(static_cast<size_t>(-d.exp - len), '0') + d.digits;
    }
  } else {
    out += d.digits.substr(0, 1);
    if (len > 1) out += "." + d.digits.substr(1);
    out += "E" + std::string(adjusted >= 0 ? "+" : "") + std::to_string(adjusted);
  }
  return out;
}

// A number no exact BSON type holds (`why` says which limit it passed), by opts.numbers.
Status AppendInexactNumber(const Decimal& d, std::string_view n, std::string_view attr_path,
                           std::string_view key, bson_t* parent, const ConvertOptions& opts,
                           const std::string& why) {
  switch (opts.numbers) {
    case NumberMode::kDecimal:
      break;
    case NumberMode::kString: {
      const std::string text = CanonicalText(d);
      bson_append_utf8(parent, key.data(), KeyLen(key), text.data(), static_cast<int>(text.size()));
      return Status::OK();
    }
    case NumberMode::kDouble: {
      // strtod rounds correctly (to nearest) from the exact decimal text.
      const std::string text = (d.neg ? "-" : "") + d.digits + "E" + std::to_string(d.exp);
      const double v = std::strtod(text.c_str(), nullptr);
      if (!std::isfinite(v) || v == 0) {
        return BadAttribute(attr_path, "number " + std::string(n) + " is out of a double's range");
      }
      bson_append_double(parent, key.data(), KeyLen(key), v);
      return Status::OK();
    }
  }
  return BadAttribute(attr_path, "number " + std::string(n) + why +
                                     " (--dynamodb_numbers=string or double stores such numbers)");
}

}  // namespace

StatusOr<std::string> CanonicalNumber(std::string_view n, std::string_view attr_path) {
  ASSIGN_OR_RETURN(Decimal d, ParseDecimal(n, attr_path));
  return CanonicalText(d);
}

Status AppendDynamoNumber(std::string_view n, std::string_view attr_path, std::string_view key,
                          bson_t* parent, const ConvertOptions& opts) {
  ASSIGN_OR_RETURN(Decimal d, ParseDecimal(n, attr_path));
  if (d.digits.empty()) {
    bson_append_int32(parent, key.data(), KeyLen(key), 0);
    return Status::OK();
  }
  if (d.exp >= 0 && static_cast<int64_t>(d.digits.size()) + d.exp <= 19) {
    __int128 v = 0;
    for (char c : d.digits) v = v * 10 + (c - '0');
    for (int64_t i = 0; i < d.exp; ++i) v *= 10;
    if (d.neg) v = -v;
    if (v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max()) {
      bson_append_int32(parent, key.data(), KeyLen(key), static_cast<int32_t>(v));
      return Status::OK();
    }
    if (v >= std::numeric_limits<int64_t>::min() && v <= std::numeric_limits<int64_t>::max()) {
      bson_append_int64(parent, key.data(), KeyLen(key), static_cast<int64_t>(v));
      return Status::OK();
    }
  }
  if (d.digits.size() > 34) {
    return AppendInexactNumber(d, n, attr_path, key, parent, opts,
                               " has " + std::to_string(d.digits.size()) +
                                   " significant digits, more than the 34 a Decimal128 holds");
  }
  if (d.exp > 0 && d.digits.size() + static_cast<size_t>(d.exp) <= 34) {
    d.digits.append(static_cast<size_t>(d.exp), '0');  // An integer keeps exponent 0.
    d.exp = 0;
  }
  std::string text = (d.neg ? "-" : "") + d.digits + "E" + std::to_string(d.exp);
  bson_decimal128_t dec;
  if (!bson_decimal128_from_string(text.c_str(), &dec)) {
    return AppendInexactNumber(d, n, attr_path, key, parent, opts, " is out of Decimal128's range");
  }
  bson_append_decimal128(parent, key.data(), KeyLen(key), &dec);
  return Status::OK();
}

Status AppendAttributeValue(const rapidjson::Value& av, std::string_view path,
                            std::string_view key, bson_t* parent, const ConvertOptions& opts) {
  if (!av.IsObject() || av.MemberCount() != 1) {
    return BadAttribute(path, "not an AttributeValue (an object with exactly one type key)");
  }
  const std::string_view type = View(av.MemberBegin()->name);
  const rapidjson::Value& v = av.MemberBegin()->value;
  const char* k = key.data();
  const int klen = KeyLen(key);
  auto want = [&](bool ok, const char* what) {
    return ok ? Status::OK() : BadAttribute(path, std::string(type) + " value is not " + what);
  };
  if (type == "S") {
    RETURN_IF_ERROR(want(v.IsString(), "a string"));
    bson_append_utf8(parent, k, klen, v.GetString(), static_cast<int>(v.GetStringLength()));
  } else if (type == "N") {
    RETURN_IF_ERROR(want(v.IsString(), "a string"));
    return AppendDynamoNumber(View(v), path, key, parent, opts);
  } else if (type == "B") {
    RETURN_IF_ERROR(want(v.IsString(), "a base64 string"));
    auto bytes = Base64Decode(View(v));
    if (!bytes.ok()) return BadAttribute(path, bytes.status().message());
    bson_append_binary(parent, k, klen, BSON_SUBTYPE_BINARY,
                       reinterpret_cast<const uint8_t*>(bytes->data()),
                       static_cast<uint32_t>(bytes->size()));
  } else if (type == "BOOL") {
    RETURN_IF_ERROR(want(v.IsBool(), "true or false"));
    bson_append_bool(parent, k, klen, v.GetBool());
  } else if (type == "NULL") {
    bson_append_null(parent, k, klen);
  } else if (type == "M") {
    RETURN_IF_ERROR(want(v.IsObject(), "an object"));
    bson_t child;
    bson_append_document_begin(parent, k, klen, &child);
    Status s;
    for (auto it = v.MemberBegin(); it != v.MemberEnd() && s.ok(); ++it) {
      std::string_view name = View(it->name);
      s = AppendAttributeValue(it->value, std::string(path) + "." + std::string(name), name,
                               &child, opts);
    }
    bson_append_document_end(parent, &child);
    return s;
  } else if (type == "L") {
    RETURN_IF_ERROR(want(v.IsArray(), "an array"));
    bson_t child;
    bson_append_array_begin(parent, k, klen, &child);
    Status s;
    for (rapidjson::SizeType i = 0; i < v.Size() && s.ok(); ++i) {
      std::string idx = std::to_string(i);
      s = AppendAttributeValue(v[i], Index(path, i), idx, &child, opts);
    }
    bson_append_array_end(parent, &child);
    return s;
  } else if (type == "SS" || type == "BS" || type == "NS") {
    std::vector<std::string_view> elems;
    RETURN_IF_ERROR(SetStrings(v, path, type == "SS" ? "SS" : type == "BS" ? "BS" : "NS", &elems));
    bson_t child;
    bson_append_array_begin(parent, k, klen, &child);
    Status s;
    if (type == "SS") {
      std::sort(elems.begin(), elems.end());
      for (size_t i = 0; i < elems.size(); ++i) {
        std::string idx = std::to_string(i);
        bson_append_utf8(&child, idx.c_str(), -1, elems[i].data(),
                         static_cast<int>(elems[i].size()));
      }
    } else if (type == "BS") {
      std::vector<std::string> bytes;
      for (size_t i = 0; i < elems.size() && s.ok(); ++i) {
        auto b = Base64Decode(elems[i]);
        if (!b.ok()) s = BadAttribute(Index(path, i), b.status().message());
        else bytes.push_back(std::move(*b));
      }
      std::sort(bytes.begin(), bytes.end());
      for (size_t i = 0; i < bytes.size() && s.ok(); ++i) {
        std::string idx = std::to_string(i);
        bson_append_binary(&child, idx.c_str(), -1, BSON_SUBTYPE_BINARY,
                           reinterpret_cast<const uint8_t*>(bytes[i].data()),
                           static_cast<uint32_t>(bytes[i].size()));
      }
    } else {
      std::vector<std::pair<Decimal, std::string_view>> nums;
      for (size_t i = 0; i < elems.size() && s.ok(); ++i) {
        auto d = ParseDecimal(elems[i], Index(path, i));
        if (!d.ok()) s = d.status();
        else nums.emplace_back(std::move(*d), elems[i]);
      }
      std::stable_sort(nums.begin(), nums.end(),
                       [](const auto& a, const auto& b) { return DecimalLess(a.first, b.first); });
      for (size_t i = 0; i < nums.size() && s.ok(); ++i) {
        s = AppendDynamoNumber(nums[i].second, Index(path, i), std::to_string(i), &child, opts);
      }
    }
    bson_append_array_end(parent, &child);
    return s;
  } else {
    return BadAttribute(path, "unknown AttributeValue type \"" + std::string(type) + "\"");
  }
  return Status::OK();
}

Status ItemToBson(const rapidjson::Value& item, const KeySchema& keys, bson_t* out,
                  const ConvertOptions& opts) {
  if (!item.IsObject()) return Status::InvalidArgument("DynamoDB item is not a JSON object");
  const rapidjson::Value* hash = Member(item, keys.hash_name.c_str());
  if (hash == nullptr) {
    return Status::InvalidArgument("DynamoDB item has no hash key attribute " + keys.hash_name);
  }
  if (keys.range_name.empty()) {
    RETURN_IF_ERROR(AppendAttributeValue(*hash, keys.hash_name, "_id", out, opts));
  } else {
    const rapidjson::Value* range = Member(item, keys.range_name.c_str());
    if (range == nullptr) {
      return Status::InvalidArgument("DynamoDB item has no range key attribute " +
                                     keys.range_name);
    }
    bson_t id;
    bson_append_document_begin(out, "_id", 3, &id);
    Status s = AppendAttributeValue(*hash, keys.hash_name, keys.hash_name, &id, opts);
    if (s.ok()) s = AppendAttributeValue(*range, keys.range_name, keys.range_name, &id, opts);
    bson_append_document_end(out, &id);
    RETURN_IF_ERROR(s);
  }
  for (auto it = item.MemberBegin(); it != item.MemberEnd(); ++it) {
    std::string_view name = View(it->name);
    RETURN_IF_ERROR(
        AppendAttributeValue(it->value, name, name == "_id" ? "_dynamodb_id" : name, out, opts));
  }
  return Status::OK();
}

Status ItemJsonToBson(std::string_view json, const KeySchema& keys, bson_t* out,
                      const ConvertOptions& opts) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) {
    return Status::InvalidArgument(std::string("DynamoDB item JSON at offset ") +
                                   std::to_string(doc.GetErrorOffset()) + ": " +
                                   rapidjson::GetParseError_En(doc.GetParseError()));
  }
  return ItemToBson(doc, keys, out, opts);
}

}  // namespace docshift::aws
