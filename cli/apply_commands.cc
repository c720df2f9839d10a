// `gctl apply` and `gctl export`: configuration file ↔ PolicyAdminService Apply/Export.
#include "cli/apply_commands.h"

#include <memory>
#include <string>

#include "cli/config_document.h"
#include "cli/config_export.h"

namespace gw::cli {
namespace {

namespace v1 = gateway::v1;
using Stub = v1::PolicyAdminService::StubInterface;

struct ApplyFlags {
  std::string file;
  bool dry_run = false;
};

void add_apply(CLI::App& app, CommandContext& context) {
  auto* verb = app.add_subcommand(
      "apply", "Create or update everything a configuration file declares (all or nothing)");
  auto flags = std::make_shared<ApplyFlags>();
  // Not CLI::ExistingFile: an unreadable file is a failed request (exit 1), like a bad one.
  verb->add_option("-f,--filename", flags->file, "configuration file (YAML)")
      ->type_name("FILE")
      ->required();
  verb->add_flag("--dry-run", flags->dry_run, "check and report the changes, change nothing");
  verb->callback([flags, &context] {
    v1::ApplyRequest request;
    *request.mutable_document() = load_configuration_file(flags->file);
    request.set_dry_run(flags->dry_run);
    context.printer().applied(context.call(&Stub::Apply, request, kApplyTimeout), flags->dry_run);
  });
}

void add_export(CLI::App& app, CommandContext& context) {
  auto* verb = app.add_subcommand(
      "export", "Print the whole configuration as an apply file (no keys, no passwords)");
  verb->callback([&context] {
    const v1::ExportResponse response = context.call(&Stub::Export, v1::ExportRequest());
    context.out() << (context.format() == OutputFormat::kJson
                          ? export_configuration_json(response.document())
                          : export_configuration_yaml(response.document()));
  });
}

}  // namespace

void add_apply_commands(CLI::App& app, CommandContext& context) {
  add_apply(app, context);
  add_export(app, context);
}

}  // namespace gw::cli
