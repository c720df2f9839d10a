// How repositories name a record in their error messages.
#pragma once

#include <string>
#include <string_view>

namespace gw::storage {

/// `name` in double quotes for messages such as `policy "x" not found`: as it is when it is
/// at most 80 octets of printable ASCII or UTF-8 without control characters (common::
/// printable_line keeps it unchanged: a user "jürgen" reads as such; probe round 48), else
/// escaped and cut to 80 octets (common::log_escape: "\x01").
std::string quoted_name(std::string_view name);

}  // namespace gw::storage
