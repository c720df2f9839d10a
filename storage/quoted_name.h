// How repositories name a record in their error messages.
#pragma once

#include <string>
#include <string_view>

namespace gw::storage {

/// `name` in double quotes, escaped for a log line and cut to 80 octets
/// (common::log_escape), for messages such as `policy "x" not found`.
std::string quoted_name(std::string_view name);

}  // namespace gw::storage
