// Field rules of services, interfaces and nodes.
#include "controlplane/validation.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>
#include <cctype>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include "common/logging.h"
#include "common/message_limits.h"
#include "common/object_name.h"
#include "controlplane/policy/password_hash.h"
#include "controlplane/service_defaults.h"
#include "controlplane/tls_usability.h"

namespace gw::controlplane {
namespace {

namespace v1 = gateway::v1;

constexpr std::string_view kNameRule = common::kObjectNameRule;

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

Result<void> check_tls_min_version(std::string_view what, std::string_view version) {
  if (version != "1.2" && version != "1.3") {
    return fail(Code::kInvalidArgument,
                std::string(what) + " " + show(version) + " is not one of 1.2, 1.3");
  }
  return ok();
}

Result<void> check_ciphers(std::string_view what, const std::string& ciphers) {
  if (ciphers.empty() || ciphers.size() > 1024 || !is_printable_ascii(ciphers)) {
    return fail(Code::kInvalidArgument,
                std::string(what) + " must be 1 to 1024 printable ASCII characters");
  }
  if (!cipher_list_selects_any(ciphers)) {
    return fail(Code::kInvalidArgument, std::string(what) + " " + show(ciphers) +
                                            " selects no cipher with encryption and server "
                                            "authentication (OpenSSL cipher list syntax, "
                                            "e.g. DEFAULT or HIGH:!aNULL; eNULL and aNULL "
                                            "suites are never used)");
  }
  return ok();
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// A TLS server name an SNI entry may match: a host name, or "*." and a host name (one label
// under it, RFC 6125 §6.4.3). IP addresses are never sent as SNI (RFC 6066 §3).
bool is_valid_sni_name(std::string_view name) {
  if (name.substr(0, 2) == "*.") name.remove_prefix(2);
  return is_valid_host_name(name) && !canonical_ip(name);
}

const char* type_label(v1::InterfaceType type) {
  return type == v1::INTERFACE_TYPE_SSL        ? "ssl"
         : type == v1::INTERFACE_TYPE_STARTTLS ? "starttls"
                                               : "tcp";
}

// Looks `name` up; the certificate must exist (and have a key when `need_key`).
Result<void> check_reference(const CertificateLookup& lookup, std::string_view what,
                             std::string_view name, bool need_key,
                             std::optional<CertificateFacts>* facts = nullptr) {
  auto found = lookup(name);
  if (!found) return found.as_failure();
  if (facts != nullptr) *facts = found.value();
  if (!found.value()) {
    return fail(Code::kInvalidArgument, std::string(what) + " " + show(name) +
                                            " is not a stored certificate (add it with "
                                            "gctl cert add)");
  }
  if (need_key && !found.value()->has_key) {
    return fail(Code::kInvalidArgument,
                std::string(what) + " " + show(name) +
                    " has no private key (add the certificate with its key: gctl cert add "
                    "NAME --cert FILE --key FILE)");
  }
  return ok();
}

}  // namespace

bool cipher_list_selects_any(const std::string& ciphers) {
  struct CtxFree {
    void operator()(SSL_CTX* ctx) const noexcept { SSL_CTX_free(ctx); }
  };
  std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_method()));
  // grelayd appends this to every list (dataplane/tls_context.cc): suites without
  // encryption or server authentication are never used, so they do not count here either.
  const std::string usable = ciphers + ":!eNULL:!aNULL";
  const bool selects = ctx != nullptr && SSL_CTX_set_cipher_list(ctx.get(), usable.c_str()) == 1;
  ERR_clear_error();
  return selects;
}

Result<void> validate_certificate_name(std::string_view name) {
  if (auto checked = check_name("certificate name", name); !checked) return checked;
  if (lower(std::string(name)) == kSystemTrustStore) {
    return fail(Code::kInvalidArgument,
                "certificate name " + show(name) +
                    " is reserved: \"system\" in trusted_cas means the operating system's CA "
                    "bundle");
  }
  return ok();
}

bool is_valid_name(std::string_view name) { return common::is_valid_object_name(name); }

bool is_valid_host_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  bool label_all_digits = true;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      label_all_digits = true;
      continue;
    }
    bool ok_char = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_';
    if (!ok_char || ++label > 63) return false;
    // RFC 1123 §2.1 / RFC 952: a label neither starts nor ends with a hyphen.
    if (c == '-' && (label == 1 || i + 1 == name.size() || name[i + 1] == '.')) return false;
    label_all_digits = label_all_digits && c >= '0' && c <= '9';
  }
  // RFC 1123 §2.1, RFC 3696 §2: the top-level label is never all digits, so "999.1.1.1" or
  // "1.2.3.4.5" is a mistyped address, not a name (probe round 15).
  return label > 0 && !label_all_digits;
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
  if (text.find(':') != std::string::npos && ::inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    // An IPv4-mapped address (RFC 4291 §2.5.5.2) is the IPv4 address: a listener bound to
    // ::ffff:127.0.0.1 takes 127.0.0.1's port (probe round 15: both were accepted, and
    // grelayd retried the second bind forever).
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {
      std::memcpy(&v4, &v6.s6_addr[12], sizeof v4);
      if (::inet_ntop(AF_INET, &v4, out, sizeof out) != nullptr) return std::string(out);
    } else if (::inet_ntop(AF_INET6, &v6, out, sizeof out) != nullptr) {
      return std::string(out);
    }
  }
  return fail(Code::kInvalidArgument, "address " + show(address) + " is not an IP address");
}

bool is_multicast_or_broadcast(std::string_view canonical) {
  const std::string text(canonical);
  in_addr v4{};
  if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    const std::uint32_t host = ntohl(v4.s_addr);
    return (host >> 28) == 0xE || host == 0xFFFFFFFFu;  // 224.0.0.0/4, 255.255.255.255
  }
  in6_addr v6{};
  return ::inet_pton(AF_INET6, text.c_str(), &v6) == 1 && IN6_IS_ADDR_MULTICAST(&v6);  // ff00::/8
}

Result<void> validate_service(const v1::Service& s) {
  if (auto name = check_name("service name", s.name()); !name) return name;
  if (s.host().empty()) return fail(Code::kInvalidArgument, "host is required");
  if (!is_valid_host_name(s.host()) && !canonical_ip(s.host())) {
    return fail(Code::kInvalidArgument,
                "host " + show(s.host()) + " is neither an IP address nor a host name");
  }
  if (auto ip = canonical_ip(s.host());
      ip && (ip.value() == "0.0.0.0" || ip.value() == "::" || is_multicast_or_broadcast(ip.value()))) {
    // "Any address" and group addresses name no server to connect to (probe round 17).
    return fail(Code::kInvalidArgument,
                "host " + show(s.host()) + " is not the address of one mail server");
  }
  if (s.host().front() == '[') {
    // The node resolves the host as written, and "[::1]" is no name (probe round 17: it
    // was stored, and every session then got 421).
    return fail(Code::kInvalidArgument,
                "host " + show(s.host()) + ": write an IPv6 address without brackets");
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
  if (auto ciphers = check_ciphers("ciphers", s.ciphers()); !ciphers) return ciphers;
  if (auto version = check_tls_min_version("tls_min_version", s.tls_min_version()); !version) {
    return version;
  }
  if (s.limits().max_message_size() > common::kMaxMessageSizeLimit) {
    return fail(Code::kInvalidArgument, "max_message_size must be at most " +
                                            std::to_string(common::kMaxMessageSizeLimit) +
                                            " octets (512 MiB)");
  }
  // Minimums a server must accept (0 = the default): a command line of 512 octets (RFC
  // 5321 §4.5.3.1.4; an AUTH line is a command line too) and a text line of 1000 (§4.5.3.1.6).
  // Below them a service refuses every command (probe round 17: max_command_line 1 was
  // stored, and EHLO got "500 Line too long").
  for (auto [name, value, minimum] :
       {std::tuple{"max_command_line", s.limits().max_command_line(), 512u},
        std::tuple{"max_auth_line", s.limits().max_auth_line(), 512u},
        std::tuple{"max_text_line", s.limits().max_text_line(), 1000u}}) {
    if (value != 0 && value < minimum) {
      return fail(Code::kInvalidArgument, std::string(name) + " must be at least " +
                                              std::to_string(minimum) +
                                              " octets (RFC 5321 §4.5.3.1)");
    }
  }
  for (auto [name, value] : {std::pair{"max_command_line", s.limits().max_command_line()},
                             std::pair{"max_auth_line", s.limits().max_auth_line()}}) {
    if (value > common::kMaxCommandLineLimit) {
      return fail(Code::kInvalidArgument,
                  std::string(name) + " must be at most " +
                      std::to_string(common::kMaxCommandLineLimit) +
                      " octets (a node holds a command line whole in its 64 KiB input buffer)");
    }
  }
  if (s.limits().decision_timeout_ms() > 60000) {
    return fail(Code::kInvalidArgument, "decision_timeout_ms must be 1..60000 ms");
  }
  // MIME caps (BR-29): the walk is iterative and its memory grows with the parts found, so
  // the upper bounds keep one message's parse bounded; the lower ones keep ordinary mail
  // (a signed reply with two attachments, a forwarded message) inspectable.
  for (auto [name, value, minimum, maximum, unit] :
       {std::tuple{"max_mime_parts", s.limits().max_mime_parts(), 2u, 100000u, ""},
        std::tuple{"max_mime_depth", s.limits().max_mime_depth(), 2u, 100u, ""},
        std::tuple{"max_mime_header_block", s.limits().max_mime_header_block(), 1024u,
                   1048576u, " octets"}}) {
    if (value != 0 && (value < minimum || value > maximum)) {
      return fail(Code::kInvalidArgument, std::string(name) + " must be " +
                                              std::to_string(minimum) + ".." +
                                              std::to_string(maximum) + unit);
    }
  }
  if (!s.tls_server_name().empty() && !is_valid_host_name(s.tls_server_name()) &&
      !canonical_ip(s.tls_server_name())) {
    return fail(Code::kInvalidArgument, "tls_server_name " + show(s.tls_server_name()) +
                                            " is neither a host name nor an IP address");
  }
  if (s.username().size() > 256 || has_control_char(s.username())) {
    return fail(Code::kInvalidArgument,
                "username must be at most 256 octets without control characters");
  }
  if (s.password().size() > 1024 || has_control_char(s.password())) {
    return fail(Code::kInvalidArgument,
                "password must be at most 1024 octets without control characters");
  }
  std::set<std::string_view> cas;
  for (const std::string& ca : s.trusted_cas()) {
    if (auto checked = check_name("trusted CA name", ca); !checked) return checked;
    if (!cas.insert(ca).second) {
      return fail(Code::kInvalidArgument, "trusted CA " + show(ca) + " is listed twice");
    }
  }
  if ((s.security() == v1::SECURITY_SSL || s.security() == v1::SECURITY_STARTTLS) &&
      s.trusted_cas().empty()) {
    return fail(Code::kInvalidArgument,
                std::string("security ") + (s.security() == v1::SECURITY_SSL ? "ssl" : "starttls") +
                    " needs at least one trusted CA (trusted_cas): a certificate name, or "
                    "\"system\" for the operating system's CA bundle");
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
  if (is_multicast_or_broadcast(iface.bind_address())) {
    // A TCP listener there is reachable by no client (probe round 17: grelayd "listened"
    // on 224.0.0.1).
    return fail(Code::kInvalidArgument, "bind address " + show(iface.bind_address()) +
                                            " is a multicast or broadcast address: no TCP "
                                            "client can connect to it");
  }
  if (iface.type() != v1::INTERFACE_TYPE_TCP && iface.cert().empty()) {
    return fail(Code::kInvalidArgument,
                std::string("interface type ") +
                    (iface.type() == v1::INTERFACE_TYPE_SSL ? "ssl" : "starttls") +
                    " needs a server certificate (cert)");
  }
  if (!iface.cert().empty()) {
    if (auto checked = check_name("certificate name", iface.cert()); !checked) return checked;
  }
  if (auto ciphers = check_ciphers("interface ciphers", iface.ciphers()); !ciphers) {
    return ciphers;
  }
  if (auto version = check_tls_min_version("interface tls_min_version", iface.tls_min_version());
      !version) {
    return version;
  }
  const bool tls = iface.type() != v1::INTERFACE_TYPE_TCP;
  if (!tls && (!iface.cert().empty() || iface.sni_certs_size() > 0 || !iface.client_ca().empty())) {
    // A tcp interface never offers TLS: a certificate there would read as protection that
    // does not exist.
    return fail(Code::kInvalidArgument,
                std::string("cert, sni_certs and client_ca need an ssl or starttls interface, "
                            "not ") +
                    type_label(iface.type()));
  }
  if (!tls && (iface.ciphers() != kDefaultCiphers ||
               iface.tls_min_version() != kDefaultTlsMinVersion)) {
    // Taken and then dropped, they read as settings in force (probe round 45).
    return fail(Code::kInvalidArgument,
                "ciphers and tls_min_version need an ssl or starttls interface, not tcp");
  }
  std::set<std::string> server_names;
  for (v1::SniCertificate& sni : *iface.mutable_sni_certs()) {
    std::string name = lower(sni.server_name());
    if (!name.empty() && name.back() == '.') name.pop_back();
    if (!is_valid_sni_name(name)) {
      return fail(Code::kInvalidArgument,
                  "SNI server name " + show(sni.server_name()) +
                      " is invalid: use a host name or *.domain (one label under domain)");
    }
    if (sni.cert().empty()) {
      return fail(Code::kInvalidArgument,
                  "SNI server name " + show(sni.server_name()) + " needs a certificate name");
    }
    if (auto checked = check_name("SNI certificate name", sni.cert()); !checked) return checked;
    if (!server_names.insert(name).second) {
      return fail(Code::kInvalidArgument,
                  "SNI server name " + show(name) + " is given twice in sni_certs");
    }
    sni.set_server_name(std::move(name));
  }
  if (!iface.client_ca().empty()) {
    if (auto checked = check_name("client CA name", iface.client_ca()); !checked) return checked;
  }
  return ok();
}

Result<void> check_service_certificates(const v1::Service& s, const CertificateLookup& lookup) {
  for (const std::string& ca : s.trusted_cas()) {
    if (ca == kSystemTrustStore) continue;
    if (auto found = check_reference(lookup, "trusted CA", ca, false); !found) return found;
  }
  if (!s.client_cert().empty()) {
    std::optional<CertificateFacts> facts;
    if (auto found = check_reference(lookup, "client certificate", s.client_cert(), true, &facts);
        !found) {
      return found;
    }
    const std::string what = "client certificate " + show(s.client_cert());
    if (auto purpose = check_leaf_purpose(what, facts->cert_pem, TlsRole::kClient); !purpose) {
      return purpose;
    }
    // grelayd loads it into the service's upstream TLS context (probe round 46: an RSA-1024
    // one was taken, and every upstream connection then failed).
    if (!facts->key_pem.empty()) {
      if (auto loads = check_client_identity(what, facts->cert_pem, facts->key_pem, s.ciphers());
          !loads) {
        return loads;
      }
    }
  }
  return ok();
}

Result<void> check_interface_certificates(const v1::Interface& iface,
                                          const CertificateLookup& lookup) {
  // A server certificate must exist with its key, allow TLS server authentication and
  // complete a handshake with the interface's ciphers and versions.
  auto check_server = [&](const std::string& what, const std::string& name) -> Result<void> {
    std::optional<CertificateFacts> facts;
    if (auto found = check_reference(lookup, what, name, true, &facts); !found) return found;
    const std::string named = what + " " + show(name);
    if (auto purpose = check_leaf_purpose(named, facts->cert_pem, TlsRole::kServer); !purpose) {
      return purpose;
    }
    if (facts->key_pem.empty()) return ok();  // unreadable key: nodes are told (snapshot)
    return check_server_handshake(named, facts->cert_pem, facts->key_pem, iface.ciphers(),
                                  iface.tls_min_version());
  };
  if (!iface.cert().empty()) {
    if (auto checked = check_server("interface certificate", iface.cert()); !checked) {
      return checked;
    }
  }
  for (const v1::SniCertificate& sni : iface.sni_certs()) {
    const std::string what = "SNI certificate for " + show(sni.server_name());
    if (auto checked = check_server(what, sni.cert()); !checked) return checked;
  }
  if (!iface.client_ca().empty()) {
    if (auto found = check_reference(lookup, "client CA", iface.client_ca(), false); !found) {
      return found;
    }
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

// A hash given as is (gctl apply, a migration) must be as slow as the ones gctld makes and
// no costlier than kMaxStoredArgon2Cost: a cheap one gives the password away to whoever
// reads the database, a dear one makes every AUTH for that user allocate it (probe round 45:
// m=8 and m=1 GiB were both taken).
Result<void> check_hash_cost(std::string_view hash, const policy::Argon2Cost& minimum) {
  const auto cost = policy::password_hash_cost(hash);
  if (!cost) {
    return fail(Code::kInvalidArgument,
                "password_hash is not an Argon2id hash this build accepts "
                "($argon2id$v=19$m=...,t=...,p=...$salt$hash)");
  }
  const auto& most = policy::kMaxStoredArgon2Cost;
  if (cost->memory_kib < minimum.memory_kib || cost->iterations < minimum.iterations ||
      cost->memory_kib > most.memory_kib || cost->iterations > most.iterations ||
      cost->parallelism > most.parallelism) {
    return fail(Code::kInvalidArgument,
                "password_hash costs m=" + std::to_string(cost->memory_kib) +
                    ",t=" + std::to_string(cost->iterations) + ",p=" +
                    std::to_string(cost->parallelism) + "; a stored hash needs m " +
                    std::to_string(minimum.memory_kib) + ".." + std::to_string(most.memory_kib) +
                    " KiB, t " + std::to_string(minimum.iterations) + ".." +
                    std::to_string(most.iterations) + ", p 1.." +
                    std::to_string(most.parallelism) +
                    " (gctld makes m=65536,t=2,p=1: set the password instead)");
  }
  return ok();
}

}  // namespace gw::controlplane
