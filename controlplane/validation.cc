// Field rules of services, interfaces and nodes.
#include "controlplane/validation.h"

#include <arpa/inet.h>

#include <algorithm>

#include "common/logging.h"

namespace gw::controlplane {
namespace {

namespace v1 = gateway::v1;

constexpr std::string_view kNameRule = "use 1 to 64 characters from A-Z a-z 0-9 . _ -";

std::string show(std::string_view text) { return "\"" + common::log_escape(text, 80) + "\""; }

bool is_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool has_control_char(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

bool is_printable_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f;
  });
}

Result<void> check_name(std::string_view what, std::string_view name) {
  if (!is_valid_name(name)) {
    return fail(Code::kInvalidArgument,
                std::string(what) + " " + show(name) + " is invalid: " + std::string(kNameRule));
  }
  return ok();
}

Result<void> check_port(std::string_view what, std::uint32_t port) {
  if (port < 1 || port > 65535) {
    return fail(Code::kInvalidArgument,
                std::string(what) + " " + std::to_string(port) + " is out of range 1..65535");
  }
  return ok();
}

}  // namespace

bool is_valid_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), is_name_char);
}

bool is_valid_host_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok_char = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_';
    if (!ok_char || ++label > 63) return false;
  }
  return label > 0;
}

Result<std::string> canonical_ip(std::string_view address) {
  std::string text(address);
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  char out[INET6_ADDRSTRLEN] = {};
  in_addr v4{};
  if (::inet_pton(AF_INET, text.c_str(), &v4) == 1 &&
      ::inet_ntop(AF_INET, &v4, out, sizeof out) != nullptr) {
    return std::string(out);
  }
  in6_addr v6{};
  if (text.find(':') != std::string::npos && ::inet_pton(AF_INET6, text.c_str(), &v6) == 1 &&
      ::inet_ntop(AF_INET6, &v6, out, sizeof out) != nullptr) {
    return std::string(out);
  }
  return fail(Code::kInvalidArgument, "address " + show(address) + " is not an IP address");
}

Result<void> validate_service(const v1::Service& s) {
  if (auto name = check_name("service name", s.name()); !name) return name;
  if (s.host().empty()) return fail(Code::kInvalidArgument, "host is required");
  if (!is_valid_host_name(s.host()) && !canonical_ip(s.host())) {
    return fail(Code::kInvalidArgument,
                "host " + show(s.host()) + " is neither an IP address nor a host name");
  }
  if (auto port = check_port("port", s.port()); !port) return port;
  if (!v1::Security_IsValid(s.security()) || s.security() == v1::SECURITY_UNSPECIFIED) {
    return fail(Code::kInvalidArgument,
                "security " + std::to_string(s.security()) + " is not one of none, ssl, starttls");
  }
  if (auto instance = check_name("instance", s.instance()); !instance) return instance;
  if (!s.hostname().empty() && !is_valid_host_name(s.hostname())) {
    return fail(Code::kInvalidArgument,
                "hostname " + show(s.hostname()) + " is not a valid host name");
  }
  if (s.ciphers().size() > 1024 || !is_printable_ascii(s.ciphers())) {
    return fail(Code::kInvalidArgument, "ciphers must be at most 1024 printable ASCII characters");
  }
  if (s.username().size() > 256 || has_control_char(s.username())) {
    return fail(Code::kInvalidArgument,
                "username must be at most 256 octets without control characters");
  }
  if (s.password().size() > 1024 || has_control_char(s.password())) {
    return fail(Code::kInvalidArgument,
                "password must be at most 1024 octets without control characters");
  }
  for (const std::string& ca : s.trusted_cas()) {
    if (auto checked = check_name("trusted CA name", ca); !checked) return checked;
  }
  if (!s.client_cert().empty()) {
    if (auto checked = check_name("client certificate name", s.client_cert()); !checked) {
      return checked;
    }
  }
  return ok();
}

Result<void> validate_interface(v1::Interface& iface) {
  if (iface.service().empty()) return fail(Code::kInvalidArgument, "interface service is required");
  if (auto name = check_name("service name", iface.service()); !name) return name;
  if (!v1::InterfaceType_IsValid(iface.type()) || iface.type() == v1::INTERFACE_TYPE_UNSPECIFIED) {
    return fail(Code::kInvalidArgument, "interface type " + std::to_string(iface.type()) +
                                            " is not one of tcp, ssl, starttls");
  }
  if (auto port = check_port("interface port", iface.port()); !port) return port;
  auto address = canonical_ip(iface.bind_address());
  if (!address) {
    return fail(Code::kInvalidArgument,
                "bind address " + show(iface.bind_address()) + " is not an IP address");
  }
  iface.set_bind_address(std::move(address).value());
  if (iface.type() != v1::INTERFACE_TYPE_TCP && iface.cert().empty()) {
    return fail(Code::kInvalidArgument,
                std::string("interface type ") +
                    (iface.type() == v1::INTERFACE_TYPE_SSL ? "ssl" : "starttls") +
                    " needs a server certificate (cert)");
  }
  if (!iface.cert().empty()) {
    if (auto checked = check_name("certificate name", iface.cert()); !checked) return checked;
  }
  return ok();
}

Result<void> validate_node_identity(std::string_view node_id, std::string_view instance) {
  const bool id_ok = !node_id.empty() && node_id.size() <= 128 &&
                     std::all_of(node_id.begin(), node_id.end(),
                                 [](char c) { return is_name_char(c) || c == ':' || c == '@'; });
  if (!id_ok) {
    return fail(Code::kInvalidArgument,
                "node id " + show(node_id) +
                    " is invalid: use 1 to 128 characters from A-Z a-z 0-9 . _ - : @");
  }
  return check_name("instance", instance);
}

Result<void> validate_node_text(std::string_view field, std::string_view text) {
  if (text.size() > 255 || !is_printable_ascii(text)) {
    return fail(Code::kInvalidArgument,
                std::string(field) + " must be at most 255 printable ASCII characters");
  }
  return ok();
}

}  // namespace gw::controlplane
