// Iterative MIME structure walk, header field access and header block editing.
#include "controlplane/policy/mime_message.h"

#include <algorithm>
#include <optional>
#include <span>
#include <set>

#include <openssl/crypto.h>

#include "common/logging.h"
#include "common/printable_line.h"
#include "controlplane/policy/base64.h"
#include "controlplane/policy/charset.h"
#include "controlplane/policy/quoted_printable.h"

namespace gw::controlplane::policy {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_wsp(char c) { return c == ' ' || c == '\t'; }
// C's isspace() in the "C" locale, without the line ending octets (a bare CR never gets
// past the DATA reader): what some readers (Mozilla's libmime) trim around field names and
// boundary delimiters.
bool is_c_space(char c) { return is_wsp(c) || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_wsp(s.front()) || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (is_wsp(s.back()) || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// One line of `text` starting at `pos`: its content (without CR LF or LF) and the offset of
// the next line. `text` is already cut at the end of the region being scanned.
struct Line {
  std::string_view content;
  std::size_t next = 0;
};
Line line_at(std::string_view text, std::size_t pos) {
  const std::size_t nl = text.find('\n', pos);
  std::size_t end = nl == std::string_view::npos ? text.size() : nl;
  const std::size_t next = nl == std::string_view::npos ? text.size() : nl + 1;
  if (end > pos && nl != std::string_view::npos && text[end - 1] == '\r') --end;
  return {text.substr(pos, end - pos), next};
}

// The lines of a message that start with "--", the only ones that can be boundary
// delimiters (a line starts at 0 and after each LF), found in one pass over the message.
// Walking a multipart then costs the delimiter-like lines of its body, not its octets:
// nested multiparts walk their ranges again level by level, and with every line read at
// every level 20 levels around a 30 MB part cost 3 to 4 s of CPU per decision (probe round
// 30, BR-29). walk() also counts the lines it hands out against a budget, so that a body
// made of "--" lines nested deep is refused instead of costing depth x lines.
class DelimiterLines {
 public:
  /// Lines walked per delimiter-like line of the message, summed over every level, before
  /// the message is refused, plus kVisitSlack. A line is walked once per multipart level
  /// around it: mail nested 4 deep (a forwarded message with an alternative inside) stays
  /// within the budget whatever its size; 6 million "--x" lines (30 MB) cost about 0.15 s
  /// at one level and are refused after about 0.3 s at 20 (session 15, 2 vCPUs).
  static constexpr std::size_t kVisitsPerLine = 4;
  static constexpr std::size_t kVisitSlack = 65536;

  explicit DelimiterLines(std::string_view message) : message_(message) {
    if (message.substr(0, 2) == "--") starts_.push_back(0);
    // A plain loop: memchr or memmem per line costs more than it saves when lines are short.
    const char* data = message.data();
    for (std::size_t i = 0; i + 2 < message.size(); ++i) {
      if (data[i] == '\n' && data[i + 1] == '-' && data[i + 2] == '-') starts_.push_back(i + 1);
    }
    budget_ = kVisitsPerLine * starts_.size() + kVisitSlack;
  }

  /// Calls `visit(line_start)` for each delimiter-like line starting in [begin, end), in
  /// order, `begin` included when its text starts with "--" (a range always starts a line
  /// here); stops early when `visit` returns false. False once the budget is spent.
  template <typename Visit>
  bool walk(std::size_t begin, std::size_t end, Visit&& visit) {
    auto it = std::lower_bound(starts_.begin(), starts_.end(), begin);
    if (begin < end && (it == starts_.end() || *it != begin) &&
        message_.substr(begin, 2) == "--") {
      if (!spend()) return false;
      if (!visit(begin)) return true;
    }
    for (; it != starts_.end() && *it < end; ++it) {
      if (!spend()) return false;
      if (!visit(*it)) return true;
    }
    return true;
  }

 private:
  bool spend() {
    if (budget_ == 0) return false;
    --budget_;
    return true;
  }

  std::string_view message_;
  std::vector<std::size_t> starts_;
  std::size_t budget_ = 0;
};

constexpr std::string_view kTooCostly =
    "the MIME structure is too costly to inspect (delimiter-like lines nested too deep)";

// The field name of a header line that starts a field, or nullopt for a continuation
// line or a line without a colon.
std::optional<std::string_view> field_name(std::string_view line) {
  if (line.empty() || is_wsp(line.front())) return std::nullopt;
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view name = line.substr(0, colon);
  while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
  return name;
}

struct HeaderBlock {
  std::size_t end = 0;         // just past the last header line's line ending
  std::size_t body_begin = 0;  // just past the empty line
};

// How a header-block line reads: a field (RFC 5322 §3.6.8 ftext name, then ":"; an empty
// name too, as readers keep it), an mbox "From " line (readers skip it), a field with
// whitespace before its colon (obsolete syntax some readers take as a field and others as
// the start of the body), or none of these.
enum class HeaderLine { kField, kEnvelopeFrom, kSpaceBeforeColon, kOther };
HeaderLine classify_header_line(std::string_view line) {
  if (line.substr(0, 5) == "From ") return HeaderLine::kEnvelopeFrom;
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return HeaderLine::kOther;
  std::string_view name = line.substr(0, colon);
  auto ftext = [](char c) { return c > ' ' && c < 127; };
  if (std::all_of(name.begin(), name.end(), ftext)) return HeaderLine::kField;
  // C's isspace() set, as Mozilla's libmime trims field names with it: a VT or FF before
  // the colon is whitespace there too (probe round 22).
  while (!name.empty() && is_c_space(name.back())) name.remove_suffix(1);
  if (!name.empty() && std::all_of(name.begin(), name.end(), ftext)) {
    return HeaderLine::kSpaceBeforeColon;
  }
  return HeaderLine::kOther;
}

// Finds the header block of the entity [begin, end) of `message`. It ends at the empty
// line, or — a missing separator, as readers take it — at the first line that is neither
// a header field nor a continuation: that line starts the body, so text there is content
// the policy sees, never part of a header block it skips (BR-25, BR-27). `defects` counts
// such a missing separator. Unless header fields follow that line before an empty line:
// then readers disagree on where the header ends, and that is an error (fail closed).
Result<HeaderBlock, std::string> header_block(std::string_view message, std::size_t begin,
                                              std::size_t end, std::size_t max_octets,
                                              std::size_t* defects) {
  using boost::outcome_v2::failure;
  const std::string_view region = message.substr(0, end);
  std::size_t pos = begin;
  while (pos < end) {
    const Line line = line_at(region, pos);
    if (line.content.empty() && line.next > pos) return HeaderBlock{pos, line.next};
    // A first line that starts with whitespace continues no field: readers skip it and go on
    // reading fields (as a later Received: field on top would make it a continuation).
    const bool continuation = is_wsp(line.content.front());
    if (continuation && pos == begin) ++*defects;
    if (!continuation) {
      switch (classify_header_line(line.content)) {
        case HeaderLine::kField:
          break;
        case HeaderLine::kEnvelopeFrom:
          // An mbox "From " line: readers skip it on top of the message and in the middle
          // of a header block, but Python's email package takes one that ends a header
          // block as the first body line (probe round 23: the policy never saw text the
          // reader showed), so that one fails closed.
          if (pos != 0) {
            const Line after = line_at(region, line.next);
            if (line.next >= end || after.content.empty()) {
              return failure("an mbox \"From \" line ending a header block (readers differ)");
            }
          }
          ++*defects;
          break;
        case HeaderLine::kSpaceBeforeColon:
          return failure("a header field with whitespace before its colon (readers differ)");
        case HeaderLine::kOther: {
          // Readers differ here: most take this line as the start of the body, others
          // (Mozilla's libmime) read header fields on until the empty line. When fields
          // follow before an empty line, the two see different Content-Transfer-Encodings
          // and header sets: fail closed (BR-25; probe round 20, where "x\r\n" above a
          // "Content-Transfer-Encoding: base64" hid the base64 from body_match and kept a
          // field remove_header was meant to remove).
          bool own_continuation = true;  // still on continuation lines of this line
          for (std::size_t next = line.next; next < end;) {
            const Line after = line_at(region, next);
            if (after.content.empty()) break;
            own_continuation = own_continuation && is_wsp(after.content.front());
            // Readers that unfold before they look for the colon ("Content-Type" CRLF
            // " : multipart/mixed; ...") read a field here (probe round 22).
            if (own_continuation && after.content.find(':') != std::string_view::npos) {
              return failure(
                  "a header block line without a colon continued by a line with one "
                  "(readers differ)");
            }
            if (!is_wsp(after.content.front()) &&
                classify_header_line(after.content) != HeaderLine::kOther) {
              return failure(
                  "a header block line that is no header field, with fields after it "
                  "(readers differ)");
            }
            if (after.next - begin > max_octets) {
              return failure("a MIME header block is larger than " +
                             std::to_string(max_octets) + " octets");
            }
            next = after.next;
          }
          ++*defects;
          return HeaderBlock{pos, pos};
        }
      }
    }
    if (line.next - begin > max_octets) {
      return failure("a MIME header block is larger than " + std::to_string(max_octets) +
                     " octets");
    }
    pos = line.next;
  }
  return HeaderBlock{end, end};
}

bool only_wsp(std::string_view s) { return std::all_of(s.begin(), s.end(), is_wsp); }

struct Range {
  std::size_t begin = 0;
  std::size_t end = 0;
};

// The body parts of a multipart, and whether any delimiter line was found at all.
struct Split {
  std::vector<Range> parts;
  bool delimiter_seen = false;  // a delimiter or close delimiter line
  bool opened = false;          // a (non-close) delimiter line: a part began
};

// Splits the multipart body [begin, end) at its boundary delimiters. `parts` counts the
// body parts of the whole message and is checked against `max_parts` as parts are found,
// so a part explosion stops early.
Result<Split, std::string> split_multipart(std::string_view message, std::size_t begin,
                                           std::size_t end, std::string_view boundary,
                                           DelimiterLines& lines, std::size_t* parts,
                                           std::size_t max_parts, std::size_t* defects) {
  using boost::outcome_v2::failure;
  const std::string delimiter = "--" + std::string(boundary);
  const std::string_view region = message.substr(0, end);
  std::vector<Range> out;
  bool in_part = false, seen = false, closed = false, opened = false;
  std::size_t part_begin = 0;
  std::optional<std::string> error;
  // Only lines starting with "--" can be delimiters; the others are part content.
  const bool walked = lines.walk(begin, end, [&](std::size_t pos) {
    const Line line = line_at(region, pos);
    if (line.content.size() >= delimiter.size() &&
        line.content.substr(0, delimiter.size()) == delimiter) {
      std::string_view rest = line.content.substr(delimiter.size());
      const bool close = rest.substr(0, 2) == "--";
      if (close) rest.remove_prefix(2);
      if (!only_wsp(rest) && std::all_of(rest.begin(), rest.end(), is_c_space)) {
        // "--b" then a VT or FF: a delimiter for readers that trim C's isspace() set
        // (Mozilla's libmime), body text for the others (probe round 22).
        error = "a boundary delimiter line ends in a control whitespace octet (readers differ)";
        return false;
      }
      if (closed && !close && only_wsp(rest)) {
        // A part opened after the close delimiter (premature close, BR-27): RFC 2046 makes
        // it epilogue, yet readers that keep reading show it as an attachment. What the
        // policy would not see may not pass: fail closed (probe round 16).
        error = "a multipart has a delimiter line after its close delimiter";
        return false;
      }
      if (!closed && only_wsp(rest)) {
        seen = true;
        if (in_part) {
          // The line ending before the delimiter belongs to the delimiter (RFC 2046 §5.1.1).
          std::size_t part_end = pos;
          if (part_end >= 2 && message[part_end - 2] == '\r' && message[part_end - 1] == '\n') {
            part_end -= 2;
          } else if (part_end >= 1 && message[part_end - 1] == '\n') {
            part_end -= 1;
          }
          out.push_back({part_begin, std::max(part_begin, part_end)});
          in_part = false;
        }
        if (close) {  // the epilogue is not content, but is still looked at (above)
          closed = true;
          return true;
        }
        if (++*parts > max_parts) {
          error = "the message has more than " + std::to_string(max_parts) + " MIME parts";
          return false;
        }
        in_part = true;
        opened = true;
        part_begin = line.next;
      }
    }
    return true;
  });
  if (error) return failure(std::move(*error));
  if (!walked) return failure(std::string(kTooCostly));
  if (in_part) {
    out.push_back({part_begin, end});  // no close delimiter: the last part runs to the end
    ++*defects;
  } else if (!seen) {
    ++*defects;  // no delimiter at all: the body is preamble only
  }
  if (seen && !opened) ++*defects;  // only a close delimiter: no part ever began
  return Split{std::move(out), seen, opened};
}

// RFC 2046 §5.1.1 bchars: what a boundary may consist of.
bool is_bchar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

// True if every line of [begin, end) is blank or the close delimiter of `boundary`.
bool only_close_delimiters(std::string_view message, std::size_t begin, std::size_t end,
                           std::string_view boundary) {
  const std::string_view region = message.substr(0, end);
  const std::string close = "--" + std::string(boundary) + "--";
  for (std::size_t pos = begin; pos < end;) {
    const Line line = line_at(region, pos);
    pos = line.next;
    std::string_view rest = line.content;
    if (rest.substr(0, close.size()) == close) rest.remove_prefix(close.size());
    if (!only_wsp(rest)) return false;
  }
  return true;
}

// True if [begin, end) has a line that is a boundary delimiter for *some* boundary: "--",
// then 1 to 70 bchars not ending in a space, then optionally "--", then only whitespace.
// True also when the walk ran out of budget (the caller refuses the message either way).
bool has_delimiter_like_line(std::string_view message, std::size_t begin, std::size_t end,
                             DelimiterLines& lines) {
  const std::string_view region = message.substr(0, end);
  bool found = false;
  const bool walked = lines.walk(begin, end, [&](std::size_t pos) {
    std::string_view rest = line_at(region, pos).content;
    if (rest.substr(0, 2) != "--") return true;
    rest.remove_prefix(2);
    while (!rest.empty() && is_wsp(rest.back())) rest.remove_suffix(1);
    if (rest.size() > 2 && rest.substr(rest.size() - 2) == "--") rest.remove_suffix(2);
    while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
    found = !rest.empty() && rest.size() <= 70 && std::all_of(rest.begin(), rest.end(), is_bchar);
    return !found;
  });
  return found || !walked;
}

// RFC 2231 §4: %XX escapes of an extended parameter value (an invalid escape stays as is).
std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int high = OPENSSL_hexchar2int(static_cast<unsigned char>(text[i + 1]));
      const int low = OPENSSL_hexchar2int(static_cast<unsigned char>(text[i + 2]));
      if (high >= 0 && low >= 0) {
        out += static_cast<char>(high * 16 + low);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

// How many consecutive sections "base*0", "base*1"… (plain or extended) there are.
std::size_t joined_sections(const std::map<std::string, std::string>& parameters,
                            const std::string& base) {
  std::size_t n = 0;
  while (n < 1000 && (parameters.count(base + "*" + std::to_string(n)) ||
                      parameters.count(base + "*" + std::to_string(n) + "*"))) {
    ++n;
  }
  return n;
}

// RFC 2231 §3–§4: joins "name*0", "name*1"… (and decodes "name*" / "name*N*" extended
// sections, dropping the charset'language' prefix of the first) into "name". A value so
// given replaces a plain "name" parameter, as mail readers do, so that the gateway walks
// the structure the recipient's reader will show (BR-25).
void join_rfc2231(std::map<std::string, std::string>& parameters,
                  std::set<std::string>& ambiguous) {
  std::map<std::string, std::string> joined;
  // Each base name is looked at once, and its section count is computed once: with a
  // section list that has a gap (no "*0") nothing is joined, and redoing the work for
  // every one of up to 1000 sections of several names made one header cost O(sections²)
  // lookups: about 0.5 s of CPU per 54 KB header (probe round 14).
  std::set<std::string> seen;
  for (const auto& [name, value] : parameters) {
    const auto star = name.find('*');
    if (star == std::string::npos || star == 0) continue;
    const std::string base = name.substr(0, star);
    if (!seen.insert(base).second) continue;
    // Readers differ on extended values that are not plain RFC 2231: a first section
    // without its charset'language' prefix or with a charset that is not ASCII-compatible
    // (utf-7), a "'" in a later section or in a plain section next to extended ones.
    bool any_extended = false;
    auto extended_value = [&](std::string_view v, bool first) {
      any_extended = true;
      if (first) {  // charset'language'value
        const auto q1 = v.find('\'');
        const auto q2 = q1 == std::string_view::npos ? q1 : v.find('\'', q1 + 1);
        if (q2 == std::string_view::npos) {
          ambiguous.insert(base);
        } else {
          const std::string charset = lowercase(v.substr(0, q1));
          if (!charset.empty() && charset != "us-ascii" && charset != "utf-8" &&
              charset.rfind("iso-8859-", 0) != 0) {
            ambiguous.insert(base);
          }
          v.remove_prefix(q2 + 1);
        }
      }
      if (v.find('\'') != std::string_view::npos) ambiguous.insert(base);
      return percent_decode(v);
    };
    bool plain_tick = false;
    if (name == base + "*") {
      if (parameters.count(base + "*0") || parameters.count(base + "*0*")) ambiguous.insert(base);
      joined[base] = extended_value(value, true);
      continue;
    }
    std::string out;
    bool any = false;
    for (int n = 0; n < 1000; ++n) {
      const std::string plain = base + "*" + std::to_string(n);
      if (auto it = parameters.find(plain); it != parameters.end()) {
        if (it->second.find('\'') != std::string::npos) plain_tick = true;
        out += it->second;
      } else if (auto ext = parameters.find(plain + "*"); ext != parameters.end()) {
        out += extended_value(ext->second, n == 0);
      } else {
        break;
      }
      any = true;
    }
    if (any) joined[base] = std::move(out);
    if (plain_tick && any_extended) ambiguous.insert(base);
    // A section past a gap ("*0", "*2"), or both "*N" and "*N*", is read differently by
    // different readers (some join it, some stop): ambiguous.
    const std::string prefix = base + "*";
    const std::size_t sections = joined_sections(parameters, base);
    for (auto it = parameters.lower_bound(prefix);
         it != parameters.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      std::string index = it->first.substr(prefix.size());
      const bool extended = !index.empty() && index.back() == '*';
      if (extended) index.pop_back();
      if (index.empty() ||
          !std::all_of(index.begin(), index.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        continue;
      }
      // Python reads any digits as a section number ("*00", "*0000" are section 0).
      const std::string other = prefix + index + (extended ? "" : "*");
      if (index.size() > 3 || static_cast<std::size_t>(std::stoi(index)) >= sections ||
          parameters.count(other)) {
        ambiguous.insert(base);
      }
    }
  }
  for (auto& [base, value] : joined) {
    if (parameters.count(base)) ambiguous.insert(base);  // a plain one too: readers differ
    parameters[base] = std::move(value);
  }
}

}  // namespace

namespace {

// True if the first field named `name` is one line whose value, after the whitespace that
// follows the colon, has no trailing whitespace: how Python's email package (compat32)
// reads a value it compares as is (it strips the leading whitespace and the line break,
// nothing else, and keeps continuation lines).
bool plain_single_line_field(std::string_view header_block, std::string_view name) {
  for (std::size_t pos = 0; pos < header_block.size();) {
    const Line line = line_at(header_block, pos);
    pos = line.next;
    const auto field = field_name(line.content);
    if (!field || !iequals(*field, name)) continue;
    const std::string_view value = line.content.substr(line.content.find(':') + 1);
    const bool continued = pos < header_block.size() &&
                           !line_at(header_block, pos).content.empty() &&
                           is_wsp(line_at(header_block, pos).content.front());
    return !continued && (value.empty() || !is_wsp(value.back()));
  }
  return true;
}

// How many fields named `name` (case-insensitive) the block has.
std::size_t count_fields(std::string_view header_block, std::string_view name) {
  std::size_t count = 0;
  for (std::size_t pos = 0; pos < header_block.size();) {
    const Line line = line_at(header_block, pos);
    pos = line.next;
    const auto field = field_name(line.content);
    if (field && iequals(*field, name)) ++count;
  }
  return count;
}

}  // namespace

namespace {

// The value of the first field `name` of `header_block`, unfolded: the line breaks of its
// continuation lines dropped (their whitespace kept) and `fold` put in their place.
std::optional<std::string> field_value(std::string_view header_block, std::string_view name,
                                       std::string_view fold) {
  std::size_t pos = 0;
  while (pos < header_block.size()) {
    const Line line = line_at(header_block, pos);
    pos = line.next;
    const auto field = field_name(line.content);
    if (!field || !iequals(*field, name)) continue;
    std::string value(line.content.substr(line.content.find(':') + 1));
    while (pos < header_block.size()) {
      const Line more = line_at(header_block, pos);
      if (more.content.empty() || !is_wsp(more.content.front())) break;
      value += fold;
      value += more.content;
      pos = more.next;
    }
    return value;
  }
  return std::nullopt;
}

// True if field `name` of `header_block` is folded inside a quoted string: Python's
// compat32 keeps the line break in the value, other readers unfold it (probe round 26).
bool folded_inside_quotes(std::string_view header_block, std::string_view name) {
  const auto value = field_value(header_block, name, "\n");
  if (!value) return false;
  bool quoted = false;
  for (std::size_t i = 0; i < value->size(); ++i) {
    const char c = (*value)[i];
    if (c == '\\' && quoted) {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == '\n' && quoted) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::optional<std::string> find_header(std::string_view header_block, std::string_view name) {
  auto value = field_value(header_block, name, "");
  if (!value) return std::nullopt;
  return std::string(trim(*value));
}

std::string strip_comments(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool quoted = false;
  int depth = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (quoted) {
      out += c;
      if (c == '\\' && i + 1 < value.size()) {
        out += value[++i];
      } else if (c == '"') {
        quoted = false;
      }
    } else if (depth > 0) {
      if (c == '\\') {
        ++i;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')') {
        --depth;
      }
    } else if (c == '"') {
      quoted = true;
      out += c;
    } else if (c == '(') {
      depth = 1;
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

// True if a comment of `value` (outside quoted strings) holds a '"' or a '\\'.
bool comment_holds_quote(std::string_view value) {
  bool quoted = false;
  int depth = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (depth > 0) {
      if (c == '"' || c == '\\') return true;
      if (c == '(') ++depth;
      if (c == ')') --depth;
    } else if (c == '"') {
      quoted = true;
    } else if (c == '(') {
      depth = 1;
    }
  }
  return false;
}

// A read position in a header field value, with the two scanning steps both the type and
// the parameter parsers need.
struct Cursor {
  std::string_view v;
  std::size_t pos = 0;
  void skip_wsp() {
    while (pos < v.size() && (is_wsp(v[pos]) || v[pos] == '\r' || v[pos] == '\n')) ++pos;
  }
  // Up to whitespace or one of `stops`.
  std::string_view token(std::string_view stops) {
    const std::size_t start = pos;
    while (pos < v.size() && stops.find(v[pos]) == std::string_view::npos && !is_wsp(v[pos])) {
      ++pos;
    }
    return v.substr(start, pos - start);
  }
};

// The parameters after the first ";" of a Content-Type value, as name (lowercased) ->
// value (unquoted). A name given twice, or a value followed by anything but ";" (junk after
// a quoted string), goes to `ambiguous` (its part before any "*").
void parse_parameters(std::string_view v, std::size_t start,
                      std::map<std::string, std::string>& parameters,
                      std::set<std::string>& ambiguous) {
  Cursor c{v, start};
  std::size_t& pos = c.pos;
  auto skip_wsp = [&] { c.skip_wsp(); };
  auto token = [&](std::string_view stops) { return c.token(stops); };
  // A list that readers tokenise differently: a quote, backslash or other tspecial in a
  // parameter name, a quoted string without its closing quote, a quoted-pair anywhere.
  // Python's email package counts quotes naively, others honour quoted-pairs; each finds
  // a different boundary (probe round 22: boundary="b, x"=";boundary=b!;", x="a\\").
  // The boundary (what the gateway walks) and the charset (what it decodes) are marked
  // ambiguous: a stray quote can make a reader read "charset=utf-16" where the gateway read
  // "charset=us-ascii" (probe round 33: x=a"; charset=us-ascii; y="; charset=utf-16).
  bool odd_list = false;
  while (pos < v.size()) {
    const auto semicolon = v.find(';', pos);
    if (semicolon == std::string_view::npos) break;
    pos = semicolon + 1;
    skip_wsp();
    const std::string name = lowercase(trim(token("=;")));
    if (name.find_first_of("\"()<>@,;:\\/[]?") != std::string::npos) odd_list = true;
    skip_wsp();
    if (pos >= v.size() || v[pos] != '=') continue;
    ++pos;
    skip_wsp();
    std::string value;
    const bool quoted = pos < v.size() && v[pos] == '"';
    if (quoted) {
      ++pos;
      bool quoted_pair = false;
      while (pos < v.size() && v[pos] != '"') {
        if (v[pos] == '\\' && pos + 1 < v.size()) {
          ++pos;
          quoted_pair = true;
        }
        value += v[pos++];
      }
      if (pos < v.size()) {
        ++pos;  // closing quote
      } else {
        odd_list = true;  // boundary="b: readers take "b, b, or nothing
      }
      // Some readers keep the backslash of a quoted-pair ("a\b" read as a\b, not ab).
      if (quoted_pair && !name.empty()) ambiguous.insert(name.substr(0, name.find('*')));
      if (quoted_pair) odd_list = true;
    } else {
      value = std::string(token(";"));
      // A quote or backslash inside a token: readers that count quotes naively take it as
      // the start of a quoted string that swallows the parameters after it.
      if (value.find_first_of("\"\\") != std::string::npos) odd_list = true;
    }
    if (name.empty()) continue;
    const std::string base = name.substr(0, name.find('*'));
    // RFC 2045 §5.1: an unquoted value is a token. A tspecial in it ("boundary=a/b",
    // "boundary==b") ends the value early for Python's email package ("a", or nothing),
    // while a lenient reader takes it whole: they split the body at different lines, so
    // such a value is ambiguous (probe round 25). A "'" too: "boundary='b'" is dropped
    // by Python, kept by others (RFC 2231's charset'language' marker).
    if (!quoted && !std::all_of(value.begin(), value.end(), [](char ch) {
          return ch > ' ' && ch < 127 && ch != '\'' &&
                 std::string_view("()<>@,;:\\\"/[]?=").find(ch) == std::string_view::npos;
        })) {
      // RFC 2231 extended values (name*=charset'lang'%XX) are checked by join_rfc2231.
      if (name.back() != '*') ambiguous.insert(base);
    }
    skip_wsp();
    if (pos < v.size() && v[pos] != ';') ambiguous.insert(base);  // boundary="b"c
    if (!parameters.emplace(name, std::move(value)).second) ambiguous.insert(base);
  }
  if (odd_list) {
    ambiguous.insert("boundary");
    // The charset only when the list names one somewhere (it may hide in what the gateway
    // took for another parameter's value).
    if (lowercase(v.substr(start)).find("charset") != std::string::npos) {
      ambiguous.insert("charset");
    }
  }
}

}  // namespace

namespace {

// RFC 2045 §5.1 token: printable ASCII without space and tspecials.
bool is_token_char(char c) {
  return c > ' ' && c < 127 && std::string_view("()<>@,;:\\\"/[]?=").find(c) == std::string_view::npos;
}

// A control octet (C0 but HTAB, or DEL) in a field value: readers strip some of them as
// whitespace (Python's str.strip() takes VT, FF and 0x1C..0x1F; libmime C's isspace()) and
// keep others, so "Content-Type: <VT>multipart/mixed" is a multipart to one reader and an
// unknown leaf to another (probe round 23).
bool has_control_octet(std::string_view value) {
  return std::any_of(value.begin(), value.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

}  // namespace

std::optional<std::string> content_type_problem(std::string_view value) {
  if (has_control_octet(value)) {
    return "a control octet in a Content-Type field (readers would take it differently)";
  }
  std::string_view media = trim(value.substr(0, value.find(';')));
  // Python's email package decodes an RFC 2047 encoded word here and finds a multipart
  // ("=?us-ascii?q?multipart/mixed?="), others see an unknown type (probe round 23).
  if (media.find("=?") != std::string_view::npos) {
    return "an encoded word in a Content-Type media type (readers would take it differently)";
  }
  if (media.empty()) return std::nullopt;  // no type: the default (RFC 2045 §5.2)
  // Python's email package splits the raw value at ";" and needs exactly one "/" before it,
  // comments included: "multipart/mixed (a/b)" is text/plain to it and shows the whole
  // body, a multipart to readers that strip the comment (probe round 26).
  const std::string lowered_media = lowercase(media);
  if (std::count(media.begin(), media.end(), '/') != 1 &&
      (lowered_media.find("multipart") != std::string::npos ||
       lowered_media.find("message") != std::string::npos)) {
    return "a multipart or message Content-Type with more than one \"/\" (readers would take "
           "it differently)";
  }
  // token "/" token, then nothing but comments: every reader takes that type ("multipart/
  // mixed (x)" is a multipart to Python's email package and to readers that strip it).
  std::size_t at = 0;
  while (at < media.size() && is_token_char(media[at])) ++at;
  const std::size_t type_end = at;
  if (type_end > 0 && at < media.size() && media[at] == '/') {
    ++at;
    const std::size_t subtype_begin = at;
    while (at < media.size() && is_token_char(media[at])) ++at;
    const std::string rest = strip_comments(media.substr(at));
    if (at > subtype_begin && std::all_of(rest.begin(), rest.end(), is_wsp)) return std::nullopt;
  }
  // Not "type/subtype": RFC 2045 §5.2 makes it text/plain, and Python's email package
  // shows the whole body as text; a reader that strips the comment or the space
  // ("(c)multipart/mixed", "multipart /mixed") or guesses a subtype ("multipart") splits
  // it into parts instead. The gateway cannot know which: a would-be container fails
  // closed, anything else is a leaf like text/plain (probe round 23).
  const std::string lowered = lowercase(media);
  if (lowered.find("multipart") != std::string::npos ||
      lowered.find("message") != std::string::npos) {
    return "a multipart or message Content-Type that is not type/subtype (readers would "
           "take it differently)";
  }
  return std::nullopt;
}

std::optional<std::string> transfer_encoding_problem(std::string_view value) {
  // RFC 2045 §6.1: a bare token. Python's email package takes a quoted one ("base64"), a
  // comment (base64 (c)) or an encoded word for an unknown mechanism and shows the raw
  // text, while other readers strip them and decode: what the policy would inspect is not
  // what every recipient sees (probe round 23; before it the gateway decoded a quoted one).
  if (has_control_octet(value)) {
    return "a control octet in a Content-Transfer-Encoding field (readers would take it "
           "differently)";
  }
  if (value.find_first_of("\"()") != std::string_view::npos ||
      value.find("=?") != std::string_view::npos) {
    return "a quoted, commented or encoded Content-Transfer-Encoding (readers would take it "
           "differently)";
  }
  return std::nullopt;
}

ContentType parse_content_type(std::string_view raw) {
  const std::string stripped = strip_comments(raw);
  const std::string_view v = stripped;
  ContentType ct;
  Cursor c{v, 0};
  std::size_t& pos = c.pos;
  auto skip_wsp = [&] { c.skip_wsp(); };
  auto token = [&](std::string_view stops) { return c.token(stops); };
  skip_wsp();
  ct.type = lowercase(token("/;"));
  skip_wsp();
  if (pos < v.size() && v[pos] == '/') {
    ++pos;
    skip_wsp();
    ct.subtype = lowercase(token(";"));
  }
  parse_parameters(v, pos, ct.parameters, ct.ambiguous);
  // Readers that do not strip comments inside parameters (boundary=(c)b) read another
  // value: a parameter whose value a comment changed is ambiguous.
  if (stripped != raw) {
    std::map<std::string, std::string> literal;
    std::set<std::string> literal_ambiguous;
    const auto first = raw.find(';');
    if (first != std::string_view::npos) parse_parameters(raw, first, literal, literal_ambiguous);
    for (const auto& [name, value] : ct.parameters) {
      auto it = literal.find(name);
      if (it == literal.end() || it->second != value) {
        ct.ambiguous.insert(name.substr(0, name.find('*')));
      }
    }
    // The same value both ways, but the literal reading has junk after it: Python's email
    // package takes 'boundary="b" (c)' as the boundary '"b" (c)' and finds the parts the
    // gateway would miss (probe round 30). Only the boundary: a comment after a charset is
    // RFC 2045 §5.1's own example ("charset=us-ascii (Plain text)").
    if (literal_ambiguous.count("boundary")) ct.ambiguous.insert("boundary");
    // A quote or backslash inside a comment: readers that do not know comments count it as
    // the start of a quoted string, which then swallows "; boundary=..." (Python's email
    // package: no boundary, the whole body is text), while the gateway splits the body.
    if (comment_holds_quote(raw)) ct.ambiguous.insert("boundary");
  }
  join_rfc2231(ct.parameters, ct.ambiguous);
  return ct;
}

Result<MimeStructure, std::string> parse_mime(std::string_view message, const MimeLimits& limits) {
  using boost::outcome_v2::failure;
  // The boundaries of the multiparts enclosing an entity, as a chain of indexes into
  // `scopes` (kNoScope: none).
  struct Scope {
    std::string boundary;
    std::size_t parent;
  };
  constexpr std::size_t kNoScope = static_cast<std::size_t>(-1);
  struct Entity {
    std::size_t begin;
    std::size_t end;
    std::size_t depth;
    bool digest_part;   // a part of a multipart/digest (default type message/rfc822)
    std::size_t scope;  // the innermost enclosing multipart's Scope, or kNoScope
  };
  MimeStructure result;
  std::optional<DelimiterLines> delimiter_lines;  // built at the first multipart
  std::vector<Scope> scopes;
  std::vector<Entity> stack{{0, message.size(), 0, false, kNoScope}};
  bool top = true;
  while (!stack.empty()) {
    const Entity e = stack.back();
    stack.pop_back();
    auto block = header_block(message, e.begin, e.end, limits.max_header_block, &result.defects);
    if (!block) return failure(block.error());
    const std::string_view headers = message.substr(e.begin, block.value().end - e.begin);
    const std::size_t body_begin = block.value().body_begin;
    // A part with two Content-Type or two Content-Transfer-Encoding fields: readers take
    // the first or the last (RFC 2045 allows one of each), so what the policy would inspect
    // is not what every recipient sees (BR-25 principle; probe round 12).
    for (std::string_view field : {"Content-Type", "Content-Transfer-Encoding"}) {
      if (count_fields(headers, field) > 1) {
        return failure("a MIME entity with more than one " + std::string(field) +
                       " field (readers would take different ones)");
      }
    }
    const auto content_type = find_header(headers, "Content-Type");
    const auto cte = find_header(headers, "Content-Transfer-Encoding");
    if (content_type) {
      if (auto problem = content_type_problem(*content_type)) return failure(*problem);
    }
    if (cte) {
      if (auto problem = transfer_encoding_problem(*cte)) return failure(*problem);
    }
    ContentType ct;
    if (content_type) ct = parse_content_type(*content_type);
    bool base64 = false;
    bool quoted_printable = false;
    bool eight_bit = false;
    if (cte) {
      // A bare token (transfer_encoding_problem refused quotes, comments, encoded words).
      const std::string mechanism = lowercase(trim(*cte));
      base64 = mechanism == "base64";
      quoted_printable = mechanism == "quoted-printable";
      eight_bit = mechanism == "8bit" || mechanism == "binary";
      // RFC 2045 §6.1: five mechanisms (and x-tokens, which only some readers decode:
      // x-uuencode). Anything else ("base64;", "x-uuencode", "8-bit") one reader decodes
      // as the mechanism it resembles while the gateway would scan the raw text: the
      // policy would not see what the recipient opens (BR-28 kind, probe round 14).
      if (!mechanism.empty() && !base64 && !quoted_printable && !eight_bit && mechanism != "7bit") {
        return failure("a MIME entity with an unknown Content-Transfer-Encoding (readers "
                       "would decode it differently)");
      }
    }
    // RFC 2046 §5.1.1: a boundary never ends in a space; readers drop trailing ones (a
    // leading space is allowed and kept).
    std::string boundary;
    if (auto it = ct.parameters.find("boundary"); it != ct.parameters.end()) {
      std::string_view b = it->second;
      while (!b.empty() && is_wsp(b.back())) b.remove_suffix(1);
      boundary = std::string(b);
    }
    const bool multipart = ct.type == "multipart";
    if (multipart && boundary.empty() && ct.parameters.count("boundary") > 0) {
      // boundary="": readers split at every "--" line, or take none (probe round 22).
      return failure("an empty multipart boundary (readers would take it differently)");
    }
    const std::size_t word_start = boundary.find("=?");
    if (multipart && (!std::all_of(boundary.begin(), boundary.end(), is_bchar) ||
                      (word_start != std::string::npos &&
                       boundary.find("?=", word_start + 2) != std::string::npos))) {
      // Octets outside bchars (readers strip, keep or decode them differently: "<b>",
      // control octets) or an encoded word anywhere in it ("=?us-ascii?q?b?=", "a
      // =?us-ascii?q?b?="): Python's email package decodes one even inside a quoted
      // string, which RFC 2047 §5 forbids, and others keep it (probe rounds 22 and 25).
      return failure("multipart boundary readers would take differently");
    }
    // RFC 2045 §6.4: a multipart is never base64 or quoted-printable encoded. Some readers
    // decode it anyway and split what they decoded (mail from some SAP systems is like
    // this), others show the encoded text; the gateway would find no delimiter in the raw
    // body and scan the encoded text once, missing the attachments inside (probe round 14).
    if (multipart && (base64 || quoted_printable)) {
      return failure("a multipart entity with a base64 or quoted-printable encoding "
                     "(readers would take it differently)");
    }
    if (multipart && folded_inside_quotes(headers, "Content-Type")) {
      return failure("a multipart Content-Type folded inside a quoted string (readers would "
                     "take the boundary differently)");
    }
    if (multipart && ct.ambiguous.count("boundary")) {
      // Readers would split this body at different lines: its structure cannot be
      // determined, so it is not passed uninspected (BR-25).
      return failure("ambiguous multipart boundary parameter (readers would take it differently)");
    }
    const bool top_entity = top;
    if (top) {
      result.header_end = block.value().end;
      result.body_begin = body_begin;
      result.multipart = multipart;
      result.base64 = !multipart && base64;
      result.quoted_printable = !multipart && quoted_printable;
      result.eight_bit = !multipart && eight_bit;
      top = false;
    }
    // An attached message (RFC 2046 §5.2.1; message/global, RFC 6532 §3.7) is an entity
    // of its own: walked like the top one, so an attachment inside it is seen too.
    // Every message/* type, the top-level entity too, and a part of a multipart/digest
    // without a Content-Type (its default is message/rfc822, RFC 2046 §5.1.5).
    // message/partial is a fragment some readers reassemble or open as a message: what the
    // policy would see is not what they show, so it fails closed (probe round 22).
    // message/external-body is walked like an attached message: its body is the external
    // body's header fields, and Python's email package parses whatever follows them as a
    // message, attachments included (probe round 22).
    if (ct.type == "message" && ct.subtype == "partial") {
      return failure("a message/partial fragment (readers may reassemble or open it)");
    }
    // The digest default applies to a part without a Content-Type field only: a field that
    // is present but has no valid type ("Content-Type:", "Content-Type: (c)") makes the
    // part text/plain (RFC 2045 §5.2), as Python's email package reads it; taking it for
    // an attached message would skip its first block as header fields (probe round 25).
    // Report bodies (RFC 3464 message/delivery-status, RFC 8098 disposition-notification,
    // their RFC 6533 global forms) are fields, not a message: Python shows them as text,
    // the first block included, so they are one leaf scanned whole (probe round 26).
    const bool report_fields =
        ct.type == "message" &&
        (ct.subtype == "delivery-status" || ct.subtype == "disposition-notification" ||
         ct.subtype == "global-delivery-status" || ct.subtype == "global-disposition-notification");
    const bool message_type =
        (ct.type == "message" && !report_fields) || (!content_type && e.digest_part);
    // RFC 2046 §5.2.1: an attached message is never base64 or quoted-printable encoded
    // (message/global may be, RFC 6532 §3.5). Some readers decode it and open the message
    // inside, others show it as text; the gateway would scan the encoded text and miss the
    // attachments inside (probe round 12), so it fails closed.
    if (message_type && (base64 || quoted_printable)) {
      return failure("an attached message with a base64 or quoted-printable encoding "
                     "(readers would take it differently)");
    }
    const bool encapsulated = !multipart && !base64 && message_type;
    if (encapsulated && top_entity) result.multipart = true;  // a container: no body rewrite
    if (encapsulated) {
      if (e.depth >= limits.max_depth) {
        return failure("MIME entities are nested deeper than " +
                       std::to_string(limits.max_depth) + " levels");
      }
      stack.push_back({body_begin, e.end, e.depth + 1, false, e.scope});
      continue;
    }
    if (!multipart) {
      // Python's email package reads a part as text/plain, with its charset parameter,
      // when the type is text or not one token "/" token ("foo", "x/y/z"; probe round 26).
      const bool text_like =
          ct.type == "text" || ct.type.empty() || ct.subtype.empty() ||
          !std::all_of(ct.subtype.begin(), ct.subtype.end(), is_token_char);
      std::string charset;
      // Readers that take a different charset (a comma or fold after the value, an RFC
      // 2231 gap or section numbers Python reads and the gateway does not, "charset*00=",
      // "charset*1*="; an encoded word Python decodes) decode other text than the gateway,
      // whether or not the gateway found a charset (probe round 33).
      if (text_like && ct.ambiguous.count("charset")) {
        return failure("an ambiguous charset parameter on a text part (readers would take "
                       "it differently)");
      }
      if (auto it = ct.parameters.find("charset"); text_like && it != ct.parameters.end()) {
        charset = it->second;
        if (charset.find("=?") != std::string::npos) {
          return failure("an ambiguous charset parameter on a text part (readers would take "
                         "it differently)");
        }
        if (plan_charset(charset).reading == CharsetPlan::Reading::kUndecodable) {
          return failure("a text part in a charset the gateway cannot decode (" +
                         common::log_escape(charset, 40) + ")");
        }
      }
      result.leaves.push_back({message.substr(body_begin, e.end - body_begin), base64,
                               quoted_printable,
                               (base64 || quoted_printable) && !plain_single_line_field(
                                                                   headers, "Content-Transfer-Encoding"),
                               std::move(charset), text_like});
      continue;
    }
    if (e.depth >= limits.max_depth) {
      return failure("MIME multiparts are nested deeper than " + std::to_string(limits.max_depth) +
                     " levels");
    }
    // RFC 2046 §5.1.2: an enclosed multipart's delimiters must not be the enclosing
    // one's. With boundary "b" around "b--" the line "--b--" closes the outer multipart
    // for the gateway and Python's email package, and is the inner one's delimiter for
    // readers that ask the open child first (Mozilla's libmime, nodemailer): what follows
    // it is epilogue to some and an attachment to others (probe round 35). Delimiter lines
    // match whole (after trailing white space) in all of them, so the conflict is a line
    // that is a delimiter or close delimiter of both: equal boundaries, or one the other
    // plus "--".
    for (std::size_t up = e.scope; !boundary.empty() && up != kNoScope; up = scopes[up].parent) {
      const std::string& outer = scopes[up].boundary;
      if (boundary == outer || boundary == outer + "--" || outer == boundary + "--") {
        return failure("a nested multipart whose delimiter lines are also the enclosing "
                       "multipart's (readers would split it differently)");
      }
    }
    Split split;
    if (!delimiter_lines) delimiter_lines.emplace(message);
    if (!boundary.empty()) {
      auto parts = split_multipart(message, body_begin, e.end, boundary, *delimiter_lines,
                                   &result.parts, limits.max_parts, &result.defects);
      if (!parts) return failure(parts.error());
      split = std::move(parts).value();
    } else {
      ++result.defects;  // RFC 2046 §5.1.1: the boundary parameter is required
    }
    if (!split.delimiter_seen) {
      // No delimiter of this multipart anywhere. Lines that are delimiters of some other
      // boundary mean parts the gateway cannot find but a reader may (an unquoted boundary
      // with a comment in it, say): the structure cannot be determined, so the message is
      // refused rather than passed uninspected (BR-25). Otherwise the body is preamble only
      // (BR-27 a), and that text is what the policy sees, never nothing.
      if (has_delimiter_like_line(message, body_begin, e.end, *delimiter_lines)) {
        return failure("multipart body has delimiter lines that match no declared boundary");
      }
      result.leaves.push_back({message.substr(body_begin, e.end - body_begin), base64, false, false, {}});
      continue;
    }
    if (!split.opened) {
      // A close delimiter but no delimiter before it: no part ever began. Python's email
      // package reports StartBoundaryNotFoundDefect and shows the whole body as the text of
      // the entity; ignoring it as preamble would hide that text from the policy (BR-27,
      // probe round 25). The whole body is one leaf, the close line included, unless the
      // close line is all there is: then it is an empty multipart (BR-27 b).
      if (!only_close_delimiters(message, body_begin, e.end, boundary)) {
        result.leaves.push_back({message.substr(body_begin, e.end - body_begin), false, false, false, {}});
      }
      continue;
    }
    // Reverse order on the stack, so the leaves come out in document order.
    const bool digest = ct.subtype == "digest";
    scopes.push_back({boundary, e.scope});
    const std::size_t scope = scopes.size() - 1;
    for (auto it = split.parts.rbegin(); it != split.parts.rend(); ++it) {
      stack.push_back({it->begin, it->end, e.depth + 1, digest, scope});
    }
  }
  return result;
}

namespace {

// "begin" SP mode SP name, mode 3 or 4 octal digits (POSIX uuencode; readers accept both).
bool is_uuencode_begin(std::string_view line) {
  if (line.substr(0, 6) != "begin ") return false;
  std::size_t i = 6, digits = 0;
  while (i < line.size() && line[i] >= '0' && line[i] <= '7') ++i, ++digits;
  // Mozilla's libmime takes "begin 644 " without a file name too (an unnamed attachment).
  return (digits == 3 || digits == 4) && i < line.size() && line[i] == ' ';
}

// libmime's yEnc end: "=yend " with a size= field; other "=yend" lines are data to it.
bool is_yenc_end(std::string_view line) {
  return line.substr(0, 6) == "=yend " && line.find("size=") != std::string_view::npos;
}

// One uuencoded line: a length character, then groups of four characters (6 bits each,
// "`" as zero) for three octets each.
void uudecode_line(std::string_view line, std::string& out) {
  if (line.empty()) return;
  auto value = [](char c) { return static_cast<unsigned>(c - ' ') & 0x3f; };
  std::size_t n = value(line[0]);
  for (std::size_t i = 1; n > 0 && i < line.size(); i += 4) {
    unsigned v[4] = {0, 0, 0, 0};
    for (std::size_t k = 0; k < 4; ++k) v[k] = i + k < line.size() ? value(line[i + k]) : 0;
    const unsigned char octets[3] = {static_cast<unsigned char>((v[0] << 2) | (v[1] >> 4)),
                                     static_cast<unsigned char>((v[1] << 4) | (v[2] >> 2)),
                                     static_cast<unsigned char>((v[2] << 6) | v[3])};
    for (std::size_t k = 0; k < 3 && n > 0; ++k, --n) out += static_cast<char>(octets[k]);
  }
}

// One yEnc line: each octet is the character minus 42, "=" escapes the next (minus 64).
void ydecode_line(std::string_view line, std::string& out) {
  for (std::size_t i = 0; i < line.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    if (c == '=' && i + 1 < line.size()) c = static_cast<unsigned char>(line[++i] - 64);
    out += static_cast<char>(static_cast<unsigned char>(c - 42));
  }
}

}  // namespace

std::string inline_attachment_octets(std::string_view text) {
  // Mozilla's libmime (mimeunty.cpp): a begin line of either kind starts a block whatever
  // block is open; a uuencode block ends at any line starting with "end", a yEnc block only
  // at "=yend ... size=..."; every other line of a block is data, "=ypart" lines included
  // (probe round 27: each of these differences hid an attachment Thunderbird opens).
  enum class Block { kNone, kUuencode, kYenc };
  Block block = Block::kNone;
  std::string out;
  for (std::size_t pos = 0; pos < text.size();) {
    const Line line = line_at(text, pos);
    pos = line.next;
    std::string_view content = line.content;
    while (!content.empty() && content.back() == '\r') content.remove_suffix(1);
    if (is_uuencode_begin(content)) {
      block = Block::kUuencode;
      continue;
    }
    if (content.substr(0, 8) == "=ybegin ") {
      block = Block::kYenc;
      continue;
    }
    switch (block) {
      case Block::kNone:
        break;
      case Block::kUuencode:
        if (content.substr(0, 3) == "end") {
          block = Block::kNone;
        } else {
          uudecode_line(content, out);
        }
        break;
      case Block::kYenc:
        if (is_yenc_end(content)) {
          block = Block::kNone;
        } else {
          ydecode_line(content, out);
        }
        break;
    }
  }
  return out;
}

std::string inline_attachments(const MimeStructure& structure,
                               std::span<const std::string> decoded) {
  std::string out;
  for (std::size_t k = 0; k < structure.leaves.size() && k < decoded.size(); ++k) {
    out += inline_attachment_octets(decoded[k]);
    // A leaf some readers show raw: what a block in its raw text holds, too.
    if (structure.leaves[k].raw_shown_by_some) {
      out += inline_attachment_octets(structure.leaves[k].body);
    }
  }
  return out;
}

std::string inline_attachments(const MimeStructure& structure) {
  return inline_attachments(structure, decode_leaves(structure));
}

std::string raw_text_shown_by_some(const MimeStructure& structure) {
  std::string out;
  for (const auto& leaf : structure.leaves) {
    if (!leaf.raw_shown_by_some) continue;
    out += leaf.body;
    if (!out.ends_with("\r\n")) out += "\r\n";
  }
  return out;
}

std::string text_in_other_charsets(const MimeStructure& structure,
                                   std::span<const std::string> decoded) {
  std::string out;
  for (std::size_t k = 0; k < structure.leaves.size() && k < decoded.size(); ++k) {
    const MimeLeaf& leaf = structure.leaves[k];
    if (leaf.charset.empty()) continue;
    const CharsetPlan plan = plan_charset(leaf.charset);
    if (plan.reading != CharsetPlan::Reading::kDecode) continue;
    if (auto text = decoded_text_for_matching(decoded[k], plan)) {
      out += *text;
      out += "\r\n";
    }
  }
  return out;
}

std::string text_in_other_charsets(const MimeStructure& structure) {
  return text_in_other_charsets(structure, decode_leaves(structure));
}

std::string decode_leaf(const MimeLeaf& leaf, std::size_t* defects, bool* misaligned) {
  if (leaf.base64) return base64_decode(leaf.body, defects, misaligned);
  if (leaf.quoted_printable) return qp_decode(leaf.body);
  return std::string(leaf.body);
}

std::vector<std::string> decode_leaves(const MimeStructure& structure, std::size_t* defects,
                                       bool* misaligned) {
  std::vector<std::string> out;
  out.reserve(structure.leaves.size());
  for (const auto& leaf : structure.leaves) out.push_back(decode_leaf(leaf, defects, misaligned));
  return out;
}

std::string join_leaves(std::span<const std::string> decoded) {
  std::string out;
  for (const std::string& text : decoded) {
    // The line break before a delimiter belongs to the delimiter (RFC 2046 §5.1.1), but
    // to a reader each part starts on a line of its own: without one here "^SECRETMARK" or
    // "\bSECRETMARK" at the start of a second part never matched, and "SECRET" ending one
    // part met "MARK" starting the next (probe round 27).
    if (!out.empty() && out.back() != '\n') out += "\r\n";
    out += text;
  }
  return out;
}

std::string decode_content_body(const MimeStructure& structure, std::size_t* defects,
                                bool* misaligned) {
  return join_leaves(decode_leaves(structure, defects, misaligned));
}

bool is_valid_header_name(std::string_view name) {
  if (name.empty() || name.size() > 76) return false;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 33 || u > 126 || c == ':') return false;
  }
  return true;
}

namespace {

// 45 octets make 60 base64 characters: with "=?UTF-8?B?" and "?=" 72 <= 75 (RFC 2047 §2).
constexpr std::size_t kWordOctets = 45;
// "=?UTF-8?B?" and "?=" around the base64 text.
constexpr std::size_t kWordOverhead = 12;
// RFC 2047 §2: a line holding an encoded-word is at most 76 characters.
constexpr std::size_t kEncodedLine = 76;

// `value` as RFC 2047 encoded-words, whatever it holds (rfc2047_encode()), folded with
// CRLF SP between them. The first word holds at most `first_octets` octets of `value`
// (it shares its line with the field name), later ones kWordOctets; a first word that could
// not hold one whole UTF-8 character is left out (the result starts with the fold).
std::string encoded_words(std::string_view value, std::size_t first_octets = kWordOctets) {
  std::string out;
  std::size_t start = 0;
  std::size_t limit = first_octets;
  while (start < value.size()) {
    std::size_t end = start;
    while (end < value.size()) {
      const std::size_t length = std::max<std::size_t>(1, common::utf8_sequence_length(value, end));
      if (end + length - start > limit) break;
      end += length;
    }
    if (start > 0 || end == start) out += "\r\n ";
    limit = kWordOctets;
    if (end == start) continue;  // nothing fits beside the name: start on the next line
    out += "=?UTF-8?B?";
    out += base64_encode(value.substr(start, end - start), 0);
    out += "?=";
    start = end;
  }
  return out;
}

}  // namespace

std::string rfc2047_encode(std::string_view value) {
  if (!common::has_8bit(value) && value.find("=?") == std::string_view::npos) {
    return std::string(value);
  }
  return encoded_words(value);
}

std::string header_field(std::string_view name, std::string_view value) {
  constexpr std::size_t kSoftLine = 78;   // RFC 5322 §2.1.1 SHOULD, without CRLF
  constexpr std::size_t kHardLine = 998;  // RFC 5322 §2.1.1 MUST, without CRLF
  std::string out(name);
  out += ": ";
  const std::size_t prefix = out.size();
  auto encoded = [&] {
    // The first word shares its line with "Name: " within RFC 2047's 76 characters (probe
    // round 41: an 80-character first line); when not even one character fits, the words
    // start on a continuation line ("Name:" CRLF SP word).
    const std::size_t room = kEncodedLine > prefix + kWordOverhead
                                 ? (kEncodedLine - prefix - kWordOverhead) / 4 * 3
                                 : 0;
    out.resize(prefix);
    std::string words = encoded_words(value, std::min(room, kWordOctets));
    if (words.rfind("\r\n", 0) == 0) out.pop_back();  // no space before the fold
    out += words;
    out += "\r\n";
    return out;
  };
  // Text that looks like an encoded-word ("=?utf-8?b?...?=" in a client's address) would
  // be decoded by readers into something else (RFC 2047 §5-§7; probe round 42: a local
  // part showed as an invented recipient): such a value is encoded as a whole.
  if (common::has_8bit(value) || value.find("=?") != std::string_view::npos) return encoded();
  std::size_t line = out.size();
  std::size_t i = 0;
  while (i < value.size()) {
    // The next token: a run of whitespace and the word after it.
    std::size_t word = i;
    while (word < value.size() && is_wsp(value[word])) ++word;
    std::size_t next = word;
    while (next < value.size() && !is_wsp(value[next])) ++next;
    const std::string_view token = value.substr(i, next - i);
    // Fold before the whitespace of a token that would pass the soft limit, if a word
    // follows it (a line of whitespace only would be no continuation line, §3.2.2).
    const bool fold = word > i && next > word && line + token.size() > kSoftLine;
    // A word that does not fit on a line of its own: the whole value is written as
    // encoded-words instead, which fold anywhere (probe round 25: it used to end the
    // value there, and a 2,000-octet word became an empty field).
    if ((fold ? 0 : line) + token.size() > kHardLine) return encoded();
    if (fold) {
      out += "\r\n";
      line = 0;
    }
    out += token;
    line += token.size();
    i = next;
  }
  out += "\r\n";
  return out;
}

std::string edit_header_block(std::string_view header_block, const std::vector<HeaderEdit>& edits) {
  // Fields as byte ranges of the block (a field with its continuation lines and line
  // endings), plus the added fields as owned text.
  struct Field {
    std::string name;  // empty for lines that start no field
    std::string text;
  };
  std::vector<Field> fields;
  std::size_t pos = 0;
  while (pos < header_block.size()) {
    const Line line = line_at(header_block, pos);
    // An mbox "From " line starts no field (readers skip it), whatever colons it holds.
    const auto name = classify_header_line(line.content) == HeaderLine::kEnvelopeFrom
                          ? std::nullopt
                          : field_name(line.content);
    const std::string_view bytes = header_block.substr(pos, line.next - pos);
    if (!name && !fields.empty() && !line.content.empty() && is_wsp(line.content.front())) {
      fields.back().text += bytes;  // continuation line
    } else {
      fields.push_back({std::string(name.value_or(std::string_view())), std::string(bytes)});
    }
    pos = line.next;
  }
  for (const auto& edit : edits) {
    if (edit.kind == HeaderEditKind::kAdd) {
      const auto first_field = std::find_if(fields.begin(), fields.end(),
                                            [](const Field& f) { return !f.name.empty(); });
      fields.insert(first_field, {edit.name, header_field(edit.name, edit.value)});
    } else {
      std::erase_if(fields,
                    [&](const Field& f) { return !f.name.empty() && iequals(f.name, edit.name); });
    }
  }
  std::string out;
  for (const auto& f : fields) out += f.text;
  return out;
}

}  // namespace gw::controlplane::policy
