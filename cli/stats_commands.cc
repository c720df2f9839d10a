// `gctl stats`: flags → StatsRequest; one GetStats call.
#include "cli/stats_commands.h"

#include <memory>
#include <string>

#include "cli/audit_commands.h"

namespace gw::cli {
namespace {

namespace v1 = gateway::v1;
using Stub = v1::PolicyAdminService::StubInterface;

struct StatsFlags {
  std::string since = "1h";
  std::string service;
  std::string node;
};

}  // namespace

void add_stats_commands(CLI::App& app, CommandContext& context) {
  auto* verb = app.add_subcommand(
      "stats", "Decisions counted per service, command and verdict, with their latency");
  auto flags = std::make_shared<StatsFlags>();
  add_since_option(*verb, flags->since, "decisions of the last DUR (90s, 30m, 1h, 2d) [1h]");
  verb->add_option("--service", flags->service, "only this service")->type_name("S");
  verb->add_option("--node", flags->node, "only this relay node (--node-id)")->type_name("N");
  verb->callback([flags, &context] {
    v1::StatsRequest request;
    request.set_since_ms(since_ms(flags->since));
    request.set_service(flags->service);
    request.set_node_id(flags->node);
    context.printer().stats(context.call(&Stub::GetStats, request));
  });
}

}  // namespace gw::cli
