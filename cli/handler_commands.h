// `gctl handler add|list|delete`: policies bound to SMTP commands of a service (DESIGN.md §2,
// §5, §8).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/command_context.h"

namespace gw::cli {

/// Adds the `handler` noun and its verbs to `app` (contract as add_service_commands):
///
///   handler add SERVICE --command helo|auth|mail|rcpt|data --policy NAME
///       [--greeting TEMPLATE]   helo only (default "Hello ${smtp.helo.domain}")
///       [--address PATTERN]     mail/rcpt only (default "*"; best match, DESIGN.md §5)
///       prints the new handler (table: one row; JSON/YAML: the Handler with its "id")
///   handler list [SERVICE]      ID SERVICE COMMAND ADDRESS GREETING POLICY
///   handler delete ID
/// A --command outside the list, or --greeting / --address on a command that has none, is
/// a usage error (exit 2).
void add_handler_commands(CLI::App& app, CommandContext& context);

}  // namespace gw::cli
