// `gctl policy ...`: one PolicyAdminService call per verb.
#include "cli/policy_commands.h"

#include <memory>
#include <string>

namespace gw::cli {
namespace {

namespace v1 = gateway::v1;
using Stub = v1::PolicyAdminService::StubInterface;

void add_list(CLI::App& noun, CommandContext& context) {
  auto* verb = noun.add_subcommand("list", "List policies");
  verb->callback([&context] {
    context.printer().policies(context.call(&Stub::ListPolicies, v1::ListPoliciesRequest()));
  });
}

void add_show(CLI::App& noun, CommandContext& context) {
  auto* verb = noun.add_subcommand("show", "Show one policy with its filters");
  auto name = std::make_shared<std::string>();
  verb->add_option("NAME", *name, "policy name")->required();
  verb->callback([name, &context] {
    v1::GetPolicyRequest request;
    request.set_name(*name);
    context.printer().policy_detail(context.call(&Stub::GetPolicy, request));
  });
}

void add_delete(CLI::App& noun, CommandContext& context) {
  auto* verb = noun.add_subcommand("delete", "Delete a policy no handler uses");
  auto name = std::make_shared<std::string>();
  verb->add_option("NAME", *name, "policy name")->required();
  verb->callback([name, &context] {
    v1::DeletePolicyRequest request;
    request.set_name(*name);
    context.printer().deleted("policy " + *name, context.call(&Stub::DeletePolicy, request));
  });
}

}  // namespace

void add_policy_commands(CLI::App& app, CommandContext& context) {
  auto* noun = app.add_subcommand("policy", "Policies: named filter chains (apply -f to create)");
  noun->require_subcommand(1);
  add_list(*noun, context);
  add_show(*noun, context);
  add_delete(*noun, context);
}

}  // namespace gw::cli
