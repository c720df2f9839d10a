// `gctl service ...`: flags → Service (+ FieldMask for update), one admin call per verb.
#include "cli/service_commands.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/field_mask.pb.h>

#include <cstdio>
#include <cstdlib>
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
using google::protobuf::FieldDescriptor;

// One limit flag and the Limits field it sets (units are in the field names).
struct LimitFlag {
  const char* flag;
  const char* field;
  const char* unit;
  const char* help;
};

constexpr LimitFlag kLimitFlags[] = {
    {"--max-message-size", "max_message_size", "OCTETS", "largest message accepted [36700160]"},
    {"--max-recipients", "max_recipients", "N", "recipients per message [100]"},
    {"--max-command-line", "max_command_line", "OCTETS", "command line incl. CRLF [512]"},
    {"--max-text-line", "max_text_line", "OCTETS", "text line incl. CRLF [1000]"},
    {"--max-auth-line", "max_auth_line", "OCTETS", "AUTH response line incl. CRLF [12288]"},
    {"--max-sessions", "max_sessions", "N", "concurrent sessions per interface [1000]"},
    {"--max-sessions-per-client", "max_sessions_per_client", "N",
     "concurrent sessions per client IP [50]"},
    {"--idle-timeout", "idle_timeout_ms", "MS", "wait for one client command [60000]"},
    {"--session-timeout", "session_timeout_ms", "MS", "whole session [1800000]"},
    {"--data-timeout", "data_timeout_ms", "MS", "whole DATA phase [600000]"},
    {"--upstream-connect-timeout", "upstream_connect_timeout_ms", "MS",
     "opening an upstream session: connect, banner, EHLO, TLS, login [30000]"},
    {"--upstream-timeout", "upstream_timeout_ms", "MS", "one upstream reply [300000]"},
    {"--upstream-data-timeout", "upstream_data_timeout_ms", "MS",
     "upstream reply to end-of-data [600000]"},
    {"--max-errors", "max_errors", "N", "bad commands before 421 [20]"},
    {"--max-idle-commands", "max_idle_commands", "N",
     "commands without progress (NOOP/RSET/HELO/VRFY/HELP, refusals) [50]"},
    {"--decision-timeout", "decision_timeout_ms", "MS",
     "one control-plane decision; then 451 4.3.0 unless --fail-open [1000]"},
    {"--max-mime-parts", "max_mime_parts", "N",
     "MIME body parts a DATA policy inspects; more is 554 5.6.0 [1000]"},
    {"--max-mime-depth", "max_mime_depth", "N", "nesting of MIME multiparts [20]"},
    {"--max-mime-header-block", "max_mime_header_block", "OCTETS",
     "header block of one MIME entity [65536]"},
};
constexpr std::size_t kLimitCount = std::size(kLimitFlags);

const FieldDescriptor& limits_field(const char* name) {
  const FieldDescriptor* field = v1::Limits::descriptor()->FindFieldByName(name);
  if (field == nullptr || (field->cpp_type() != FieldDescriptor::CPPTYPE_UINT32 &&
                           field->cpp_type() != FieldDescriptor::CPPTYPE_UINT64)) {
    std::fprintf(stderr, "gctl: internal error: no unsigned Limits field %s\n", name);
    std::abort();
  }
  return *field;
}

// Keeps the non-empty names: `--trusted-ca ""` means "none".
google::protobuf::RepeatedPtrField<std::string> non_empty(const std::vector<std::string>& names) {
  google::protobuf::RepeatedPtrField<std::string> out;
  for (const std::string& name : names) {
    if (!name.empty()) *out.Add() = name;
  }
  return out;
}

// The flags shared by `service add` and `service update`, bound to one verb. Kept alive by
// the verb's callback (shared_ptr), since CLI11 writes into these members while parsing.
class ServiceFlags {
 public:
  ServiceFlags(CLI::App& verb, bool is_update) {
    const bool host_required = !is_update;
    verb.add_option("NAME", name_, "service name, [A-Za-z0-9._-]{1,64}")->required();
    host_opt_ =
        verb.add_option("--host", host_, "upstream mail server host name or IP")->type_name("H");
    if (host_required) host_opt_->required();
    port_opt_ = verb.add_option("--port", port_, "upstream port [25]")
                    ->type_name("PORT")
                    ->check(unsigned_in(1, 65535));
    instance_opt_ =
        verb.add_option("--instance", instance_, "node group running it [default]")->type_name("I");
    security_opt_ = verb.add_option("--security", security_, "connection security upstream [none]")
                        ->type_name("none|ssl|starttls")
                        ->check(CLI::IsMember({"none", "ssl", "starttls"}).description(""));
    monitoring_opt_ = verb.add_flag("--monitoring", monitoring_,
                                    "collect monitoring data; --monitoring=false turns it off");
    protocol_trace_opt_ = verb.add_flag(
        "--protocol-trace", protocol_trace_,
        "nodes log this service's SMTP dialogue (AUTH payloads and message content left "
        "out); --protocol-trace=false turns it off");
    hostname_opt_ =
        verb.add_option("--hostname", hostname_, "name used in the gateway's banner and EHLO reply")
            ->type_name("NAME");
    fail_open_opt_ = verb.add_flag("--fail-open", fail_open_,
                                   "pass handled commands if the control plane fails; "
                                   "--fail-open=false turns it off");
    add_tls_flags(verb);
    add_credential_flags(verb, is_update);
    for (std::size_t i = 0; i < kLimitCount; ++i) {
      const LimitFlag& flag = kLimitFlags[i];
      const FieldDescriptor& field = limits_field(flag.field);
      const std::uint64_t max = field.cpp_type() == FieldDescriptor::CPPTYPE_UINT32
                                    ? std::numeric_limits<std::uint32_t>::max()
                                    : std::numeric_limits<std::uint64_t>::max();
      limit_opts_[i] = verb.add_option(flag.flag, limits_[i], flag.help)
                           ->type_name(flag.unit)
                           ->check(unsigned_in(1, max))
                           ->group("Limits");
    }
  }

  const std::string& name() const { return name_; }

  // Copies the flags given on the command line into `service` (name always) and adds the
  // path of each to `mask`, in flag order. Reads --password-file (UsageError if unusable).
  void apply(v1::Service& service, google::protobuf::FieldMask& mask) const {
    service.set_name(name_);
    auto given = [&mask](const CLI::Option* option, const char* path) {
      if (option->count() == 0) return false;
      mask.add_paths(path);
      return true;
    };
    if (given(host_opt_, "host")) service.set_host(host_);
    if (given(port_opt_, "port")) service.set_port(port_);
    if (given(instance_opt_, "instance")) service.set_instance(instance_);
    if (given(security_opt_, "security")) {
      // The parser admits only none|ssl|starttls.
      service.set_security(parse_security(security_).value_or(v1::SECURITY_NONE));
    }
    if (given(monitoring_opt_, "monitoring")) service.set_monitoring(monitoring_);
    if (given(protocol_trace_opt_, "protocol_trace")) {
      service.set_protocol_trace(protocol_trace_);
    }
    if (given(hostname_opt_, "hostname")) service.set_hostname(hostname_);
    if (given(fail_open_opt_, "fail_open")) service.set_fail_open(fail_open_);
    if (given(trusted_ca_opt_, "trusted_cas")) *service.mutable_trusted_cas() = non_empty(cas_);
    if (given(client_cert_opt_, "client_cert")) service.set_client_cert(client_cert_);
    if (given(ciphers_opt_, "ciphers")) service.set_ciphers(ciphers_);
    if (given(tls_min_opt_, "tls_min_version")) service.set_tls_min_version(tls_min_version_);
    if (given(verify_opt_, "no_verify_hostname")) service.set_no_verify_hostname(!verify_hostname_);
    if (given(server_name_opt_, "tls_server_name")) service.set_tls_server_name(tls_server_name_);
    if (given(username_opt_, "username")) service.set_username(username_);
    if (given(password_file_opt_, "password")) {
      service.set_password(read_first_line(password_file_, "--password-file"));
    }
    if (no_password_opt_ != nullptr && no_password_ && given(no_password_opt_, "password")) {
      service.clear_password();
    }
    if (given(require_tls_opt_, "require_tls")) service.set_require_tls(require_tls_);
    if (given(plaintext_auth_opt_, "allow_plaintext_auth")) {
      service.set_allow_plaintext_auth(allow_plaintext_auth_);
    }
    v1::Limits& limits = *service.mutable_limits();
    for (std::size_t i = 0; i < kLimitCount; ++i) {
      const std::string path = std::string("limits.") + kLimitFlags[i].field;
      if (!given(limit_opts_[i], path.c_str())) continue;
      const FieldDescriptor& field = limits_field(kLimitFlags[i].field);
      if (field.cpp_type() == FieldDescriptor::CPPTYPE_UINT32) {
        // unsigned_in bounded the value to the field's range.
        limits.GetReflection()->SetUInt32(&limits, &field, static_cast<std::uint32_t>(limits_[i]));
      } else {
        limits.GetReflection()->SetUInt64(&limits, &field, limits_[i]);
      }
    }
    if (limits.ByteSizeLong() == 0) service.clear_limits();
  }

 private:
  // Upstream TLS (issue 3): certificates by name, cipher list, version, host name check.
  void add_tls_flags(CLI::App& verb) {
    trusted_ca_opt_ =
        verb.add_option("--trusted-ca", cas_,
                        "trusted CA certificate name, repeatable; \"system\" is the OS bundle; "
                        "--trusted-ca \"\" clears the list (required for ssl/starttls)")
            ->type_name("NAME")
            ->allow_extra_args(false)
            ->group("TLS to the upstream");
    client_cert_opt_ =
        verb.add_option("--client-cert", client_cert_, "client certificate name (with key)")
            ->type_name("NAME")
            ->group("TLS to the upstream");
    ciphers_opt_ = verb.add_option("--ciphers", ciphers_,
                                   "OpenSSL cipher list for TLS 1.2 and below (TLS 1.3 "
                                   "keeps OpenSSL's suites; use --tls-min-version) [DEFAULT]")
                       ->type_name("STR")
                       ->group("TLS to the upstream");
    tls_min_opt_ =
        verb.add_option("--tls-min-version", tls_min_version_, "lowest TLS version [1.2]")
            ->type_name("1.2|1.3")
            ->check(CLI::IsMember({"1.2", "1.3"}).description(""))
            ->group("TLS to the upstream");
    verify_opt_ = verb.add_flag("--verify-hostname,!--no-verify-hostname", verify_hostname_,
                                "check the upstream certificate's name (default on)")
                      ->group("TLS to the upstream");
    server_name_opt_ = verb.add_option("--tls-server-name", tls_server_name_,
                                       "name checked and sent as SNI [the service's host]")
                           ->type_name("NAME")
                           ->group("TLS to the upstream");
  }

  // AUTH towards the upstream and the client-side TLS requirements.
  void add_credential_flags(CLI::App& verb, bool is_update) {
    username_opt_ = verb.add_option("--username", username_, "upstream AUTH user name")
                        ->type_name("U")
                        ->group("Authentication");
    password_file_opt_ =
        verb.add_option("--password-file", password_file_,
                        "file whose first line is the upstream password (never printed)")
            ->type_name("FILE")
            ->check(CLI::ExistingFile)
            ->group("Authentication");
    if (is_update) {
      no_password_opt_ =
          verb.add_flag("--no-password", no_password_, "remove the stored upstream password")
              ->excludes(password_file_opt_)
              ->group("Authentication");
    }
    require_tls_opt_ = verb.add_flag("--require-tls", require_tls_,
                                     "530 before MAIL/AUTH until the client used STARTTLS; "
                                     "--require-tls=false turns it off")
                           ->group("Authentication");
    plaintext_auth_opt_ = verb.add_flag("--allow-plaintext-auth", allow_plaintext_auth_,
                                        "offer and accept AUTH without TLS; "
                                        "--allow-plaintext-auth=false turns it off")
                              ->group("Authentication");
  }

  std::string name_;
  std::string host_;
  std::uint32_t port_ = 0;
  std::string instance_;
  std::string security_;
  bool monitoring_ = false;
  bool protocol_trace_ = false;
  std::string hostname_;
  bool fail_open_ = false;
  std::vector<std::string> cas_;
  std::string client_cert_;
  std::string ciphers_;
  std::string tls_min_version_;
  bool verify_hostname_ = true;
  std::string tls_server_name_;
  std::string username_;
  std::string password_file_;  // the password itself is read only in apply()
  bool no_password_ = false;
  bool require_tls_ = false;
  bool allow_plaintext_auth_ = false;
  std::uint64_t limits_[kLimitCount] = {};

  CLI::Option* host_opt_ = nullptr;
  CLI::Option* port_opt_ = nullptr;
  CLI::Option* instance_opt_ = nullptr;
  CLI::Option* security_opt_ = nullptr;
  CLI::Option* monitoring_opt_ = nullptr;
  CLI::Option* protocol_trace_opt_ = nullptr;
  CLI::Option* hostname_opt_ = nullptr;
  CLI::Option* fail_open_opt_ = nullptr;
  CLI::Option* trusted_ca_opt_ = nullptr;
  CLI::Option* client_cert_opt_ = nullptr;
  CLI::Option* ciphers_opt_ = nullptr;
  CLI::Option* tls_min_opt_ = nullptr;
  CLI::Option* verify_opt_ = nullptr;
  CLI::Option* server_name_opt_ = nullptr;
  CLI::Option* username_opt_ = nullptr;
  CLI::Option* password_file_opt_ = nullptr;
  CLI::Option* no_password_opt_ = nullptr;  // update only
  CLI::Option* require_tls_opt_ = nullptr;
  CLI::Option* plaintext_auth_opt_ = nullptr;
  CLI::Option* limit_opts_[kLimitCount] = {};
};

// The upstream login of a service whose upstream leg is not encrypted crosses the network
// in clear (RFC 4954 §4, RFC 4616 §6 want PLAIN and LOGIN under TLS): allowed, since a
// relay to a mail server on the same host or a private link is common, but said (probe
// round 45). A loopback upstream is quiet.
void warn_if_login_in_clear(CommandContext& context, const v1::Service& service) {
  if (service.username().empty() || service.security() != v1::SECURITY_NONE) return;
  const std::string& host = service.host();
  const bool loopback = host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
  if (loopback) return;
  context.err() << "gctl: warning: service " << service.name()
                << " logs in to its upstream " << host
                << " without TLS (--security none): the password crosses the network in "
                   "clear; use --security starttls or ssl\n";
}

void add_add(CLI::App& noun, CommandContext& context) {
  auto* verb = noun.add_subcommand("add", "Create a service");
  auto flags = std::make_shared<ServiceFlags>(*verb, /*is_update=*/false);
  verb->callback([flags, &context] {
    v1::CreateServiceRequest request;
    google::protobuf::FieldMask unused;
    flags->apply(*request.mutable_service(), unused);
    const v1::Service created = context.call(&Stub::CreateService, request);
    context.printer().service_row(created);
    warn_if_login_in_clear(context, created);
  });
}

void add_update(CLI::App& noun, CommandContext& context) {
  auto* verb = noun.add_subcommand("update", "Change the given fields of a service");
  auto flags = std::make_shared<ServiceFlags>(*verb, /*is_update=*/true);
  verb->callback([flags, &context] {
    v1::UpdateServiceRequest request;
    flags->apply(*request.mutable_service(), *request.mutable_update_mask());
    if (request.update_mask().paths_size() == 0) {
      throw UsageError("nothing to update: give at least one flag, e.g. --port");
    }
    const v1::Service updated = context.call(&Stub::UpdateService, request);
    context.printer().service_row(updated);
    warn_if_login_in_clear(context, updated);
  });
}

void add_list(CLI::App& noun, CommandContext& context) {
  auto* verb = noun.add_subcommand("list", "List services");
  auto instance = std::make_shared<std::string>();
  verb->add_option("--instance", *instance, "only services of this instance")->type_name("I");
  verb->callback([instance, &context] {
    v1::ListServicesRequest request;
    request.set_instance(*instance);
    context.printer().services(context.call(&Stub::ListServices, request));
  });
}

void add_show(CLI::App& noun, CommandContext& context) {
  auto* verb = noun.add_subcommand("show", "Show one service in full");
  auto name = std::make_shared<std::string>();
  verb->add_option("NAME", *name, "service name")->required();
  verb->callback([name, &context] {
    v1::GetServiceRequest request;
    request.set_name(*name);
    context.printer().service_detail(context.call(&Stub::GetService, request));
  });
}

void add_delete(CLI::App& noun, CommandContext& context) {
  auto* verb = noun.add_subcommand("delete", "Delete a service and its interfaces");
  auto name = std::make_shared<std::string>();
  verb->add_option("NAME", *name, "service name")->required();
  verb->callback([name, &context] {
    v1::DeleteServiceRequest request;
    request.set_name(*name);
    context.printer().deleted("service " + *name, context.call(&Stub::DeleteService, request));
  });
}

}  // namespace

void add_service_commands(CLI::App& app, CommandContext& context) {
  auto* noun = app.add_subcommand("service", "Upstream configurations (services)");
  noun->require_subcommand(1);
  add_add(*noun, context);
  add_update(*noun, context);
  add_list(*noun, context);
  add_show(*noun, context);
  add_delete(*noun, context);
}

}  // namespace gw::cli
