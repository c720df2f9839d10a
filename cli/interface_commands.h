// `gctl interface add|list|delete`: inbound listeners of services (DESIGN.md §2, §8).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/command_context.h"

namespace gw::cli {

/// Adds the `interface` noun and its verbs to `app` (contract as add_service_commands):
///
///   interface add SERVICE --type tcp|ssl|starttls --port P [--bind 127.0.0.1] [--cert NAME]
///       [--sni-cert HOST=NAME]... [--client-ca NAME] [--ciphers STR] [--tls-min-version V]
///       prints the new interface's id (table: an ID column; JSON/YAML: the Interface)
///   interface list [SERVICE] | interface delete ID
void add_interface_commands(CLI::App& app, CommandContext& context);

}  // namespace gw::cli
