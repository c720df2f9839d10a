// `${attribute.name}` templates as the policy engine uses them: common::AttributeTemplate
// (one-pass expansion, shared with the relay node) plus the check that a template names
// only attributes that can be set (DESIGN.md §6).
#pragma once

#include <optional>
#include <string>

#include "common/attribute_template.h"
#include "controlplane/policy/attributes.h"

namespace gw::controlplane::policy {

using common::AttributeTemplate;
using common::expand_template;

/// Why `t` would silently expand to less than it says: a reference to a built-in attribute
/// in another case ("${SMTP.MAIL.FROM}" is never set, so it is ""; probe round 21).
/// nullopt when there is none. Every place that compiles a template refuses it with this
/// reason.
std::optional<std::string> miscased_reference(const AttributeTemplate& t);

}  // namespace gw::controlplane::policy
