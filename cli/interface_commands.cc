// `gctl interface ...`: flags → Interface, one admin call per verb.
#include "cli/interface_commands.h"

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "cli/enum_names.h"
#include "cli/flags.h"

namespace gw::cli {
namespace {

namespace v1 = gateway::v1;
using Stub = v1::AdminService::StubInterface;

constexpr const char* kDefaultBind = "127.0.0.1";

struct AddFlags {
  std::string service;
  std::string type;
  std::uint32_t port = 0;
  std::string bind = kDefaultBind;
  std::string cert;
  std::vector<std::string> sni_certs;  // HOST=NAME
  std::string client_ca;
  std::string ciphers;
  std::string tls_min_version;
};

// "mx.example.org=org-cert" → the SNI entry; the server checks the host name itself.
v1::SniCertificate parse_sni(const std::string& text) {
  const auto equals = text.find('=');
  if (equals == std::string::npos || equals == 0 || equals + 1 == text.size()) {
    throw UsageError("--sni-cert wants HOST=NAME (e.g. mx.example.org=mx-cert), not \"" + text +
                     "\"");
  }
  v1::SniCertificate sni;
  sni.set_server_name(text.substr(0, equals));
  sni.set_cert(text.substr(equals + 1));
  return sni;
}

void add_add(CLI::App& noun, CommandContext& context) {
  auto* verb = noun.add_subcommand("add", "Add a listener to a service; prints its id");
  auto flags = std::make_shared<AddFlags>();
  verb->add_option("SERVICE", flags->service, "owning service")->required();
  verb->add_option("--type", flags->type, "listener type")
      ->type_name("tcp|ssl|starttls")
      ->required()
      ->check(CLI::IsMember({"tcp", "ssl", "starttls"}).description(""));
  verb->add_option("--port", flags->port, "listening port")
      ->type_name("PORT")
      ->required()
      ->check(unsigned_in(1, 65535));
  verb->add_option("--bind", flags->bind, "listening address [127.0.0.1]")->type_name("ADDR");
  verb->add_option("--cert", flags->cert, "server certificate name, with key (ssl, starttls)")
      ->type_name("NAME")
      ->group("TLS");
  verb->add_option("--sni-cert", flags->sni_certs,
                   "certificate chosen when the client asks for HOST (SNI; HOST may be "
                   "*.domain), repeatable; --cert is the default")
      ->type_name("HOST=NAME")
      ->allow_extra_args(false)
      ->group("TLS");
  verb->add_option("--client-ca", flags->client_ca,
                   "request client certificates and verify them against this CA certificate")
      ->type_name("NAME")
      ->group("TLS");
  verb->add_option("--ciphers", flags->ciphers,
                   "OpenSSL cipher list for TLS 1.2 and below (TLS 1.3 keeps OpenSSL's "
                   "suites; use --tls-min-version) [DEFAULT]")
      ->type_name("STR")
      ->group("TLS");
  verb->add_option("--tls-min-version", flags->tls_min_version, "lowest TLS version [1.2]")
      ->type_name("1.2|1.3")
      ->check(CLI::IsMember({"1.2", "1.3"}).description(""))
      ->group("TLS");
  verb->callback([flags, &context] {
    v1::CreateInterfaceRequest request;
    v1::Interface& interface = *request.mutable_interface();
    interface.set_service(flags->service);
    // The parser admits only tcp|ssl|starttls.
    interface.set_type(parse_interface_type(flags->type).value_or(v1::INTERFACE_TYPE_TCP));
    interface.set_port(flags->port);
    interface.set_bind_address(flags->bind);
    interface.set_cert(flags->cert);
    for (const std::string& sni : flags->sni_certs) *interface.add_sni_certs() = parse_sni(sni);
    interface.set_client_ca(flags->client_ca);
    interface.set_ciphers(flags->ciphers);
    interface.set_tls_min_version(flags->tls_min_version);
    context.printer().interface_id(context.call(&Stub::CreateInterface, request));
  });
}

void add_list(CLI::App& noun, CommandContext& context) {
  auto* verb = noun.add_subcommand("list", "List interfaces, of all services or of one");
  auto service = std::make_shared<std::string>();
  verb->add_option("SERVICE", *service, "only this service's interfaces");
  verb->callback([service, &context] {
    v1::ListInterfacesRequest request;
    request.set_service(*service);
    context.printer().interfaces(context.call(&Stub::ListInterfaces, request));
  });
}

void add_delete(CLI::App& noun, CommandContext& context) {
  auto* verb = noun.add_subcommand("delete", "Delete an interface by id");
  auto id = std::make_shared<std::int64_t>(0);
  verb->add_option("ID", *id, "interface id (see interface list)")
      ->required()
      ->check(unsigned_in(1, std::numeric_limits<std::int64_t>::max()));
  verb->callback([id, &context] {
    v1::DeleteInterfaceRequest request;
    request.set_id(*id);
    context.printer().deleted("interface " + std::to_string(*id),
                              context.call(&Stub::DeleteInterface, request));
  });
}

}  // namespace

void add_interface_commands(CLI::App& app, CommandContext& context) {
  auto* noun = app.add_subcommand("interface", "Inbound listeners of services (interfaces)");
  noun->require_subcommand(1);
  add_add(*noun, context);
  add_list(*noun, context);
  add_delete(*noun, context);
}

}  // namespace gw::cli
