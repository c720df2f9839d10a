// EHLO keyword parsing and the gateway's capability computation.
#include "dataplane/smtp/capabilities.h"

#include <algorithm>

#include <charconv>
#include <string_view>

#include "dataplane/smtp/address.h"

namespace gw::smtp {
namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

}  // namespace

Capabilities parse_ehlo_reply(const Reply& reply) {
  Capabilities caps;
  for (std::size_t i = 1; i < reply.lines.size(); ++i) {
    // ehlo-line = ehlo-keyword *( SP ehlo-param ) (RFC 5321 §4.1.1.1), read leniently:
    // white space (SP or HTAB) of any length between the parts and after the last one, so
    // "SIZE 100 " is the limit 100 and not an unknown one (probe round 38: the gateway
    // offered its own 35 MiB and dropped SIZE= towards an upstream that takes 100 octets).
    std::string_view line = reply.lines[i];
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    const std::size_t sp = line.find_first_of(" \t");
    std::string_view keyword = line.substr(0, sp);
    std::string_view params = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
    while (!params.empty() && (params.front() == ' ' || params.front() == '\t')) {
      params.remove_prefix(1);
    }
    if (iequals_ascii(keyword, "PIPELINING")) {
      caps.pipelining = true;
    } else if (iequals_ascii(keyword, "8BITMIME")) {
      caps.eightbitmime = true;
    } else if (iequals_ascii(keyword, "SMTPUTF8")) {
      caps.smtputf8 = true;
    } else if (iequals_ascii(keyword, "ENHANCEDSTATUSCODES")) {
      caps.enhanced_status_codes = true;
    } else if (iequals_ascii(keyword, "STARTTLS")) {
      caps.starttls = true;
    } else if (iequals_ascii(keyword, "CHUNKING")) {
      caps.chunking = true;
    } else if (iequals_ascii(keyword, "SIZE")) {
      std::uint64_t value = 0;
      bool known = params.empty();  // "SIZE" alone: no fixed limit (0)
      if (!known) {
        auto [ptr, ec] = std::from_chars(params.data(), params.data() + params.size(), value);
        known = ec == std::errc() && ptr == params.data() + params.size();
      }
      // SIZE listed twice with different limits: the stricter one holds (a message over
      // the smaller limit may be refused after its whole transfer; probe round 19).
      if (known && (!caps.size || *caps.size == 0 || (value != 0 && value < *caps.size))) {
        caps.size = value;
      }
    } else if (iequals_ascii(keyword, "AUTH")) {
      // Names separated by SP or HTAB; only those of the RFC 4422 §3.1 sasl-mech grammar (1
      // to 20 of A-Z, 0-9, "-", "_") are kept, each once: anything else the gateway would
      // offer a client that then cannot use it (probe round 24: "PLAIN<TAB>LOGIN" became
      // one mechanism offered as two).
      std::size_t pos = 0;
      while (pos < params.size()) {
        std::size_t end = params.find_first_of(" \t", pos);
        std::string_view mech = params.substr(pos, end == std::string_view::npos ? end : end - pos);
        const std::string name = upper(mech);
        if (is_sasl_mechanism_name(name) &&
            std::find(caps.auth_mechanisms.begin(), caps.auth_mechanisms.end(), name) ==
                caps.auth_mechanisms.end()) {
          caps.auth_mechanisms.push_back(name);
        }
        if (end == std::string_view::npos) break;
        pos = end + 1;
      }
    }
  }
  // RFC 6531 §3.1: a server offering SMTPUTF8 MUST also offer 8BITMIME, and a SMTPUTF8
  // message is 8-bit content. An upstream that offers SMTPUTF8 alone cannot take such a
  // message safely, so the gateway counts SMTPUTF8 as not offered (nor offers it itself).
  caps.smtputf8 = caps.smtputf8 && caps.eightbitmime;
  return caps;
}

bool is_channel_bound_mechanism(std::string_view name) {
  constexpr std::string_view kPlus = "-PLUS";
  return name == "EXTERNAL" ||
         (name.size() > kPlus.size() && name.substr(name.size() - kPlus.size()) == kPlus);
}

std::vector<std::string> relayable_mechanisms(const Capabilities& upstream) {
  std::vector<std::string> out;
  for (const std::string& name : upstream.auth_mechanisms) {
    if (!is_channel_bound_mechanism(name)) out.push_back(name);
  }
  return out;
}

bool is_sasl_mechanism_name(std::string_view name) {
  if (name.empty() || name.size() > 20) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

std::uint64_t message_size_limit(const Capabilities& upstream, std::uint64_t service_limit,
                                 bool data_policy) {
  std::uint64_t size = service_limit;
  if (upstream.size && *upstream.size != 0) {
    std::uint64_t upstream_limit = *upstream.size;
    if (data_policy) upstream_limit -= std::min(kDataPolicyReserve, upstream_limit / 4);
    if (size == 0 || upstream_limit < size) size = upstream_limit;
  }
  return size;
}

std::vector<std::string> client_capabilities(const Capabilities& upstream, const GatewayOffer& offer) {
  std::vector<std::string> out;
  const std::uint64_t size =
      message_size_limit(upstream, offer.max_message_size, offer.data_policy);
  out.push_back(size == 0 ? std::string("SIZE") : "SIZE " + std::to_string(size));
  if (upstream.eightbitmime) out.emplace_back("8BITMIME");
  if (upstream.smtputf8 && upstream.eightbitmime) out.emplace_back("SMTPUTF8");  // RFC 6531 §3.1
  out.emplace_back("PIPELINING");
  if (upstream.enhanced_status_codes) out.emplace_back("ENHANCEDSTATUSCODES");
  if (offer.offer_starttls) out.emplace_back("STARTTLS");
  if (!offer.auth_mechanisms.empty()) {
    // One line within 512 octets with "250-" and CRLF (RFC 5321 §4.5.3.1.5): mechanisms
    // that would not fit are left out whole, never cut (probe round 24: an upstream's long
    // list came out cut inside a name). At 21 octets per name that is over 20 of them.
    constexpr std::size_t kMaxLine = 512 - 4 - 2;
    std::string line = "AUTH";
    for (const auto& m : offer.auth_mechanisms) {
      if (line.size() + 1 + m.size() <= kMaxLine) line += " " + m;
    }
    out.push_back(std::move(line));
  }
  return out;
}

}  // namespace gw::smtp
