// `gctl node list`: one ListNodes call.
#include "cli/node_commands.h"

namespace gw::cli {

void add_node_commands(CLI::App& app, CommandContext& context) {
  namespace v1 = gateway::v1;
  auto* noun = app.add_subcommand("node", "Relay nodes (grelayd) known to the control plane");
  noun->require_subcommand(1);
  auto* list = noun->add_subcommand("list", "List nodes and their configuration versions");
  list->callback([&context] {
    context.printer().nodes(
        context.call(&v1::AdminService::StubInterface::ListNodes, v1::ListNodesRequest()));
  });
}

}  // namespace gw::cli
