// Small string helpers shared by aws/*.cc (internal to the library).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace docshift::aws {

// ASCII lower case.
inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The pieces between `sep`s, empty ones included: "a//b" -> {"a", "", "b"}; "" -> {""}.
// The views point into `s`.
inline std::vector<std::string_view> SplitView(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (true) {
    size_t end = s.find(sep, pos);
    if (end == std::string_view::npos) {
      out.push_back(s.substr(pos));
      return out;
    }
    out.push_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
}

// A server's message for one of our errors: its first line, trimmed, at most max_chars
// ("..." after a cut), so an answer that echoes the request (AWS may echo the canonical
// request, headers included) never reaches a log past its first line.
inline std::string FirstLine(std::string_view s, size_t max_chars = 300) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  s = s.substr(0, s.find_first_of("\r\n"));
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  std::string out(s.substr(0, max_chars));
  if (s.size() > max_chars) out += "...";
  return out;
}

// Replaces every occurrence of `secret` (when not empty) in *s with "<redacted>".
inline void Redact(std::string* s, const std::string& secret) {
  if (secret.empty()) return;
  for (size_t p = s->find(secret); p != std::string::npos; p = s->find(secret, p)) {
    s->replace(p, secret.size(), "<redacted>");
  }
}

}  // namespace docshift::aws
