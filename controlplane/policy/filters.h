// Factories of the filter types (one .cc each). Each reads its own keys from a FilterSpec
// and throws CompileFailure on a bad value; the common keys "type" and "when" are read by
// compile_policy. The YAML reference of every filter is in README.md beside this file.
#pragma once

#include <memory>

#include "controlplane/policy/filter.h"
#include "controlplane/policy/filter_spec.h"

namespace gw::controlplane::policy {

/// "true" / "false": always passes / always fails.
std::unique_ptr<Filter> make_constant_filter(bool result);

/// attribute_authentication [allow_authorization_id]: authentication.subject.id and
/// authentication.subject.password against the UserDirectory (Argon2id).
std::unique_ptr<Filter> make_attribute_authentication_filter(FilterSpec& spec);

/// set_attribute attribute, value (template).
std::unique_ptr<Filter> make_set_attribute_filter(FilterSpec& spec);

/// match attribute, wildcard|regex|equals|cidr [negate].
std::unique_ptr<Filter> make_match_filter(FilterSpec& spec);

/// body_match regex|wildcard [negate], over content.body.
std::unique_ptr<Filter> make_body_match_filter(FilterSpec& spec);

/// max_size bytes: the DATA message is at most that many octets.
std::unique_ptr<Filter> make_max_size_filter(FilterSpec& spec);

/// add_header name, value (template) / remove_header name: edits of the DATA message's
/// top header block.
std::unique_ptr<Filter> make_add_header_filter(FilterSpec& spec);
std::unique_ptr<Filter> make_remove_header_filter(FilterSpec& spec);

}  // namespace gw::controlplane::policy
