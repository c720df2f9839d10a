// `gctl node list`: the relay nodes the control plane knows (DESIGN.md §2 "node", §8).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/command_context.h"

namespace gw::cli {

/// Adds the `node` noun and its `list` verb to `app` (contract as add_service_commands).
void add_node_commands(CLI::App& app, CommandContext& context);

}  // namespace gw::cli
