// Strict decimal range check for numeric flags.
#include "cli/flags.h"

#include <charconv>
#include <string>
#include <system_error>

namespace gw::cli {

CLI::Validator unsigned_in(std::uint64_t min, std::uint64_t max) {
  const std::string range = std::to_string(min) + " to " + std::to_string(max);
  return CLI::Validator(
      [min, max, range](std::string& text) -> std::string {
        std::uint64_t value = 0;
        const char* end = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(text.data(), end, value);
        if (text.empty() || ec != std::errc() || ptr != end || value < min || value > max) {
          return "value " + text + " is not a whole number from " + range;
        }
        return {};
      },
      /*validator_desc=*/"", "unsigned_in");
}

}  // namespace gw::cli
