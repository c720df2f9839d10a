// quoted_name: built by append (`"\"" + f() + "\""` trips g++ 12's false -Wrestrict at -O3).
#include "storage/quoted_name.h"

#include "common/logging.h"
#include "common/printable_line.h"

namespace gw::storage {

std::string quoted_name(std::string_view name) {
  constexpr std::size_t kMaxOctets = 80;
  std::string out = "\"";
  if (name.size() <= kMaxOctets && name.find('"') == std::string_view::npos &&
      name.find('\\') == std::string_view::npos &&
      common::printable_line(name, kMaxOctets) == name) {
    out += name;
  } else {
    out += common::log_escape(name, kMaxOctets);
  }
  out += '"';
  return out;
}

}  // namespace gw::storage
