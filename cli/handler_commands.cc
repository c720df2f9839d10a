// `gctl handler ...`: flags → Handler, one PolicyAdminService call per verb.
#include "cli/handler_commands.h"

#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "cli/enum_names.h"
#include "cli/flags.h"

namespace gw::cli {
namespace {

namespace v1 = gateway::v1;
using Stub = v1::PolicyAdminService::StubInterface;

struct AddFlags {
  std::string service;
  std::string command;
  std::string policy;
  std::string greeting;
  std::string address;
};

void add_add(CLI::App& noun, CommandContext& context) {
  auto* verb = noun.add_subcommand("add", "Bind a policy to an SMTP command of a service");
  auto flags = std::make_shared<AddFlags>();
  verb->add_option("SERVICE", flags->service, "service name")->required();
  verb->add_option("--command", flags->command, "SMTP command the policy runs on")
      ->type_name(kCommandNames)
      ->required()
      ->check(CLI::IsMember({"helo", "auth", "mail", "rcpt", "data"}).description(""));
  verb->add_option("--policy", flags->policy, "policy name")->type_name("NAME")->required();
  auto* greeting = verb->add_option("--greeting", flags->greeting,
                                    "helo: greeting template [Hello ${smtp.helo.domain}]")
                       ->type_name("TEMPLATE");
  auto* address =
      verb->add_option("--address", flags->address,
                       "mail/rcpt: address pattern, * matches any run of characters [*]")
          ->type_name("PATTERN");
  verb->callback([flags, greeting, address, &context] {
    v1::CreateHandlerRequest request;
    v1::Handler& handler = *request.mutable_handler();
    handler.set_service(flags->service);
    // The parser admits only the names in kCommandNames.
    handler.set_command(parse_command(flags->command).value_or(v1::SMTP_COMMAND_UNSPECIFIED));
    handler.set_policy(flags->policy);
    if (greeting->count() > 0) {
      if (handler.command() != v1::SMTP_COMMAND_HELO) {
        throw UsageError("--greeting is only for --command helo");
      }
      handler.set_greeting(flags->greeting);
    }
    if (address->count() > 0) {
      if (handler.command() != v1::SMTP_COMMAND_MAIL &&
          handler.command() != v1::SMTP_COMMAND_RCPT) {
        throw UsageError("--address is only for --command mail and rcpt");
      }
      if (flags->address.empty()) {
        // "" would store the default "*" and catch every sender (probe round 17).
        throw UsageError("--address is empty: use '<>' for the null sender, or leave the flag "
                         "out for '*' (every address)");
      }
      handler.set_address(flags->address);
    }
    context.printer().handler_row(context.call(&Stub::CreateHandler, request));
  });
}

void add_list(CLI::App& noun, CommandContext& context) {
  auto* verb = noun.add_subcommand("list", "List handlers, of all services or of one");
  auto service = std::make_shared<std::string>();
  verb->add_option("SERVICE", *service, "only this service's handlers");
  verb->callback([service, &context] {
    v1::ListHandlersRequest request;
    request.set_service(*service);
    context.printer().handlers(context.call(&Stub::ListHandlers, request));
  });
}

void add_delete(CLI::App& noun, CommandContext& context) {
  auto* verb = noun.add_subcommand("delete", "Delete a handler by id");
  auto id = std::make_shared<std::int64_t>(0);
  verb->add_option("ID", *id, "handler id (see handler list)")
      ->required()
      ->check(unsigned_in(1, std::numeric_limits<std::int64_t>::max()));
  verb->callback([id, &context] {
    v1::DeleteHandlerRequest request;
    request.set_id(*id);
    context.printer().deleted("handler " + std::to_string(*id),
                              context.call(&Stub::DeleteHandler, request));
  });
}

}  // namespace

void add_handler_commands(CLI::App& app, CommandContext& context) {
  auto* noun = app.add_subcommand("handler", "Policies bound to SMTP commands (handlers)");
  noun->require_subcommand(1);
  add_add(*noun, context);
  add_list(*noun, context);
  add_delete(*noun, context);
}

}  // namespace gw::cli
