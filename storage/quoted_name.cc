// quoted_name: built by append (`"\"" + f() + "\""` trips g++ 12's false -Wrestrict at -O3).
#include "storage/quoted_name.h"

#include "common/logging.h"

namespace gw::storage {

std::string quoted_name(std::string_view name) {
  std::string out = "\"";
  out += common::log_escape(name, 80);
  out += '"';
  return out;
}

}  // namespace gw::storage
