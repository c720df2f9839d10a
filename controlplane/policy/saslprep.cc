// SASLprep through libidn 1.x's stringprep (Debian libidn-dev).
#include "controlplane/policy/saslprep.h"

#include <idn-free.h>
#include <stringprep.h>

#include <memory>

namespace gw::controlplane::policy {

std::optional<std::string> saslprep(std::string_view text, SaslprepUse use) {
  const std::string input(text);  // libidn wants a NUL-terminated string
  if (input.find('\0') != std::string::npos) return std::nullopt;
  char* prepared = nullptr;
  const auto flags = use == SaslprepUse::kStored ? STRINGPREP_NO_UNASSIGNED
                                                 : static_cast<Stringprep_profile_flags>(0);
  const int rc = stringprep_profile(input.c_str(), &prepared, "SASLprep", flags);
  std::unique_ptr<char, void (*)(void*)> owned(prepared, idn_free);
  if (rc != STRINGPREP_OK || prepared == nullptr) return std::nullopt;
  return std::string(prepared);
}

}  // namespace gw::controlplane::policy
