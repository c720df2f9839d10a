// The MIME view of a message for DATA policies: header fields, Content-Type parameters,
// the multipart tree (iterative, capped) and the decoded `content.body`; header edits
// for add_header / remove_header (DESIGN.md §3 step 6; reference "SMTP
// Content-Transfer-Encoding"; RFC 5322, RFC 2045, RFC 2046; field cases BR-25..BR-29).
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/policy/result.h"

namespace gw::controlplane::policy {

/// Caps on the structure of one message (BR-29). Over any of them the message is refused
/// (fail closed: 554 5.6.0), never inspected partially. Each service sets its own (Limits
/// max_mime_parts, max_mime_depth, max_mime_header_block; DecisionEngine's mime_limits_of);
/// these defaults are also the services' defaults.
struct MimeLimits {
  std::size_t max_parts = 1000;              // body parts over all multiparts
  std::size_t max_depth = 20;                // nesting of multiparts
  std::size_t max_header_block = 64 * 1024;  // octets of one entity's header block
};

/// A leaf part: its body as it is in the message, and whether it is base64 or
/// quoted-printable encoded.
struct MimeLeaf {
  std::string_view body;
  bool base64 = false;
  bool quoted_printable = false;
  /// Encoded, but its Content-Transfer-Encoding is not one plain line holding only the
  /// token ("base64 " with a trailing space, folded onto a second line): the gateway
  /// decodes it as most readers do (BR-28: trimmed), but Python's email package (compat32)
  /// takes it for an unknown mechanism and shows the raw text (probe round 23).
  bool raw_shown_by_some = false;
  /// The charset parameter of a text part (text/*, or no valid type: RFC 2045 §5.2), as
  /// written; empty for other parts and when absent (us-ascii).
  std::string charset;
  /// A text part (text/*, or no valid type), whatever its charset.
  bool text = false;
};

/// The structure of a message (views into the message: it must outlive this).
///
/// Lines end in CRLF; a bare LF is accepted as a line end too, so that a line a lenient
/// MUA sees as a boundary is one here as well. The top header block is
/// [0, header_end); header_end is just past its last line ending, and body_begin just past
/// the empty line (both are the message size when there is no empty line).
///
/// Multiparts (type "multipart/*") are walked with an explicit stack, never by recursion.
/// The boundary parameter may come in RFC 2231 sections (boundary*0, boundary*1, …), and
/// trailing spaces of its value are dropped (RFC 2046 §5.1.1, as readers do). Boundary
/// delimiters are lines "--boundary" or "--boundary--" followed only by spaces or tabs;
/// the line ending before a delimiter belongs to it. Preamble and epilogue are not content.
/// Tolerated defects (counted, field case BR-27): a missing close delimiter (the last part
/// runs to the end); no delimiter at all, or no boundary parameter (the body is preamble
/// only, and that text becomes one leaf so the policy still sees it). But a multipart whose
/// body has delimiter lines of some other boundary is an error: its parts could not be
/// determined, and a reader may still find them (BR-25). A message/rfc822 or message/global part
/// (not base64) is walked as an entity of its own, one level deeper, so its attachments are
/// leaves too; the top-level entity itself is never descended into that way.
struct MimeStructure {
  std::size_t header_end = 0;
  std::size_t body_begin = 0;
  bool multipart = false;        // the top-level entity is a multipart
  bool base64 = false;           // the top-level entity is a single base64 part
  bool quoted_printable = false;  // the top-level entity is a single quoted-printable part
  bool eight_bit = false;         // ... a single part labelled 8bit or binary (RFC 2045 §6.2)
  std::vector<MimeLeaf> leaves;  // leaf parts in document order
  std::size_t parts = 0;         // body parts found in all multiparts
  std::size_t defects = 0;
};

/// Parses `message`. Error (one-line reason): a cap of `limits` is exceeded, a multipart
/// has delimiter lines that match no declared boundary or a delimiter line opening a part
/// after its close delimiter (BR-27), or its boundary parameter is ambiguous (policy: 554
/// 5.6.0, fail closed). A header block without its empty line ends
/// at the first line that is no header field (a defect), which then starts the body.
Result<MimeStructure, std::string> parse_mime(std::string_view message,
                                              const MimeLimits& limits = {});

/// The octets of the uuencoded ("begin NNN name" … "end") and yEnc ("=ybegin" … "=yend")
/// blocks inside `text`, decoded and concatenated in document order; "" when there are none.
/// Mail readers (Mozilla's libmime) show such blocks in a text body as attachments, so a
/// body policy must see their decoded octets too (BR-28 kind, probe round 22). A block
/// without its end line runs to the end of `text`; characters outside an encoding's
/// alphabet are skipped. Never throws; linear in `text`.
std::string inline_attachment_octets(std::string_view text);

/// inline_attachment_octets() of each leaf's decoded text on its own (a block never runs
/// from one part into the next; probe round 27), and of the raw text of leaves some readers
/// show raw, concatenated.
std::string inline_attachments(const MimeStructure& structure);
/// The same from the leaves already decoded (`decoded[k]` is decode_leaf() of leaf k).
std::string inline_attachments(const MimeStructure& structure,
                               std::span<const std::string> decoded);

/// One leaf's body decoded as decode_content_body() decodes it.
std::string decode_leaf(const MimeLeaf& leaf, std::size_t* defects, bool* misaligned);
/// decode_leaf() of every leaf, in document order: decoded once and shared by
/// content.body (join_leaves), inline_attachments and text_in_other_charsets.
std::vector<std::string> decode_leaves(const MimeStructure& structure,
                                       std::size_t* defects = nullptr, bool* misaligned = nullptr);
/// content.body from decoded leaves: concatenated, a CRLF between two when the first does
/// not end a line.
std::string join_leaves(std::span<const std::string> decoded);

/// `content.body`: the concatenation, in document order, of the leaf parts' bodies (a CRLF
/// between two when the first does not end a line: each part starts a line), each
/// decoded when its Content-Transfer-Encoding is base64 or quoted-printable (qp_decode;
/// probe round 23: the reference decodes base64 only, but every mail reader decodes
/// quoted-printable, so "EICAR=2DSTANDARD" passed a body_match) and taken as is otherwise
/// (7bit, 8bit, binary). Base64 decoding defects are added to `defects` when given.
/// `misaligned` is set when a base64 leaf has padding that decoders read differently
/// (base64_decode).
std::string decode_content_body(const MimeStructure& structure, std::size_t* defects = nullptr,
                                bool* misaligned = nullptr);

/// Text of the leaves written in a charset that is not ASCII-compatible (UTF-16, UTF-7,
/// EBCDIC...; policy/charset.h), decoded (transfer encoding, then charset) to UTF-8, each
/// followed by CRLF; empty when there is none. What readers show of such a part is this
/// decoding, so DATA policies scan it besides the octets (probe round 25).
std::string text_in_other_charsets(const MimeStructure& structure);
/// The same from the leaves already decoded (`decoded[k]` is decode_leaf() of leaf k).
std::string text_in_other_charsets(const MimeStructure& structure,
                                   std::span<const std::string> decoded);

/// The raw bodies of the leaves marked raw_shown_by_some, in document order, each ending
/// in CRLF: what a DATA policy must see besides the decoded body (policy_engine appends it
/// to content.body; a policy that rewrites the body refuses such a message).
std::string raw_text_shown_by_some(const MimeStructure& structure);

/// The unfolded value of the first field called `name` (case-insensitive) in a header
/// block, without the leading whitespace; nullopt if there is none (RFC 5322 §2.2.3).
std::optional<std::string> find_header(std::string_view header_block, std::string_view name);

/// `value` with RFC 5322 §3.2.2 comments ("(...)", nested, with quoted-pairs) replaced by a
/// space — except inside quoted strings, whose text is literal (BR-25: boundary="q=(x)Z9").
std::string strip_comments(std::string_view value);

/// A parsed Content-Type (RFC 2045 §5.1): type and subtype lowercased, parameter names
/// lowercased, values unquoted (quoted-pairs resolved) and otherwise kept as they are. The
/// first occurrence of a parameter wins; RFC 2231 sections ("name*0", "name*1*", "name*")
/// are joined (and %XX-decoded where extended) into "name", replacing a plain one. What
/// readers could take differently is listed in `ambiguous` (a multipart with an ambiguous
/// boundary is refused by parse_mime).
struct ContentType {
  std::string type;
  std::string subtype;
  std::map<std::string, std::string> parameters;
  /// Parameters readers take differently: given twice, RFC 2231 sections with a gap or
  /// both plain and extended, or a plain value next to RFC 2231 sections.
  std::set<std::string> ambiguous;
};
ContentType parse_content_type(std::string_view value);

/// Why a Content-Type field value (unfolded) is one mail readers would take differently,
/// or nullopt: a control octet (C0 but HTAB, DEL), an RFC 2047 encoded word in the media
/// type, or a media type that is not `token "/" token` and names multipart or message
/// (comments, spaces around the "/", no subtype). parse_mime fails on it (554 5.6.0 on the
/// decision path, BR-25 "fail closed"); any other malformed type is a leaf (RFC 2045 §5.2).
std::optional<std::string> content_type_problem(std::string_view value);

/// The same for a Content-Transfer-Encoding value: a control octet, a quoted string, a
/// comment or an encoded word (RFC 2045 §6.1 allows a bare token only).
std::optional<std::string> transfer_encoding_problem(std::string_view value);

/// One change of the top header block.
enum class HeaderEditKind { kAdd, kRemove };
struct HeaderEdit {
  HeaderEditKind kind = HeaderEditKind::kAdd;
  std::string name;
  std::string value;  // kAdd only: one line, no control characters
};

/// `value` as an unstructured header field body that is plain ASCII: unchanged when it is
/// ASCII already and holds no "=?" (which readers could decode as an encoded-word, RFC 2047
/// §6-§7; probe round 42), else RFC 2047 encoded-words "=?UTF-8?B?...?=" of at most 75 characters
/// (§2), each holding whole UTF-8 characters (§5), folded with CRLF SP between them (§6.2:
/// the whitespace between adjacent encoded words is not part of the text). A field the
/// gateway adds is then fit for any transaction, 7-bit and SMTPUTF8 alike (RFC 6532 §3 only
/// allows raw UTF-8 fields in SMTPUTF8 transactions; probe round 12).
std::string rfc2047_encode(std::string_view value);

/// The header field "name: value" CRLF as the gateway adds it, on lines the RFCs allow:
/// a non-ASCII value, or one holding "=?", as rfc2047_encode() gives it (one encoded word per line, the first
/// within 76 characters beside the name or else on the next line, RFC 2047 §2); an ASCII
/// value folded before whitespace (CRLF inserted, the whitespace kept: RFC 5322 §2.2.3) so
/// that lines stay within 78 characters where a space allows and within 998 always (§2.1.1).
/// A value with a word that no line could hold is written as encoded-words too (they fold
/// anywhere; readers decode them back to the value). `name` must
/// pass is_valid_header_name; `value` must hold no CR or LF (to_single_line).
std::string header_field(std::string_view name, std::string_view value);

/// True if `name` is an RFC 5322 §3.6.8 field name: 1..76 printable ASCII characters
/// other than ":" (76 keeps "name: " within a 78-character line).
bool is_valid_header_name(std::string_view name);

/// The header block with `edits` applied in order: kAdd puts "Name: value" CRLF at the top
/// of the block (above the trace and signature fields, so DKIM signatures, which bind the
/// bottom-most instances, stay valid) but below lines at the very top that start no field
/// (an mbox "From " line, a line starting with whitespace): placed above such a line, the
/// added field would take it as its continuation (RFC 5322 §2.2.3) and the client would
/// write part of the gateway's field (probe round 12). kRemove drops every field of that
/// name (case-insensitive), continuation lines included. Fields not touched keep their
/// bytes.
std::string edit_header_block(std::string_view header_block, const std::vector<HeaderEdit>& edits);

}  // namespace gw::controlplane::policy
