// SMTP replies: the value type, enhanced status codes (RFC 3463) and the multi-line reply
// parser used on the upstream leg (RFC 5321 §4.2).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace gw::smtp {

/// Subject and detail of an RFC 3463 enhanced status code; the class digit is always taken
/// from the basic reply code, so one constant serves 2xx, 4xx and 5xx replies.
struct EnhancedStatus {
  int subject;
  int detail;
};

/// Named enhanced status codes (RFC 3463 §3, RFC 4954 §6, RFC 6531 §3.5).
namespace es {
inline constexpr EnhancedStatus kUndefined{0, 0};             // X.0.0 other/undefined
inline constexpr EnhancedStatus kSenderOk{1, 0};              // X.1.0 other address status
inline constexpr EnhancedStatus kBadDestinationSyntax{1, 3};  // X.1.3
inline constexpr EnhancedStatus kDestinationValid{1, 5};      // X.1.5
inline constexpr EnhancedStatus kBadSenderSyntax{1, 7};       // X.1.7
inline constexpr EnhancedStatus kSystemOther{3, 0};           // X.3.0 other mail system status
inline constexpr EnhancedStatus kMessageTooBig{3, 4};         // X.3.4
inline constexpr EnhancedStatus kNoAnswer{4, 1};              // X.4.1 no answer from host
inline constexpr EnhancedStatus kBadConnection{4, 2};         // X.4.2
inline constexpr EnhancedStatus kProtocolOther{5, 0};         // X.5.0 other protocol status
inline constexpr EnhancedStatus kInvalidCommand{5, 1};        // X.5.1
inline constexpr EnhancedStatus kSyntaxError{5, 2};           // X.5.2
inline constexpr EnhancedStatus kTooManyRecipients{5, 3};     // X.5.3
inline constexpr EnhancedStatus kInvalidArguments{5, 4};      // X.5.4
inline constexpr EnhancedStatus kAuthLineTooLong{5, 6};       // X.5.6 (RFC 4954)
inline constexpr EnhancedStatus kMediaOther{6, 0};            // X.6.0
inline constexpr EnhancedStatus kNonAsciiAddress{6, 7};       // X.6.7 (RFC 6531)
inline constexpr EnhancedStatus kSecurityOther{7, 0};         // X.7.0
inline constexpr EnhancedStatus kNotAuthorized{7, 1};         // X.7.1
inline constexpr EnhancedStatus kBadCredentials{7, 8};        // X.7.8 (RFC 4954)
inline constexpr EnhancedStatus kEncryptionRequired{7, 11};   // X.7.11 (RFC 4954)
}  // namespace es

/// One SMTP reply. `lines` hold the text of each line after "NNN-"/"NNN " (for replies the
/// gateway makes, the first line starts with the enhanced code). Invariant: 200 <= code <= 599
/// and lines is non-empty once built by make_reply() or ReplyParser.
struct Reply {
  int code = 0;
  std::vector<std::string> lines;

  /// The reply on the wire: every line "NNN-text\r\n", the last "NNN text\r\n", each at
  /// most 512 octets (RFC 5321 §4.5.3.1.5: longer text, such as an upstream's, is cut
  /// before the UTF-8 character that would not fit).
  [[nodiscard]] std::string wire() const;
  /// Appends wire() to `out` without a temporary.
  void append_wire(std::string& out) const;
  /// The enhanced code at the start of the first line ("5.7.1"), or "" if there is none.
  [[nodiscard]] std::string_view enhanced_code() const;
  [[nodiscard]] bool positive() const { return code >= 200 && code < 400; }
  [[nodiscard]] bool transient() const { return code >= 400 && code < 500; }
  [[nodiscard]] bool permanent() const { return code >= 500; }
};

/// True if `text` is exactly an enhanced status code: class "." subject "." detail with
/// class 2, 4 or 5 and 1-3 digits each for subject and detail (RFC 3463 §2).
bool is_enhanced_code(std::string_view text);

/// Builds "code c.s.d text" where c = code / 100 (RFC 3463 §2). `text` must be printable:
/// no CR, LF or other control octet (ReplyParser refuses those, RFC 5321 §4.2).
Reply make_reply(int code, EnhancedStatus status, std::string_view text);

/// Appends make_reply(code, status, text).wire() to `out` without building the Reply (no
/// allocation beyond `out`'s own growth: the relay's replies of its own, per command).
void append_reply(std::string& out, int code, EnhancedStatus status, std::string_view text);

/// `reply` with every non-ASCII character of its text replaced by "?" (one per UTF-8
/// character; any other 8-bit octet likewise). Reply text is US-ASCII (RFC 5321 §4.2,
/// textstring) unless the transaction uses SMTPUTF8 (RFC 6531 §3.7.4.2): a policy reply
/// that quotes an address in its comparison spelling (U-labels) must not put UTF-8 into a
/// 7-bit session (probe round 18).
Reply ascii_reply(Reply reply);

/// True if `text` may be reply text: HT, SP..~ and, beyond ASCII, well-formed UTF-8
/// without C1 controls (RFC 5321 §4.2; RFC 6531 §3.7.4.2 allows UTF-8). A lone CR or LF,
/// NUL, DEL, a C1 control (0x9B is a terminal's CSI) or a stray 0xFF is refused (BR-31).
bool is_reply_text(std::string_view text);

/// Where the first reply line of `data` (octets read from the upstream) ends.
/// kLine: `length` octets of line, then CRLF. kNeedMore: no line break yet (a CR may be the
/// last octet). kBareLineBreak: an LF not after a CR, or a CR followed by anything but LF,
/// comes first: CR and LF only ever appear together as CRLF (RFC 5321 §2.3.8), and waiting
/// for a CRLF that never comes would stall the client until the upstream timeout (BR-31,
/// probe round 19) — the caller treats it as a protocol fault at once.
struct ReplyLineEnd {
  enum class Kind { kNeedMore, kLine, kBareLineBreak };
  Kind kind = Kind::kNeedMore;
  std::size_t length = 0;
};
ReplyLineEnd find_reply_line_end(std::string_view data);

/// Incremental parser of one (possibly multi-line) reply, fed one line at a time
/// (RFC 5321 §4.2.1). Tolerates a reply line that is only the code ("250"). Errors: a line
/// that does not start with a 3-digit code in 200..599, a continuation with a different code,
/// a line over kMaxLineOctets, a CR or LF inside a line (it would split the reply on the
/// client's side; RFC 5321 §4.2, BR-31) → kError (the caller drops the connection). Text
/// that is not printable (NUL, DEL, other controls, C1, ill-formed UTF-8 such as Latin-1)
/// is kept with each such character as '?' (common::printable_line), and lines past the
/// 256th are read and dropped: the code is what a client acts on (probe round 36). An
/// enhanced code whose class is not the reply's first digit gets that digit ("550 2.1.5"
/// becomes "550 5.1.5", RFC 3463 §2).
class ReplyParser {
 public:
  enum class Status { kNeedMore, kComplete, kError };

  /// `line` excludes the CRLF. After kComplete, take() returns the reply and resets.
  Status feed_line(std::string_view line);
  Reply take();

  /// "334 " and a SASL challenge of 12288 octets (RFC 4954 §4: challenges may be that long,
  /// whatever the usual line limits); other lines over 512 octets are cut when relayed
  /// (Reply::append_wire).
  static constexpr std::size_t kMaxLineOctets = 4 + 12288;
  static constexpr std::size_t kMaxLines = 256;

 private:
  Reply reply_;
};

}  // namespace gw::smtp
