// `gctl cert add|list|show|delete`: the control plane's certificate store (issue 3).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/command_context.h"

namespace gw::cli {

/// Adds the `cert` noun and its verbs to `app` (contract as add_service_commands):
///
///   cert add NAME --cert FILE [--key FILE]   a PEM chain (leaf first) and optionally the
///       leaf's private key; without a key the certificate is a trust anchor. The files are
///       read by gctl and sent to gctld; the key is never printed.
///   cert list                                NAME SUBJECT NOT_AFTER HAS_KEY
///   cert show NAME                           subject, issuer, SANs, validity, fingerprint
///   cert delete NAME                         refused while a service or interface names it
void add_certificate_commands(CLI::App& app, CommandContext& context);

}  // namespace gw::cli
