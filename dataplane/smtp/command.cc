// Command line scanning and verb parsing.
#include "dataplane/smtp/command.h"

#include <array>
#include <cstring>

namespace gw::smtp {
namespace {

struct VerbEntry {
  std::string_view name;
  Verb verb;
};

constexpr std::array<VerbEntry, 14> kVerbs{{
    {"HELO", Verb::kHelo},
    {"EHLO", Verb::kEhlo},
    {"MAIL", Verb::kMail},
    {"RCPT", Verb::kRcpt},
    {"DATA", Verb::kData},
    {"RSET", Verb::kRset},
    {"NOOP", Verb::kNoop},
    {"QUIT", Verb::kQuit},
    {"VRFY", Verb::kVrfy},
    {"EXPN", Verb::kExpn},
    {"HELP", Verb::kHelp},
    {"STARTTLS", Verb::kStarttls},
    {"AUTH", Verb::kAuth},
    {"BDAT", Verb::kBdat},
}};

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (upper(a[i]) != b[i]) return false;
  }
  return true;
}

}  // namespace

std::string_view verb_name(Verb verb) {
  for (const auto& e : kVerbs) {
    if (e.verb == verb) return e.name;
  }
  return "?";
}

Command parse_command(std::string_view line) {
  // RFC 5321 §4.1.1: receivers SHOULD tolerate trailing white space (SP and HTAB) before
  // the CRLF (probe round 23: "NOOP<TAB>" got 500, "MAIL FROM:<a@b><TAB>" a 501 that
  // blamed the address).
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  std::size_t sp = line.find(' ');
  std::string_view word = line.substr(0, sp);
  Command cmd;
  for (const auto& e : kVerbs) {
    if (iequals(word, e.name)) {
      cmd.verb = e.verb;
      break;
    }
  }
  if (sp != std::string_view::npos) cmd.args = line.substr(sp + 1);
  return cmd;
}

LineScan scan_line(std::string_view buffered) {
  LineScan scan;
  const char* data = buffered.data();
  const std::size_t n = buffered.size();
  std::size_t i = 0;
  while (i < n) {
    // Jump to the next CR, LF or NUL; ordinary octets are the common case.
    const char c = data[i];
    if (c != '\r' && c != '\n' && c != '\0') {
      ++i;
      continue;
    }
    if (c == '\0') {
      scan.nul = true;
      ++i;
    } else if (c == '\n') {
      scan.bare_lf = true;
      ++i;
    } else if (i + 1 == n) {
      break;  // CR at the end of what is buffered: its LF may still come.
    } else if (data[i + 1] == '\n') {
      scan.end = i + 2;
      return scan;
    } else {
      scan.bare_cr = true;
      ++i;
    }
  }
  return scan;
}

bool must_end_pipeline_group(Verb verb) {
  switch (verb) {
    case Verb::kEhlo:
    case Verb::kHelo:
    case Verb::kData:
    case Verb::kStarttls:
    case Verb::kAuth:
      return true;
    default:
      return false;
  }
}

}  // namespace gw::smtp
