// `gctl cert ...`: files → Certificate, one admin call per verb.
#include "cli/certificate_commands.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "cli/command_context.h"
#include "cli/flags.h"
#include "cli/printers.h"
#include "common/pem_text.h"

namespace gw::cli {
namespace {

namespace v1 = gateway::v1;
using Stub = v1::AdminService::StubInterface;

// A certificate stored while it is not valid (expired, or not yet valid) is kept, since an
// operator may stage one ahead, but said so: TLS peers will refuse it (probe round 42: an
// expired certificate went onto an interface without a word).
void warn_if_not_valid_now(CommandContext& context, const v1::Certificate& certificate) {
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  if (certificate.not_after_ms() > 0 && certificate.not_after_ms() < now_ms) {
    context.err() << "gctl: warning: certificate " << certificate.name() << " expired on "
                  << format_time_ms(certificate.not_after_ms())
                  << "; TLS peers will refuse it\n";
  } else if (certificate.not_before_ms() > now_ms) {
    context.err() << "gctl: warning: certificate " << certificate.name()
                  << " is not valid before " << format_time_ms(certificate.not_before_ms())
                  << "; TLS peers will refuse it until then\n";
  }
}

struct AddFlags {
  std::string name;
  std::string cert_file;
  std::string key_file;
};

void add_add(CLI::App& noun, CommandContext& context) {
  auto* verb = noun.add_subcommand("add", "Store a certificate chain, optionally with its key");
  auto flags = std::make_shared<AddFlags>();
  verb->add_option("NAME", flags->name, "certificate name, [A-Za-z0-9._-]{1,64}, not \"system\"")
      ->required();
  verb->add_option("--cert", flags->cert_file, "PEM certificate chain, leaf first")
      ->type_name("FILE")
      ->required()
      ->check(CLI::ExistingFile);
  verb->add_option("--key", flags->key_file,
                   "PEM private key of the first certificate (unencrypted; stored sealed)")
      ->type_name("FILE")
      ->check(CLI::ExistingFile);
  verb->callback([flags, &context] {
    v1::CreateCertificateRequest request;
    v1::Certificate& certificate = *request.mutable_certificate();
    certificate.set_name(flags->name);
    auto pem = [](const std::string& path, std::string_view flag) {
      std::string why;
      auto blocks = common::pem_blocks(read_flag_file(path, flag), why);
      if (!blocks) throw UsageError(std::string(flag) + " " + path + ": " + why);
      return *std::move(blocks);
    };
    certificate.set_cert_pem(pem(flags->cert_file, "--cert"));
    if (!flags->key_file.empty()) certificate.set_key_pem(pem(flags->key_file, "--key"));
    const v1::Certificate stored = context.call(&Stub::CreateCertificate, request);
    context.printer().certificate_row(stored);
    warn_if_not_valid_now(context, stored);
  });
}

void add_list(CLI::App& noun, CommandContext& context) {
  auto* verb = noun.add_subcommand("list", "List stored certificates");
  verb->callback([&context] {
    context.printer().certificates(
        context.call(&Stub::ListCertificates, v1::ListCertificatesRequest()));
  });
}

void add_show(CLI::App& noun, CommandContext& context) {
  auto* verb = noun.add_subcommand("show", "Show one certificate (never its key)");
  auto name = std::make_shared<std::string>();
  verb->add_option("NAME", *name, "certificate name")->required();
  verb->callback([name, &context] {
    v1::GetCertificateRequest request;
    request.set_name(*name);
    context.printer().certificate_detail(context.call(&Stub::GetCertificate, request));
  });
}

void add_delete(CLI::App& noun, CommandContext& context) {
  auto* verb = noun.add_subcommand("delete", "Delete a certificate no service or interface uses");
  auto name = std::make_shared<std::string>();
  verb->add_option("NAME", *name, "certificate name")->required();
  verb->callback([name, &context] {
    v1::DeleteCertificateRequest request;
    request.set_name(*name);
    context.printer().deleted("certificate " + *name,
                              context.call(&Stub::DeleteCertificate, request));
  });
}

}  // namespace

void add_certificate_commands(CLI::App& app, CommandContext& context) {
  auto* noun = app.add_subcommand("cert", "Certificates and keys for TLS (certificate store)");
  noun->require_subcommand(1);
  add_add(*noun, context);
  add_list(*noun, context);
  add_show(*noun, context);
  add_delete(*noun, context);
}

}  // namespace gw::cli
