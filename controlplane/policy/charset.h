// How a DATA policy reads a text part's charset: what a mail reader shows is the part
// decoded by its charset, which for some charsets (UTF-16, UTF-7, EBCDIC, ISO-2022-JP
// escapes) hides ASCII text from a byte-wise body_match.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gw::controlplane::policy {

/// What the gateway does with a text part in one charset.
struct CharsetPlan {
  enum class Reading {
    /// us-ascii, utf-8, iso-8859-*, windows-125x, koi8-*: every ASCII character is its own
    /// octet and nothing else decodes to one; the octets are matched as they are. Also
    /// names neither iconv(3) nor Python know ("unknown-8bit"): readers show raw octets.
    kAsIs,
    /// Decoded to UTF-8 by iconv(3) for matching (besides the octets): UTF-16/32, UTF-7,
    /// EBCDIC, ISO-2022-*, Shift_JIS, GB18030..., under iconv's or Python's names.
    kDecode,
    /// A decoder only Python has that can turn ASCII into other ASCII (unicode_escape,
    /// raw_unicode_escape, HZ, punycode, idna): the gateway cannot see what such a reader
    /// shows, so the message is refused (554 5.6.0).
    kUndecodable,
  };
  Reading reading = Reading::kAsIs;
  /// kDecode: iconv names to decode from; two ("UTF-16LE", "UTF-16BE") for UTF-16/32
  /// without a byte-order mark, whose order readers guess differently.
  std::vector<std::string> iconv_names;
};

/// The plan for the MIME charset parameter `charset` as written (any case, surrounding
/// space; Python's spellings too: `utf_16`, `u7`, `UTF 16`, `utf-16//`). Source: RFC 2046
/// §4.1.2 (charset), probe rounds 25 and 26 (Python's email package decodes text parts
/// with Python's codec names and aliases).
CharsetPlan plan_charset(std::string_view charset);

/// `octets` decoded from each of `plan.iconv_names` to UTF-8 (invalid sequences skipped),
/// joined by CRLF; a UTF-16/32 text that starts with a byte-order mark is decoded once, by
/// the mark. nullopt unless the plan is kDecode.
std::optional<std::string> decoded_text_for_matching(std::string_view octets,
                                                     const CharsetPlan& plan);

/// A changed text body fitted to its part's charset, for a DATA policy that rewrote it.
struct CharsetRewrite {
  std::string body;           ///< the octets to send
  bool relabel_utf8 = false;  ///< body is now UTF-8: the part's charset must say utf-8
};

/// Fits `changed` (content.body after a policy's set_attribute) to a text part declared
/// `charset` whose body was `original`. The policy's own text (YAML, templates) is UTF-8,
/// while the octets it kept from `original` are in `charset`: left alone the footer
/// "grüße" in an iso-8859-1 part reads "grÃ¼ÃŸe". What the policy inserted is found as the
/// text around the first copy of `original` in `changed`, else between their common
/// prefix and suffix. Then:
/// - every inserted character exists in `charset` (iso-8859-*, windows-125x, koi8-*...):
///   the inserted text is converted, the original octets stay as they were;
/// - else (us-ascii, "€" in iso-8859-1) the original octets are converted to UTF-8 and the
///   part is relabelled utf-8 (RFC 2046 §4.1.2: the text reads the same);
/// - else (octets invalid in `charset`) characters `charset` lacks become "?".
/// nullopt when nothing is to be done: no charset or a UTF-8 one, inserted text that is
/// ASCII only or not UTF-8, a charset that is not ASCII-compatible (plan_charset is not
/// kAsIs: such bodies are never rewritten) or one iconv(3) does not know. Never throws
/// beyond std::bad_alloc.
std::optional<CharsetRewrite> fit_to_charset(std::string_view original, std::string_view changed,
                                             std::string_view charset);

}  // namespace gw::controlplane::policy
