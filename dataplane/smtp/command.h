// SMTP command lines: finding a line in the input, and splitting it into verb and
// arguments (RFC 5321 §4.1, §2.3.8).
#pragma once

#include <cstddef>
#include <string_view>

namespace gw::smtp {

enum class Verb {
  kHelo,
  kEhlo,
  kMail,
  kRcpt,
  kData,
  kRset,
  kNoop,
  kQuit,
  kVrfy,
  kExpn,
  kHelp,
  kStarttls,
  kAuth,
  kBdat,
  kUnknown,
};

/// Upper-case verb name ("EHLO"), "?" for kUnknown.
std::string_view verb_name(Verb verb);

/// A parsed command line. `args` is the text after the verb and its single separating space
/// (empty when there is none); views point into the line given to parse_command().
struct Command {
  Verb verb = Verb::kUnknown;
  std::string_view args;
};

/// Splits `line` (without CRLF) into verb (case-insensitive, RFC 5321 §2.4) and arguments,
/// after dropping trailing SP and HTAB (RFC 5321 §4.1.1 tolerance: "QUIT<TAB>" is QUIT).
/// A verb followed by something other than SP or the end of line is kUnknown ("MAILX").
Command parse_command(std::string_view line);

/// Where the next command line ends in `buffered` input, and what it holds that it must not.
struct LineScan {
  /// Offset just past the CRLF ending the line, or npos if no CRLF is buffered yet.
  std::size_t end = std::string_view::npos;
  bool bare_cr = false;  // a CR not followed by LF inside the line (RFC 5321 §2.3.8)
  bool bare_lf = false;  // a LF not preceded by CR inside the line
  bool nul = false;      // a NUL octet
};

/// Finds the first CRLF-terminated line. Only CRLF ends a line: a bare LF or CR is reported
/// and stays inside the line, so "RCPT TO:<a@b><LF>RSET<CRLF>" is one bad line (field cases
/// BR-01/BR-02), never two commands. O(n) in the scanned octets.
LineScan scan_line(std::string_view buffered);

/// RFC 2920 §3.1: commands after which the client must wait for the reply before sending
/// more (EHLO, HELO, DATA, STARTTLS, AUTH). Bytes already buffered after one of them are
/// improper pipelining (field case BR-23). AUTH has an exception the session applies:
/// smtp::auth_ends_pipeline_group (auth.h).
bool must_end_pipeline_group(Verb verb);

}  // namespace gw::smtp
