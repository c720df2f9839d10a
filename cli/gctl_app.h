// gctl's whole command line: parse, run one command, report the outcome (DESIGN.md §8).
#pragma once

#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "cli/command_context.h"

namespace gw::cli {

/// Runs gctl with `args` (argv without the program name) and returns its exit code:
/// 0 ok, 2 usage error (CLI11 parse error or bad flag value; the server is not contacted),
/// 1 request refused by the server or server unreachable.
/// Results go to `out`; every error is exactly one line on `err`, "gctl: error: ...";
/// `--help` prints help to `out` and returns 0.
/// `defaults` holds what applies when a global option is absent (main passes $GCTL_SERVER or
/// 127.0.0.1:7070, and $GCTL_TLS_CA, $GCTL_TLS_CERT, $GCTL_TLS_KEY); `connect` opens the stubs
/// once the command line is known to be good; `in` is read by --password-stdin only. Global options
/// (`--server`, `-o`, `--tls-ca`,
/// `--tls-cert`, `--tls-key`) may stand before or after the noun and verb.
int run_gctl(const std::vector<std::string>& args, const ControlPlaneConnector& connect,
             const ChannelOptions& defaults, std::istream& in, std::ostream& out,
             std::ostream& err);

/// The defaults of the global options from the environment: GCTL_SERVER, GCTL_TLS_CA,
/// GCTL_TLS_CERT, GCTL_TLS_KEY (unset or empty: not given).
ChannelOptions channel_defaults_from_environment();

}  // namespace gw::cli
