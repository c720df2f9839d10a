// `gctl stats`: the decisions of the audit trail, counted (DESIGN.md §8).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/command_context.h"

namespace gw::cli {

/// Adds `stats [--since DUR] [--service S] [--node N]`: one GetStats call over the window
/// (default the last hour; --since takes 90s, 30m, 1h, 2d like `gctl audit`).
/// Table: SERVICE COMMAND VERDICT DECISIONS AVG_US MAX_US, one row per service, command and
/// verdict, then a TOTAL row; "no decisions since TIME" when there are none. -o json|yaml:
/// the StatsResponse (since_ms, until_ms, decisions) with proto field names. A bad --since
/// is a usage error (exit 2).
void add_stats_commands(CLI::App& app, CommandContext& context);

}  // namespace gw::cli
