// The policy engine's check of template references.
#include "controlplane/policy/attribute_template.h"

namespace gw::controlplane::policy {

std::optional<std::string> miscased_reference(const AttributeTemplate& t) {
  for (std::string_view name : t.reference_names()) {
    if (auto builtin = misspelled_builtin(name)) {
      return "${" + std::string(name) + "} is never set (not a built-in attribute; names are "
             "case-sensitive); did you mean ${" + std::string(*builtin) + "}?";
    }
  }
  return std::nullopt;
}

}  // namespace gw::controlplane::policy
