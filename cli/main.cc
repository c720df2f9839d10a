// gctl: operator CLI of the control plane (wiring only; the commands live in gw_cli).
#include <grpc/support/log.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "cli/admin_channel.h"
#include "cli/gctl_app.h"

namespace {

// gRPC's own log lines would break the one-error-line contract; gctl reports failures
// itself. GRPC_VERBOSITY set by the user keeps gRPC's logging for debugging.
void silence_grpc_logging(gpr_log_func_args* /*args*/) {}

}  // namespace

int main(int argc, char** argv) {
  if (std::getenv("GRPC_VERBOSITY") == nullptr) gpr_set_log_function(silence_grpc_logging);
  const std::vector<std::string> args(argv + 1, argv + argc);
  return gw::cli::run_gctl(
      args,
      [](const gw::cli::ChannelOptions& channel) {
        return gw::cli::connect_control_plane(channel);
      },
      gw::cli::channel_defaults_from_environment(), std::cin, std::cout, std::cerr);
}
