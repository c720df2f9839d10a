// Wildcard patterns over addresses and names: "*" matches any run of characters (also an
// empty one), everything else matches itself case-insensitively (ASCII), and the pattern
// covers the whole text (DESIGN.md §5; reference "Add a MAIL policy handler").
#pragma once

#include <cstddef>
#include <string_view>

namespace gw::common {

/// True if `pattern` matches all of `text`. O(|pattern|·|text|) worst case, no recursion,
/// no allocation.
bool wildcard_match(std::string_view pattern, std::string_view text);

/// How specific a pattern is, for best-match selection: more literal (non-"*") characters
/// first, then fewer "*". Characters are UTF-8 characters, not octets (an octet that starts
/// no well-formed sequence counts as one).
struct WildcardSpecificity {
  std::size_t literals = 0;
  std::size_t stars = 0;
};
WildcardSpecificity wildcard_specificity(std::string_view pattern);

/// True if `a` is strictly more specific than `b` (DESIGN.md §5 ordering, without the
/// creation-order tie-break which the caller applies).
bool more_specific(const WildcardSpecificity& a, const WildcardSpecificity& b);

}  // namespace gw::common
