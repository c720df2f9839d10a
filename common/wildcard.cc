// Iterative wildcard matching with single-star backtracking.
#include "common/wildcard.h"

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
  for (char c : pattern) {
    if (c == '*') {
      ++s.stars;
    } else {
      ++s.literals;
    }
  }
  return s;
}

bool more_specific(const WildcardSpecificity& a, const WildcardSpecificity& b) {
  if (a.literals != b.literals) return a.literals > b.literals;
  return a.stars < b.stars;
}

}  // namespace gw::common
