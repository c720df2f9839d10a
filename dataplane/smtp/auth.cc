// AUTH rules and strict base64.
#include "dataplane/smtp/auth.h"

#include "common/printable_line.h"
#include "dataplane/smtp/address.h"

#include <openssl/evp.h>

#include <vector>

namespace gw::smtp {

AuthDecision auth_matrix(bool handler, bool credentials, bool upstream_offers_auth) {
  AuthDecision d;
  d.advertise = handler || (!credentials && upstream_offers_auth);
  d.proxy = !handler && !credentials && upstream_offers_auth;
  d.gateway_authenticates = credentials && upstream_offers_auth;
  d.require_client_auth = handler && d.gateway_authenticates;
  return d;
}

namespace {

bool is_b64_char(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

/// The 6-bit value of a base64 alphabet character (is_b64_char must hold).
unsigned b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  return c == '+' ? 62 : 63;
}

}  // namespace

std::optional<std::string> decode_sasl_base64(std::string_view text, SaslPosition position) {
  if (position == SaslPosition::kInitialResponse && text == "=") return std::string();
  if (position == SaslPosition::kContinuation && (text.empty() || text == "=")) {
    return std::string();
  }
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  if (text.back() == '=') padding = (text[text.size() - 2] == '=') ? 2 : 1;
  for (std::size_t i = 0; i < text.size() - padding; ++i) {
    if (!is_b64_char(static_cast<unsigned char>(text[i]))) return std::nullopt;
  }
  // The bits below the last octet must be zero (RFC 4648 §3.5): "YR==" is no encoding of
  // "a" (probe round 50: it was taken, and relayed verbatim to a pass-through upstream).
  if (padding > 0) {
    const unsigned last = b64_value(static_cast<unsigned char>(text[text.size() - padding - 1]));
    if ((last & (padding == 1 ? 0x3u : 0xfu)) != 0) return std::nullopt;
  }
  // OpenSSL decodes whole quantums; its output length counts padding as zero octets.
  std::vector<unsigned char> out(text.size() / 4 * 3 + 1);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0 || static_cast<std::size_t>(n) < padding) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(out.data()), static_cast<std::size_t>(n) - padding);
}

std::string encode_base64(std::string_view bytes) {
  std::vector<unsigned char> out(4 * ((bytes.size() + 2) / 3) + 1);
  int n = EVP_EncodeBlock(out.data(), reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  return std::string(reinterpret_cast<const char*>(out.data()), static_cast<std::size_t>(n));
}

bool auth_ends_pipeline_group(std::string_view mechanism, bool has_initial_response) {
  return !(has_initial_response && (mechanism == "PLAIN" || mechanism == "EXTERNAL"));
}

std::string auth_command_line(std::string_view mechanism, std::string_view initial_response,
                              std::string& deferred) {
  deferred.clear();
  std::string line = "AUTH ";
  line += mechanism;
  if (!initial_response.empty()) {
    if (line.size() + 1 + initial_response.size() + 2 <= kMaxClientCommandLine) {
      line += ' ';
      line += initial_response;
    } else {
      deferred = initial_response;
    }
  }
  line += "\r\n";
  return line;
}

bool auth_command_ends_pipeline_group(std::string_view args) {
  while (!args.empty() && args.back() == ' ') args.remove_suffix(1);
  const std::size_t sp = args.find(' ');
  std::string mechanism(args.substr(0, sp));
  for (char& c : mechanism) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  const bool initial_response = sp != std::string_view::npos && sp + 1 < args.size();
  return auth_ends_pipeline_group(mechanism, initial_response);
}

bool is_printable_identity(std::string_view identity) {
  return is_valid_utf8(identity) && common::printable_line(identity, identity.size()) == identity;
}

PlainError parse_plain(std::string_view decoded, PlainCredentials& out) {
  std::size_t first = decoded.find('\0');
  if (first == std::string_view::npos) return PlainError::kMalformed;
  std::size_t second = decoded.find('\0', first + 1);
  if (second == std::string_view::npos) return PlainError::kMalformed;
  if (decoded.find('\0', second + 1) != std::string_view::npos) return PlainError::kMalformed;
  std::string_view authzid = decoded.substr(0, first);
  std::string_view authcid = decoded.substr(first + 1, second - first - 1);
  std::string_view password = decoded.substr(second + 1);
  if (authcid.empty() || password.empty()) return PlainError::kMalformed;
  if (!is_printable_identity(authzid) || !is_printable_identity(authcid)) {
    return PlainError::kMalformed;
  }
  // RFC 4616 §2: UTF8SAFE. A Latin-1 password is not a PLAIN message; refusing it here also
  // keeps it out of the decision request, whose attribute values must be UTF-8 (probe 12).
  if (!is_valid_utf8(password)) return PlainError::kMalformed;
  out.authzid = std::string(authzid);
  out.authcid = std::string(authcid);
  out.password = std::string(password);
  return PlainError::kNone;
}

}  // namespace gw::smtp
