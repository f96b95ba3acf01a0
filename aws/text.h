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

}  // namespace docshift::aws
