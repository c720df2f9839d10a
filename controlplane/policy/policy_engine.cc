// Filter chain evaluation, HELO greeting expansion, DATA decoding and re-encoding.
#include "controlplane/policy/policy_engine.h"

#include <optional>
#include <string_view>
#include <vector>

#include "common/printable_line.h"
#include "controlplane/policy/base64.h"
#include "controlplane/policy/charset.h"
#include "controlplane/policy/quoted_printable.h"

namespace gw::controlplane::policy {

std::string_view verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::kContinue:
      return "continue";
    case Verdict::kReject:
      return "reject";
    case Verdict::kTempfail:
      return "tempfail";
  }
  return "?";
}

namespace {

void fail_with(Decision& decision, SmtpReply reply, std::string reason) {
  decision.verdict = reply.code / 100 == 4 ? Verdict::kTempfail : Verdict::kReject;
  decision.reply = std::move(reply);
  decision.reason = std::move(reason);
}

// SMTP text lines end in CRLF (RFC 5321 §2.3.8): bare CR and bare LF become CRLF, and a
// non-empty text gets a final CRLF when `final_crlf`.
std::string to_crlf_lines(std::string_view text, bool final_crlf = true) {
  std::string out;
  out.reserve(text.size() + text.size() / 32 + 2);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  if (final_crlf && !out.empty() && !out.ends_with("\r\n")) out += "\r\n";
  return out;
}

// True if `text` has a CR not followed by LF, or an LF not preceded by CR.
bool has_lone_cr_or_lf(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')) return true;
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) return true;
  }
  return false;
}

// RFC 5321 §4.5.3.1.6: a text line is at most 998 octets before its CRLF.
constexpr std::size_t kMaxTextLine = 998;

bool has_line_longer_than(std::string_view crlf_text, std::size_t limit) {
  std::size_t start = 0;
  while (start < crlf_text.size()) {
    std::size_t end = crlf_text.find("\r\n", start);
    if (end == std::string_view::npos) end = crlf_text.size();
    if (end - start > limit) return true;
    start = end + 2;
  }
  return false;
}

// Applies header edits and a changed body to the DATA message when the policy passed.
// A changed body of a text part that would carry a line over 998 octets is sent base64
// (Content-Transfer-Encoding replaced, MIME-Version added when missing) instead: the relay
// never emits an over-long line toward the upstream (field case BR-13; RFC 2045 §6.8, the
// text in its canonical CRLF form). A quoted-printable part's content.body is its decoded
// text: the changed body is encoded quoted-printable again (soft line breaks, 8-bit octets
// escaped), never relabelled base64.
// A Content-Type field value (unfolded) with "; charset=utf-8" added at its end: the
// part's type and other parameters stay as they were.
std::string lowercase_ascii(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// A Content-Type field value without its charset parameters (charset, charset*,
// charset*N, charset*N*; RFC 2045 §5.1, RFC 2231 §3-4): split at the ";" outside quoted
// strings and comments, the other parameters kept as written.
std::string without_charset_parameters(std::string_view value) {
  std::vector<std::string_view> pieces;
  std::size_t start = 0;
  bool quoted = false;
  int comment = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if ((quoted || comment > 0) && c == '\\') {
      ++i;
    } else if (quoted) {
      quoted = c != '"';
    } else if (c == '"' && comment == 0) {
      quoted = true;
    } else if (c == '(') {
      ++comment;
    } else if (c == ')' && comment > 0) {
      --comment;
    } else if (c == ';' && comment == 0) {
      pieces.push_back(value.substr(start, i - start));
      start = i + 1;
    }
  }
  pieces.push_back(value.substr(start));
  std::string out(pieces[0]);
  for (std::size_t k = 1; k < pieces.size(); ++k) {
    const std::string_view piece = pieces[k];
    std::string name = lowercase_ascii(std::string(piece.substr(0, piece.find('='))));
    const auto first = name.find_first_not_of(" \t\r\n");
    const auto last = name.find_last_not_of(" \t\r\n");
    name = first == std::string::npos ? std::string() : name.substr(first, last - first + 1);
    if (name == "charset" || name.starts_with("charset*")) continue;
    out += ';';
    out += piece;
  }
  return out;
}

std::string with_charset_utf8(std::string value) {
  value = without_charset_parameters(value);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == ';')) {
    value.pop_back();
  }
  return value + "; charset=utf-8";
}

void finish_message(Decision& decision, const EvaluationState& state,
                    const MimeStructure& structure, const std::optional<std::string>& new_body,
                    bool relabel_utf8, bool eight_bit_allowed, std::string& message) {
  if (!new_body && state.header_edits.empty()) return;
  if (new_body && structure.multipart) {
    fail_with(decision,
              media_error_reply("Changing the body of a multipart message is not supported"),
              "content.body changed on a multipart message; this build does not rebuild "
              "multipart bodies");
    return;
  }
  const std::string_view original = message;
  std::string headers = std::string(original.substr(0, structure.header_end));
  std::vector<HeaderEdit> edits = state.header_edits;
  std::string body;
  if (new_body) {
    // Text is base64-encoded in its canonical form, lines ending in CRLF (RFC 2045 §6.8,
    // RFC 2046 §4.1.1; probe round 40: a footer "\n" in a base64 text part decoded with
    // bare LFs); other media types keep their octets.
    const bool text = structure.leaves.empty() || structure.leaves[0].text;
    body = !structure.base64 ? to_crlf_lines(*new_body)
           : text            ? base64_encode(to_crlf_lines(*new_body, /*final_crlf=*/false))
                             : base64_encode(*new_body);
    // 8-bit octets the policy brought in (a footer "grüße") must not leave in a part
    // labelled 7bit (the default) or quoted-printable (RFC 2045 §2.7, §6.7), nor in a
    // transaction whose MAIL went upstream without BODY=8BITMIME (RFC 6152 §3; probe rounds
    // 12 and 41: a part labelled 8bit holding ASCII, sent without BODY, came out with raw
    // "grüße"): quoted-printable escapes them, any other part goes base64. Only a part
    // labelled 8bit or binary in a BODY=8BITMIME transaction (`eight_bit_allowed`) keeps them.
    // Without a Content-Type, or in a text part without a charset parameter, the text
    // would read as US-ASCII (RFC 2045 §5.2, RFC 2046 §4.1.2); UTF-8 text is labelled so
    // (probe round 32: "Content-Type: text/html" kept, the footer "grüße" read as
    // "gr����e"). In a part with a declared charset the caller has already written the
    // policy's text in it, or converted the whole body to UTF-8 (`relabel_utf8`: the
    // charset parameter is replaced; fit_to_charset).
    const bool keeps_8bit = structure.eight_bit && eight_bit_allowed;
    const bool eight_bit_text = !structure.base64 && !keeps_8bit && common::has_8bit(body);
    // A charset parameter in any form, even an empty one ('charset=""', "charset*=''"), is
    // the message's own: a second one would make the field ambiguous (probe round 33).
    const auto type_field = find_header(headers, "Content-Type");
    const bool names_charset =
        type_field && lowercase_ascii(*type_field).find("charset") != std::string::npos;
    const bool unlabelled_utf8 = relabel_utf8 ||
                                 (common::has_8bit(*new_body) && common::is_valid_utf8(*new_body) &&
                                  !structure.leaves.empty() && structure.leaves[0].text &&
                                  structure.leaves[0].charset.empty() && !names_charset);
    bool mime_version = false;
    if (structure.quoted_printable) {
      body = qp_encode(body);
    } else if (!structure.base64 && (has_line_longer_than(body, kMaxTextLine) || eight_bit_text ||
                                     body.find('\0') != std::string::npos)) {
      // A NUL the policy wrote (a template with \u0000) never goes out raw: a hop that
      // drops NULs could see an end of data the gateway did not (PROTOCOL.md refuses NUL
      // from clients for that reason; probe round 30).
      body = base64_encode(body);
      edits.push_back({HeaderEditKind::kRemove, "Content-Transfer-Encoding", {}});
      edits.push_back({HeaderEditKind::kAdd, "Content-Transfer-Encoding", "base64"});
      mime_version = true;
    }
    if (unlabelled_utf8) {
      if (type_field) {
        // The part's own type and parameters, with the charset it lacked.
        edits.push_back({HeaderEditKind::kRemove, "Content-Type", {}});
        edits.push_back({HeaderEditKind::kAdd, "Content-Type",
                         with_charset_utf8(*type_field)});
      } else {
        edits.push_back({HeaderEditKind::kAdd, "Content-Type", "text/plain; charset=utf-8"});
      }
      mime_version = true;
    }
    if (mime_version && !find_header(headers, "MIME-Version")) {
      edits.push_back({HeaderEditKind::kAdd, "MIME-Version", "1.0"});
    }
  }
  if (!edits.empty()) headers = edit_header_block(headers, edits);
  std::string separator(
      original.substr(structure.header_end, structure.body_begin - structure.header_end));
  std::string replaced;
  if (new_body) {
    if (separator.empty() && !body.empty()) {  // the message had no empty line
      if (!headers.empty() && !headers.ends_with("\n")) headers += "\r\n";
      separator = "\r\n";
    }
    replaced = headers + separator + body;
  } else {
    // Edits that changed nothing (a remove_header of a field the message lacks) leave the
    // message as it came, byte for byte (DESIGN §7; probe round 17: the separator below
    // was added to a message without an empty line even then).
    if (headers == original.substr(0, structure.header_end)) return;
    const std::string_view rest = original.substr(structure.body_begin);
    if (separator.empty() && !rest.empty()) {
      // No empty line in the message (no header block at all, or one that ended at a line
      // that is no field): the added fields must not run into the body (RFC 5322 §2.1).
      if (!headers.empty() && !headers.ends_with("\n")) headers += "\r\n";
      separator = "\r\n";
    }
    replaced = headers;
    replaced += separator;
    replaced += rest;
  }
  if (replaced != original) {
    message = std::move(replaced);
    decision.message_replaced = true;
  }
}

}  // namespace

Decision evaluate(const CompiledPolicy& policy, Command command, Attributes& attributes,
                  const UserDirectory& users, std::string* message, const MimeLimits& limits,
                  bool eight_bit_allowed) {
  Decision decision;
  EvaluationState state{command, attributes, users, {}, false, {}, {}};

  if (command == Command::kHelo) {
    const auto it = attributes.find(attr::kHeloGreeting);
    const std::string greeting_template =
        (it == attributes.end() || it->second.empty()) ? std::string(kDefaultGreeting) : it->second;
    attributes.insert_or_assign(std::string(attr::kHeloGreeting),
                                to_single_line(expand_template(greeting_template, attributes)));
    state.written.emplace(attr::kHeloGreeting);
  }

  std::optional<MimeStructure> structure;
  std::string original_body;
  if (command == Command::kData) {
    attributes.erase(std::string(attr::kContentBody));  // only the message defines the body
    if (message) {
      state.message = *message;
      state.has_message = true;
      auto parsed = parse_mime(*message, limits);
      if (!parsed) {
        fail_with(decision, media_error_reply("Message structure cannot be inspected"),
                  parsed.error());
        return decision;
      }
      structure = std::move(parsed).value();
      if (policy.needs_body() || policy.writes_body()) {
        bool misaligned = false;
        // Each leaf decoded once, shared by content.body and the extra scans below.
        const std::vector<std::string> decoded = decode_leaves(*structure, nullptr, &misaligned);
        std::string body = join_leaves(decoded);
        if (misaligned) {
          // Readers would decode other octets than the policy sees (BR-28): fail closed.
          fail_with(decision, media_error_reply("Message structure cannot be inspected"),
                    "base64 padding inside a group: decoders read it differently");
          return decision;
        }
        // Text readers show besides the decoded body goes into content.body too. A policy
        // that rewrites the body would write it back as content: that fails closed.
        auto also_scan = [&](const std::string& extra, const char* what) {
          if (extra.empty()) return true;
          if (policy.writes_body()) {
            fail_with(decision, media_error_reply("Message structure cannot be inspected"),
                      std::string(what) + " in a body the policy rewrites");
            return false;
          }
          body += "\r\n";
          body += extra;
          return true;
        };
        // Encoded parts whose Content-Transfer-Encoding some readers do not recognise
        // ("base64 " with a trailing space, folded) are shown raw by those readers (probe
        // round 23). Uuencoded and yEnc blocks in the text are attachments to mail readers:
        // their decoded octets (probe round 22).
        // Text parts in a charset that does not write ASCII as ASCII (UTF-16, UTF-7):
        // readers show their decoding (probe round 25).
        if (!also_scan(raw_text_shown_by_some(*structure),
                       "an encoded part some readers show raw") ||
            !also_scan(text_in_other_charsets(*structure, decoded),
                       "a text part in a charset that is not ASCII-compatible") ||
            !also_scan(inline_attachments(*structure, decoded), "uuencoded or yEnc data")) {
          return decision;
        }
        if (policy.writes_body()) original_body = body;
        attributes.insert_or_assign(std::string(attr::kContentBody), std::move(body));
      }
    }
  }

  int index = 0;
  for (const auto& filter : policy.filters()) {
    ++index;
    if (filter->when() && filter->when()->evaluate(attributes) == Truth::kFalse) continue;
    FilterOutcome outcome = filter->apply(state);
    if (outcome.passed) continue;
    SmtpReply reply = default_reply(command);
    if (policy.reply()) {
      reply.code = policy.reply()->code;
      reply.enhanced_code = policy.reply()->enhanced_code;
      std::string text =
          to_single_line(policy.reply_text().expand(attributes), max_reply_text(reply));
      if (!text.empty()) reply.text = std::move(text);
    }
    fail_with(decision, std::move(reply),
              "filter " + std::to_string(index) + " (" + std::string(filter->type()) +
                  "): " + outcome.reason);
    decision.failed_filter = index;
    break;
  }

  for (const auto& name : state.written) {
    if (name == attr::kSubjectPassword || name == attr::kContentBody) continue;
    if (auto it = attributes.find(name); it != attributes.end()) {
      decision.changes.insert_or_assign(name, it->second);
    }
  }

  if (structure && decision.verdict == Verdict::kContinue) {
    std::optional<std::string> new_body;
    if (policy.writes_body()) {
      const auto it = attributes.find(attr::kContentBody);
      if (it != attributes.end() && it->second != original_body) new_body = it->second;
    }
    const bool base64_text = structure->base64 &&
                             (structure->leaves.empty() || structure->leaves[0].text);
    if (new_body && (structure->quoted_printable || base64_text) &&
        has_lone_cr_or_lf(original_body)) {
      // "=0D" / "=0A" (or a base64 text that decodes to "a\rb\nc") hold a lone CR / LF,
      // and the changed text's line ends are made CRLF: the octets would come out as line
      // breaks the client never sent (BR-02, BR-28: no silent repair; probe rounds 30 and
      // 41). The policy's own "\n" cannot be told from them.
      fail_with(decision,
                media_error_reply(structure->quoted_printable
                                      ? "Changing this quoted-printable body is not supported"
                                      : "Changing this base64 text body is not supported"),
                std::string("content.body changed on a ") +
                    (structure->quoted_printable ? "quoted-printable" : "base64") +
                    " text part with encoded lone CR or LF octets, which the rewrite would "
                    "turn into line breaks");
    } else {
      // The policy's text is UTF-8; the octets it kept are in the part's charset
      // (fit_to_charset: converted, or the part relabelled utf-8).
      bool relabel_utf8 = false;
      if (new_body && !structure->multipart && structure->leaves.size() == 1 &&
          structure->leaves[0].text) {
        // No charset is US-ASCII (RFC 2046 §4.1.2). A body that is UTF-8 as a whole is
        // labelled so below (unlabelled_utf8); one whose kept octets are not UTF-8 gets
        // what an explicit us-ascii label gets: '?' for what it cannot hold (probe round
        // 42: raw UTF-8 next to a Latin-1 "é", under no label).
        std::string_view charset = structure->leaves[0].charset;
        if (charset.empty() && !common::is_valid_utf8(*new_body)) charset = "us-ascii";
        if (auto fit = fit_to_charset(original_body, *new_body, charset)) {
          new_body = std::move(fit->body);
          relabel_utf8 = fit->relabel_utf8;
        }
      }
      finish_message(decision, state, *structure, new_body, relabel_utf8, eight_bit_allowed,
                     *message);
    }
  }
  if (command == Command::kData) attributes.erase(std::string(attr::kContentBody));
  return decision;
}

}  // namespace gw::controlplane::policy
