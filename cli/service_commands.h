// `gctl service add|update|list|show|delete`: services of the admin API (DESIGN.md §2, §8).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/command_context.h"

namespace gw::cli {

/// Adds the `service` noun and its verbs to `app`. Each verb, when parsed, makes one
/// AdminService call through `context` and prints the result with the context's printer;
/// failures are thrown (RpcError, UsageError) for run_gctl to report. `context` must outlive
/// `app`'s parse.
///
///   service add NAME --host H [--port P] [--instance I] [--security none|ssl|starttls]
///               [--monitoring] [--protocol-trace] [--hostname N] [--fail-open] [TLS flags]
///               [credential flags]
///               [limit flags]
///   service update NAME [the same flags] [--no-password]   only the flags given are sent,
///               each one named in the FieldMask ("port", "limits.max_recipients")
///
/// TLS flags (upstream leg): --trusted-ca NAME (repeatable; "system" = OS bundle; "" clears),
/// --client-cert NAME, --ciphers STR, --tls-min-version 1.2|1.3, --verify-hostname /
/// --no-verify-hostname, --tls-server-name NAME. Credential flags: --username U,
/// --password-file FILE (first line; never printed), --require-tls, --allow-plaintext-auth.
/// Boolean flags take "=false" to turn a setting off.
///   service list [--instance I] | service show NAME | service delete NAME
///
/// Limit flags (Limits in config.proto; 0 is not accepted, the server fills defaults):
/// --max-message-size --max-recipients --max-command-line --max-text-line --max-sessions
/// --max-sessions-per-client --idle-timeout --session-timeout --data-timeout
/// --upstream-connect-timeout --upstream-timeout --upstream-data-timeout --max-errors
/// --max-idle-commands --decision-timeout.
void add_service_commands(CLI::App& app, CommandContext& context);

}  // namespace gw::cli
