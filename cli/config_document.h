// `gctl apply -f FILE`: the configuration file (DESIGN.md §6 format) → ConfigurationDocument,
// with the files it names read, every policy compiled locally, and every error reported as
// "FILE:LINE: reason". No gRPC here: the conversion is unit-tested on its own.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

#include "gateway/v1/policy.pb.h"

namespace gw::cli {

/// A configuration file gctl refuses before sending anything. The message is one line:
/// "FILE:LINE: reason" (FILE as given on the command line, LINE 1-based), or
/// "cannot read FILE: <system error>" when the file itself cannot be read.
class ConfigFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads `path` (at most 64 MiB, common::kMaxConfigurationBytes) and converts it with
/// parse_configuration (file_name = `path` as given, files it names relative to the
/// directory of `path`). Throws ConfigFileError.
gateway::v1::ConfigurationDocument load_configuration_file(const std::string& path);

/// Converts the text of a configuration file. Top-level keys: certificates, users, policies,
/// services (each a list of maps; anything else is an error). Every object gets its
/// `source_line` (the line of its map), and so does every interface and handler.
///
/// - certificates: name, cert_file (PEM chain) or cert_pem, optional key_file or key_pem.
/// - users: name and exactly one of password_hash (sent as is) or password_file (its first
///   line, CR/LF stripped, sent as User.password for gctld to hash).
/// - policies: name, optional reply, optional filters (a list). Each policy is compiled with
///   the control plane's own policy library (controlplane/policy), so a bad filter is
///   reported with this file's line; filters_yaml is the filters list re-emitted as YAML.
/// - services: name, host, port, security (none|ssl|starttls), trusted_cas (list),
///   client_cert, ciphers, username, password_file (→ password), monitoring,
///   protocol_trace, instance,
///   fail_open, allow_plaintext_auth, require_tls, hostname, tls_min_version,
///   verify_hostname (→ no_verify_hostname = !value), tls_server_name, limits (map of Limits
///   field names), interfaces (list of: type tcp|ssl|starttls, bind, port, cert, sni_certs,
///   client_ca, ciphers, tls_min_version) and handlers (list of: command
///   helo|auth|mail|rcpt|data, policy, greeting (helo only), address (mail/rcpt only)).
///   declares_interfaces / declares_handlers are set when the key is present.
/// Unknown and duplicate keys, wrong value types, bad enum names and missing required keys
/// are errors. Files named in the document are read relative to `base_dir` (absolute paths
/// as they are), at most 1 MiB each.
/// Throws ConfigFileError ("FILE:LINE: ..." with FILE = `file_name`); YAML syntax errors
/// carry yaml-cpp's message and mark.
gateway::v1::ConfigurationDocument parse_configuration(std::string_view text,
                                                       const std::string& file_name,
                                                       const std::filesystem::path& base_dir);

}  // namespace gw::cli
