// `gctl policy list|show|delete`: the policies stored by the control plane (DESIGN.md §6, §8).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/command_context.h"

namespace gw::cli {

/// Adds the `policy` noun and its verbs to `app` (contract as add_service_commands).
/// Policies are created and changed with `gctl apply -f`.
///
///   policy list          NAME FILTERS REPLY UPDATED
///   policy show NAME     name, reply, times, then the filter list as YAML (-o yaml/json:
///                        the filters as structure)
///   policy delete NAME   refused (FAILED_PRECONDITION, exit 1) while a handler uses it
void add_policy_commands(CLI::App& app, CommandContext& context);

}  // namespace gw::cli
