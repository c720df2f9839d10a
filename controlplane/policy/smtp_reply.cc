// SMTP reply helpers: RFC 3463 codes, per-command defaults, parsing of configured replies.
#include "controlplane/policy/smtp_reply.h"

#include <algorithm>
#include <charconv>
#include <span>

namespace gw::controlplane::policy {

std::string enhanced_code(unsigned code, StatusDetail detail) {
  return std::to_string(code / 100) + "." + std::to_string(detail.subject) + "." +
         std::to_string(detail.detail);
}

SmtpReply default_reply(Command command) {
  switch (command) {
    case Command::kHelo:
      return {550, enhanced_code(550, kDeliveryNotAuthorized), "HELO rejected by policy"};
    case Command::kAuth:
      return {535, enhanced_code(535, kCredentialsInvalid), "Authentication credentials invalid"};
    case Command::kMail:
      return {550, enhanced_code(550, kDeliveryNotAuthorized), "Sender rejected by policy"};
    case Command::kRcpt:
      return {550, enhanced_code(550, kDeliveryNotAuthorized), "Recipient rejected by policy"};
    case Command::kData:
      return {554, enhanced_code(554, kDeliveryNotAuthorized), "Message rejected by policy"};
  }
  return {554, enhanced_code(554, kDeliveryNotAuthorized), "Rejected by policy"};
}

std::optional<std::string> reply_code_misfit(Command command, unsigned code) {
  static constexpr unsigned kHelo[] = {451, 501, 504, 550};
  static constexpr unsigned kMail[] = {450, 451, 452, 455, 530, 550, 552, 553, 555};
  static constexpr unsigned kRcpt[] = {450, 451, 452, 455, 530, 550, 551, 552, 553, 555};
  static constexpr unsigned kData[] = {450, 451, 452, 550, 552};
  static constexpr unsigned kAuth[] = {432, 454, 500, 501, 504, 530, 534, 535, 538};
  std::span<const unsigned> fitting;
  switch (command) {
    case Command::kHelo: fitting = kHelo; break;
    case Command::kMail: fitting = kMail; break;
    case Command::kRcpt: fitting = kRcpt; break;
    case Command::kData: fitting = kData; break;
    case Command::kAuth: fitting = kAuth; break;
  }
  if (code == 421 || code == 554) return std::nullopt;
  if (std::find(fitting.begin(), fitting.end(), code) != fitting.end()) return std::nullopt;
  std::string list;
  for (unsigned fit : fitting) list += std::to_string(fit) + ", ";
  return std::to_string(code) + " is no refusal of " + std::string(command_name(command)) +
         " (its codes: " + list + "421, 554; RFC 5321 §4.3.2" +
         (command == Command::kAuth ? ", RFC 4954 §6" : "") + ")";
}

SmtpReply media_error_reply(std::string_view text) {
  return {554, enhanced_code(554, kMediaError), std::string(text)};
}

std::size_t max_reply_text(const SmtpReply& reply) {
  // "NNN" SP enhanced SP text CRLF <= 512.
  const std::size_t fixed = 3 + 1 + reply.enhanced_code.size() + 1 + 2;
  return fixed >= 512 ? 0 : 512 - fixed;
}

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads 1..3 digits at `pos`; returns the number of digits read (0: none).
std::size_t read_number(std::string_view s, std::size_t pos, unsigned* value) {
  std::size_t n = 0;
  while (pos + n < s.size() && is_digit(s[pos + n]) && n < 4) ++n;
  if (n == 0 || n > 3) return 0;
  std::from_chars(s.data() + pos, s.data() + pos + n, *value);
  return n;
}

}  // namespace

Result<ReplyTemplate, std::string> parse_reply(std::string_view text) {
  using boost::outcome_v2::failure;
  const std::string expected = "expected \"NNN X.Y.Z text\", e.g. \"550 5.7.1 Not allowed\"";
  if (text.size() < 3 || !is_digit(text[0]) || !is_digit(text[1]) || !is_digit(text[2]) ||
      (text.size() > 3 && text[3] != ' ')) {
    return failure("reply must start with a three-digit code: " + expected);
  }
  ReplyTemplate reply;
  std::from_chars(text.data(), text.data() + 3, reply.code);
  if (reply.code < 400 || reply.code > 599) {
    return failure("reply code " + std::string(text.substr(0, 3)) +
                   " is not a failure code (4xx or 5xx, RFC 5321 §4.2.1)");
  }
  if (text[1] > '5') {
    // The second digit names the category: 0-5 only (RFC 5321 §4.2.1, "x6z" and above are
    // undefined); probe round 47: "599" was called "not a failure code".
    return failure("reply code " + std::string(text.substr(0, 3)) +
                   " has no defined second digit (0-5, RFC 5321 §4.2.1)");
  }
  if (text.size() <= 4) return failure("reply has no enhanced status code: " + expected);
  // Enhanced code: class "." subject "." detail (RFC 3463 §2).
  std::size_t pos = 4;
  unsigned cls = 0, subject = 0, detail = 0;
  std::size_t n = read_number(text, pos, &cls);
  if (n != 1 || pos + n >= text.size() || text[pos + n] != '.') {
    return failure("reply has no valid enhanced status code: " + expected);
  }
  pos += n + 1;
  n = read_number(text, pos, &subject);
  if (n == 0 || pos + n >= text.size() || text[pos + n] != '.') {
    return failure("reply has no valid enhanced status code: " + expected);
  }
  pos += n + 1;
  n = read_number(text, pos, &detail);
  if (n == 0 || (pos + n < text.size() && text[pos + n] != ' ')) {
    return failure("reply has no valid enhanced status code: " + expected);
  }
  if (cls != reply.code / 100) {
    return failure("enhanced status code class " + std::to_string(cls) +
                   " does not match reply code " + std::to_string(reply.code) + " (RFC 3463 §2)");
  }
  reply.enhanced_code = std::string(text.substr(4, pos + n - 4));
  pos += n;
  if (pos < text.size()) reply.text = std::string(text.substr(pos + 1));
  if (has_control_character(reply.text)) {
    return failure("reply text must not contain control characters (CR, LF, TAB ...)");
  }
  if (reply.text.size() > 400) return failure("reply text is longer than 400 octets");
  return reply;
}

}  // namespace gw::controlplane::policy
