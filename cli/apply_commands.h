// `gctl apply -f FILE [--dry-run]` and `gctl export`: the declarative configuration
// (DESIGN.md §6, §8; issue 4).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/command_context.h"

namespace gw::cli {

/// Adds the `apply` and `export` commands to `app` (contract as add_service_commands):
///
///   apply -f FILE [--dry-run]   reads FILE (config_document.h: files it names are read
///       relative to FILE's directory, policies compiled locally), sends one Apply; prints
///       the changes one per line, then "applied: configuration version N" (or "dry run:
///       nothing was changed"). A bad file is refused before anything is sent, a refusal
///       by gctld ("FILE:LINE: reason") is printed as the error; both exit 1 and change
///       nothing.
///   export                      the whole configuration in the apply format (YAML whatever
///       -o says, except -o json: the same structure as JSON); no keys, no passwords.
void add_apply_commands(CLI::App& app, CommandContext& context);

}  // namespace gw::cli
