// Fuzz target: command line scanning, verb parsing and the envelope grammar (scan_line,
// parse_command, parse_mail_from, parse_rcpt_to, is_valid_helo_argument and friends).
// The input is a client's byte stream; it is cut into lines as the session cuts it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dataplane/smtp/address.h"
#include "dataplane/smtp/command.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using gw::smtp::Command;
using gw::smtp::LineScan;
using gw::smtp::Path;
using gw::smtp::PathArgument;
using gw::smtp::PathError;
using gw::smtp::Verb;

bool has_any(std::string_view s, std::string_view chars) {
  return s.find_first_of(chars) != std::string_view::npos;
}

bool has_non_ascii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return true;
  }
  return false;
}

void check_domain_predicates(std::string_view s) {
  const bool ascii_domain = gw::smtp::is_valid_domain(s, false);
  const bool utf8_domain = gw::smtp::is_valid_domain(s, true);
  const bool literal = gw::smtp::is_valid_address_literal(s);
  const bool helo = gw::smtp::is_valid_helo_argument(s);
  if (ascii_domain) {
    GW_FUZZ_CHECK(utf8_domain);
    GW_FUZZ_CHECK(!has_non_ascii(s));
  }
  if (utf8_domain) {
    GW_FUZZ_CHECK(!s.empty() && s.size() <= 255);
    GW_FUZZ_CHECK(gw::smtp::is_valid_utf8(s));
    GW_FUZZ_CHECK(s.front() != '.' && s.back() != '.' && s.find("..") == std::string_view::npos);
    GW_FUZZ_CHECK(!has_any(s, std::string_view("\0\r\n @[]:", 9)));
  }
  if (literal) {
    GW_FUZZ_CHECK(s.size() >= 3 && s.front() == '[' && s.back() == ']');
    GW_FUZZ_CHECK(!has_any(s, std::string_view("\0\r\n ", 4)) && !has_non_ascii(s));
    GW_FUZZ_CHECK(!ascii_domain);
  }
  GW_FUZZ_CHECK(helo == (ascii_domain || literal));
}

// A parsed path, written back in canonical form, parses to the same path.
void check_path(const PathArgument& a, bool rcpt) {
  if (a.error != PathError::kNone) return;
  const Path& p = a.path;
  GW_FUZZ_CHECK(!has_any(p.mailbox, std::string_view("\0\r\n", 3)));
  GW_FUZZ_CHECK(p.mailbox.size() <= 254);
  GW_FUZZ_CHECK(gw::smtp::is_valid_utf8(p.mailbox));
  GW_FUZZ_CHECK(p.non_ascii == has_non_ascii(p.mailbox));
  if (p.is_null) {
    GW_FUZZ_CHECK(!rcpt && p.mailbox.empty() && !p.is_postmaster);
  } else if (p.is_postmaster) {
    GW_FUZZ_CHECK(rcpt && gw::smtp::iequals_ascii(p.mailbox, "postmaster"));
  } else {
    std::size_t at = p.mailbox.rfind('@');
    GW_FUZZ_CHECK(at != std::string::npos && at > 0 && at <= 64);
    std::string_view domain = std::string_view(p.mailbox).substr(at + 1);
    GW_FUZZ_CHECK(gw::smtp::is_valid_domain(domain, true) ||
                  gw::smtp::is_valid_address_literal(domain));
  }
  for (const auto& param : a.params) {
    GW_FUZZ_CHECK(!param.keyword.empty());
    for (char c : param.keyword) {
      GW_FUZZ_CHECK((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-');
    }
    GW_FUZZ_CHECK(param.keyword.front() != '-');
    GW_FUZZ_CHECK(param.has_value != param.value.empty());
    for (unsigned char c : param.value) GW_FUZZ_CHECK(c > 32 && c < 127 && c != '=');
  }
  std::string canonical = (rcpt ? "TO:<" : "FROM:<") + p.mailbox + ">";
  for (const auto& param : a.params) {
    canonical += ' ';
    canonical += param.keyword;
    if (param.has_value) canonical += '=' + param.value;
  }
  PathArgument again =
      rcpt ? gw::smtp::parse_rcpt_to(canonical) : gw::smtp::parse_mail_from(canonical);
  GW_FUZZ_CHECK(again.error == PathError::kNone);
  GW_FUZZ_CHECK(again.path.mailbox == p.mailbox);
  GW_FUZZ_CHECK(again.path.is_null == p.is_null);
  GW_FUZZ_CHECK(again.path.is_postmaster == p.is_postmaster);
  GW_FUZZ_CHECK(again.path.non_ascii == p.non_ascii);
  GW_FUZZ_CHECK(again.params.size() == a.params.size());
}

void check_command(std::string_view line) {
  Command cmd = gw::smtp::parse_command(line);
  // Trailing SP and HTAB are no part of the command (RFC 5321 §4.1.1 tolerance).
  std::string_view trimmed = line;
  while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\t')) {
    trimmed.remove_suffix(1);
  }
  if (cmd.verb != Verb::kUnknown) {
    std::string_view name = gw::smtp::verb_name(cmd.verb);
    GW_FUZZ_CHECK(trimmed.size() >= name.size());
    GW_FUZZ_CHECK(gw::smtp::iequals_ascii(trimmed.substr(0, name.size()), name));
    GW_FUZZ_CHECK(trimmed.size() == name.size() || trimmed[name.size()] == ' ');
    GW_FUZZ_CHECK(cmd.args ==
                  (trimmed.size() > name.size() ? trimmed.substr(name.size() + 1) : ""));
  }
  if (!cmd.args.empty()) {
    // args is a view into the line, after the first space, up to the trailing white space.
    GW_FUZZ_CHECK(cmd.args.data() >= line.data() &&
                  cmd.args.data() + cmd.args.size() == trimmed.data() + trimmed.size());
    GW_FUZZ_CHECK(cmd.args.back() != ' ' && cmd.args.back() != '\t');
  }
  check_domain_predicates(cmd.args);
  check_path(gw::smtp::parse_mail_from(cmd.args), false);
  check_path(gw::smtp::parse_rcpt_to(cmd.args), true);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  // The stream as a session reads it: one CRLF-terminated line after the other.
  std::string_view rest = in;
  while (true) {
    LineScan s = gw::smtp::scan_line(rest);
    if (s.end == std::string_view::npos) {
      // No CRLF in what is left, except possibly a CR still waiting for its LF.
      std::size_t crlf = rest.find("\r\n");
      GW_FUZZ_CHECK(crlf == std::string_view::npos);
      break;
    }
    GW_FUZZ_CHECK(s.end >= 2 && s.end <= rest.size());
    GW_FUZZ_CHECK(rest.substr(s.end - 2, 2) == "\r\n");
    std::string_view line = rest.substr(0, s.end - 2);
    GW_FUZZ_CHECK(line.find("\r\n") == std::string_view::npos);  // the first CRLF ends it
    GW_FUZZ_CHECK(s.nul == (line.find('\0') != std::string_view::npos));
    GW_FUZZ_CHECK(s.bare_lf == (line.find('\n') != std::string_view::npos));
    GW_FUZZ_CHECK(s.bare_cr == (line.find('\r') != std::string_view::npos));
    check_command(line);
    rest.remove_prefix(s.end);
  }

  // The raw input as one argument, for the grammar's sake.
  check_command(in);
  check_domain_predicates(in);
  check_path(gw::smtp::parse_mail_from(in), false);
  check_path(gw::smtp::parse_rcpt_to(in), true);
  (void)gw::smtp::must_end_pipeline_group(gw::smtp::parse_command(in).verb);
  return 0;
}
