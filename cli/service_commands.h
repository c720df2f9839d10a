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
///               [--monitoring] [--hostname N] [--fail-open] [limit flags]
///   service update NAME [the same flags]   only the flags given are sent, each one named in
///                                          the FieldMask ("port", "limits.max_recipients")
///   service list [--instance I] | service show NAME | service delete NAME
///
/// Limit flags (Limits in config.proto; 0 is not accepted, the server fills defaults):
/// --max-message-size --max-recipients --max-command-line --max-text-line --max-sessions
/// --max-sessions-per-client --idle-timeout --session-timeout --data-timeout
/// --upstream-connect-timeout --upstream-timeout --upstream-data-timeout --max-errors
/// --max-idle-commands.
void add_service_commands(CLI::App& app, CommandContext& context);

}  // namespace gw::cli
