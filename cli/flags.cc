// Strict decimal range check for numeric flags.
#include "cli/flags.h"

#include <charconv>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>

#include "cli/command_context.h"
#include "common/printable_line.h"

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

std::string read_flag_file(const std::string& path, std::string_view flag) {
  const std::string where = std::string(flag) + " " + path;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read " + where);
  std::string text;
  text.reserve(4096);
  std::istreambuf_iterator<char> it(in), end;
  for (; it != end; ++it) {
    if (text.size() == kMaxFlagFileSize) {
      throw UsageError(where + " is larger than " + std::to_string(kMaxFlagFileSize) + " octets");
    }
    text.push_back(*it);
  }
  if (in.bad()) throw UsageError("cannot read " + where);
  if (text.empty()) throw UsageError(where + " is empty");
  return text;
}

std::string first_line_of(std::string text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.erase(0, 3);
  const std::size_t end = text.find('\n');
  if (end != std::string::npos) text.resize(end);
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

std::string read_first_line(const std::string& path, std::string_view flag) {
  std::string text = first_line_of(read_flag_file(path, flag));
  if (text.empty()) throw UsageError(std::string(flag) + " " + path + ": the first line is empty");
  if (!common::is_valid_utf8(text)) {
    throw UsageError(std::string(flag) + " " + path + ": the first line is not UTF-8 text");
  }
  return text;
}

}  // namespace gw::cli
