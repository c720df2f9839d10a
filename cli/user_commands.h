// `gctl user add|passwd|list|delete`: the authentication repository (DESIGN.md §2, §8).
#pragma once

#include <CLI/CLI.hpp>

#include <istream>
#include <string>

#include "cli/command_context.h"

namespace gw::cli {

/// Adds the `user` noun and its verbs to `app` (contract as add_service_commands):
///
///   user add NAME --password-stdin      the password is the first line of stdin
///   user passwd NAME --password-stdin   (gctld stores only a salted slow hash)
///   user list                           NAME CREATED UPDATED (never a hash)
///   user delete NAME
/// --password-stdin is required: a password never goes on the command line, where other
/// users of the machine could read it.
void add_user_commands(CLI::App& app, CommandContext& context);

/// The password for --password-stdin: the first line of `in` without its line ending (LF or
/// CRLF). Throws UsageError if there is none or it is empty.
std::string read_password_line(std::istream& in);

}  // namespace gw::cli
