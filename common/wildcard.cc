// Iterative wildcard matching with single-star backtracking.
#include "common/wildcard.h"

#include <algorithm>

#include "common/printable_line.h"

namespace gw::common {
namespace {

char fold(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool wildcard_match(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && fold(pattern[p]) == fold(text[t])) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      // Let the last star swallow one more character and retry.
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

WildcardSpecificity wildcard_specificity(std::string_view pattern) {
  WildcardSpecificity s;
  // Characters, not octets (DESIGN.md §5 "literal characters"): "ö*@example.com" has 13
  // literals, not 14, and must lose to "*ab@example.com" (probe round 12). An octet that
  // starts no well-formed UTF-8 sequence counts as one character.
  for (std::size_t i = 0; i < pattern.size();) {
    if (pattern[i] == '*') {
      ++s.stars;
      ++i;
      continue;
    }
    ++s.literals;
    i += std::max<std::size_t>(1, utf8_sequence_length(pattern, i));
  }
  return s;
}

bool more_specific(const WildcardSpecificity& a, const WildcardSpecificity& b) {
  if (a.literals != b.literals) return a.literals > b.literals;
  return a.stars < b.stars;
}

}  // namespace gw::common
