// gctl's command line: CLI11 set-up, dispatch, and mapping of failures to exit codes.
#include "cli/gctl_app.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>

#include "cli/apply_commands.h"
#include "cli/audit_commands.h"
#include "cli/stats_commands.h"
#include "cli/certificate_commands.h"
#include "cli/handler_commands.h"
#include "cli/interface_commands.h"
#include "cli/node_commands.h"
#include "cli/policy_commands.h"
#include "cli/service_commands.h"
#include "cli/user_commands.h"

namespace gw::cli {
namespace {

// CLI11 messages may span lines; the contract is one error line.
std::string one_line(std::string text) {
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

// "gctl service add": the commands the parser had entered when it stopped.
std::string command_path(const CLI::App& app) {
  std::string path = "gctl";
  const CLI::App* current = &app;
  while (true) {
    const auto parsed = current->get_subcommands();
    if (parsed.empty()) break;
    current = parsed.front();
    path += " " + current->get_name();
  }
  return path;
}

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

}  // namespace

ChannelOptions channel_defaults_from_environment() {
  ChannelOptions defaults;
  defaults.server = default_server(std::getenv("GCTL_SERVER"));
  defaults.tls_ca_file = environment("GCTL_TLS_CA");
  defaults.tls_cert_file = environment("GCTL_TLS_CERT");
  defaults.tls_key_file = environment("GCTL_TLS_KEY");
  defaults.token_file = environment("GCTL_TOKEN_FILE");
  return defaults;
}

int run_gctl(const std::vector<std::string>& args, const ControlPlaneConnector& connect,
             const ChannelOptions& defaults, std::istream& in, std::ostream& out,
             std::ostream& err) {
  GlobalOptions options;
  options.channel = defaults;
  CommandContext context(connect, options, in, out, err);

  CLI::App app("gctl: operator CLI of the SMTP relay gateway's control plane", "gctl");
  // Subcommands inherit fallthrough, so the global options below are accepted after the
  // noun and verb too ("gctl service list -o json").
  app.fallthrough();
  app.require_subcommand(1);
  app.add_option("--server", options.channel.server,
                 "control plane address [$GCTL_SERVER or " + std::string(kDefaultServer) + "]")
      ->type_name("ADDR");
  app.add_option("--tls-ca", options.channel.tls_ca_file,
                 "use TLS; gctld's certificate must chain to this CA (PEM) [$GCTL_TLS_CA]")
      ->type_name("FILE")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-cert", options.channel.tls_cert_file,
                 "client certificate (PEM) for gctld's --tls-ca [$GCTL_TLS_CERT]")
      ->type_name("FILE")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", options.channel.tls_key_file,
                 "private key (PEM) of --tls-cert [$GCTL_TLS_KEY]")
      ->type_name("FILE")
      ->check(CLI::ExistingFile);
  app.add_option("--token-file", options.channel.token_file,
                 "admin token for gctld's --admin-token-file [$GCTL_TOKEN_FILE]")
      ->type_name("FILE")
      ->check(CLI::ExistingFile);
  app.add_option("-o,--output", options.output, "output format [table]")
      ->type_name("table|json|yaml")
      ->check(CLI::IsMember({"table", "json", "yaml"}).description(""));
  add_service_commands(app, context);
  add_interface_commands(app, context);
  add_node_commands(app, context);
  add_certificate_commands(app, context);
  add_handler_commands(app, context);
  add_policy_commands(app, context);
  add_apply_commands(app, context);
  add_user_commands(app, context);
  add_audit_commands(app, context);
  add_stats_commands(app, context);

  // CLI11 wants the arguments last-first, and consumes them.
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);  // runs the chosen verb's callback after parsing everything
    return kExitOk;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    std::string message = one_line(e.what());
    // Nothing matched a noun or verb: say which word was not understood.
    if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
      const auto rest = app.remaining(/*recurse=*/true);
      if (!rest.empty() && message.rfind("A subcommand is required", 0) == 0) {
        message = "unknown command \"" + rest.front() + "\"";
      }
    }
    err << "gctl: error: " << message << " (see '" << command_path(app) << " --help')\n";
    return kExitUsage;
  } catch (const UsageError& e) {
    err << "gctl: error: " << one_line(e.what()) << " (see '" << command_path(app) << " --help')\n";
    return kExitUsage;
  } catch (const RpcError& e) {
    err << "gctl: error: " << error_text_for(e.status(), options.channel.server) << '\n';
    return exit_code_for(e.status());
  } catch (const std::exception& e) {
    err << "gctl: error: " << one_line(e.what()) << '\n';
    return kExitFailure;
  }
}

}  // namespace gw::cli
