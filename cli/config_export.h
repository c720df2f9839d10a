// `gctl export`: ConfigurationDocument → the YAML file format of `gctl apply -f`
// (DESIGN.md §6), so that applying the output recreates the same configuration.
#pragma once

#include <string>

#include "gateway/v1/policy.pb.h"

namespace gw::cli {

/// The configuration as an apply file, byte-stable for the same document (no time stamps,
/// ids or source lines; objects in the document's order, keys in a fixed order):
///   certificates: name, cert_pem (a block scalar); never a key — a certificate that has
///                 one gets a comment saying key_file must be added to restore it.
///   users:        name, password_hash.
///   policies:     name, reply (when set), filters (the stored filters YAML as structure).
///   services:     name, host, port, security (none|ssl|starttls), then only the fields
///                 that differ from their defaults (limits too, field by field); the
///                 upstream password is never printed (a comment says so when one is set);
///                 interfaces without ids; handlers with command (lower case), address
///                 (mail/rcpt only), greeting (helo only, when set) and policy.
/// Empty sections are left out; an empty document prints "{}". Ends in '\n'.
/// Throws std::runtime_error if a policy's filters_yaml is not valid YAML.
std::string export_configuration_yaml(const gateway::v1::ConfigurationDocument& document);

/// The same structure as JSON (two-space indentation, ending in '\n'), for `-o json`.
std::string export_configuration_json(const gateway::v1::ConfigurationDocument& document);

}  // namespace gw::cli
