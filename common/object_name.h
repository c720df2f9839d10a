// The rule for names of configuration objects and of relay nodes (services, policies,
// certificates, users' instances, node ids): shared by gctld, which refuses other names,
// and grelayd, which refuses to start with one (probe round 42: it retried forever).
#pragma once

#include <algorithm>
#include <string_view>

namespace gw::common {

/// The rule in words, for error messages.
inline constexpr std::string_view kObjectNameRule = "use 1 to 64 characters from A-Z a-z 0-9 . _ -";

/// True when `name` is 1 to 64 characters from A-Z a-z 0-9 . _ -.
inline bool is_valid_object_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
         });
}

}  // namespace gw::common
