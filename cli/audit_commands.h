// `gctl audit`: the decision audit trail, queried and followed (DESIGN.md §8; issue 4).
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cli/command_context.h"

namespace gw::cli {

/// Adds the `audit` command to `app` (contract as add_service_commands):
///
///   audit [--since DUR] [--service S] [--node N] [--command helo|auth|mail|rcpt|data]
///         [--verdict continue|reject|tempfail] [--limit N] [--follow]
///
/// One QueryAudit, newest first (at most --limit records; the server's default is 100).
/// Table: TIME DECISION NODE SERVICE COMMAND VERDICT REPLY POLICY LATENCY_US; -o json:
/// {"records": [...]} with proto field names.
/// --follow: opens FollowAudit with the same filters (no deadline), then prints the query's
/// records oldest first and every new record as it is written, one line each (JSON lines
/// with -o json), until interrupted; a record already printed is not printed again. Bad
/// filter values are usage errors (exit 2).
void add_audit_commands(CLI::App& app, CommandContext& context);

/// "90s", "30m", "1h", "2d" → that duration in milliseconds; nullopt for anything else
/// (no sign, no fraction, no unit other than s/m/h/d, at most 36500 days).
std::optional<std::int64_t> parse_duration_ms(std::string_view text);

/// Now − `duration` (checked by parse_duration_ms; an invalid one counts as 0), in Unix ms.
std::int64_t since_ms(std::string_view duration);

/// Adds `--since DUR` to `verb`, stored in `target` and validated by parse_duration_ms (a
/// bad value is a usage error naming it).
CLI::Option* add_since_option(CLI::App& verb, std::string& target, const std::string& help);

}  // namespace gw::cli
