// `gctl user ...`: one PolicyAdminService call per verb; passwords only from stdin.
#include "cli/user_commands.h"

#include <memory>

#include "cli/flags.h"
#include "common/printable_line.h"

namespace gw::cli {
namespace {

namespace v1 = gateway::v1;
using Stub = v1::PolicyAdminService::StubInterface;

constexpr const char* kPasswordStdinHelp =
    "read the password from the first line of standard input (required)";

void add_add(CLI::App& noun, CommandContext& context) {
  auto* verb = noun.add_subcommand("add", "Add a user to the authentication repository");
  auto name = std::make_shared<std::string>();
  verb->add_option("NAME", *name, "user name (the AUTH identity)")->required();
  verb->add_flag("--password-stdin", kPasswordStdinHelp)->required();
  verb->callback([name, &context] {
    v1::CreateUserRequest request;
    request.mutable_user()->set_name(*name);
    request.mutable_user()->set_password(read_password_line(context.in()));
    context.printer().user_row(context.call(&Stub::CreateUser, request));
  });
}

void add_passwd(CLI::App& noun, CommandContext& context) {
  auto* verb = noun.add_subcommand("passwd", "Set a user's password");
  auto name = std::make_shared<std::string>();
  verb->add_option("NAME", *name, "user name")->required();
  verb->add_flag("--password-stdin", kPasswordStdinHelp)->required();
  verb->callback([name, &context] {
    v1::SetUserPasswordRequest request;
    request.set_name(*name);
    request.set_password(read_password_line(context.in()));
    context.printer().user_row(context.call(&Stub::SetUserPassword, request));
  });
}

void add_list(CLI::App& noun, CommandContext& context) {
  auto* verb = noun.add_subcommand("list", "List users (never their password hashes)");
  verb->callback([&context] {
    context.printer().users(context.call(&Stub::ListUsers, v1::ListUsersRequest()));
  });
}

void add_delete(CLI::App& noun, CommandContext& context) {
  auto* verb = noun.add_subcommand("delete", "Delete a user");
  auto name = std::make_shared<std::string>();
  verb->add_option("NAME", *name, "user name")->required();
  verb->callback([name, &context] {
    v1::DeleteUserRequest request;
    request.set_name(*name);
    context.printer().deleted("user " + *name, context.call(&Stub::DeleteUser, request));
  });
}

}  // namespace

std::string read_password_line(std::istream& in) {
  std::string line;
  std::getline(in, line);
  line = first_line_of(std::move(line));
  if (line.empty()) throw UsageError("--password-stdin: no password on the first line of stdin");
  // Passwords travel in proto string fields, which must hold UTF-8.
  if (!common::is_valid_utf8(line)) {
    throw UsageError("--password-stdin: the password is not UTF-8 text");
  }
  return line;
}

void add_user_commands(CLI::App& app, CommandContext& context) {
  auto* noun = app.add_subcommand("user", "Users of the authentication repository");
  noun->require_subcommand(1);
  add_add(*noun, context);
  add_passwd(*noun, context);
  add_list(*noun, context);
  add_delete(*noun, context);
}

}  // namespace gw::cli
