// `${attribute.name}` templates in filter values, replies and HELO greetings (DESIGN.md §6;
// reference: greeting "Hello ${smtp.helo.domain}").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/policy/attributes.h"

namespace gw::controlplane::policy {

/// A parsed template. Rules:
/// - `${name}` with a valid attribute name (is_valid_attribute_name) is replaced by the
///   attribute's value; an attribute that is not set expands to the empty string.
/// - `${authentication.subject.password}` always expands to the empty string: the password
///   never leaves the engine through a template (the compiler also refuses it outright).
/// - Expansion is one pass: text that came from an attribute is never expanded again, so
///   a client that sends "${x}" as its HELO domain gets exactly that text back.
/// - "$$" is kept as is and protects what follows ("$${a}" stays "$${a}"); a "$" not
///   followed by "{", a "${" without "}", or "${...}" with an invalid name stay literal.
/// Immutable after parse; expand() is thread-safe.
class AttributeTemplate {
 public:
  AttributeTemplate() = default;

  /// Parses `text`; never fails (anything that is not a reference is literal text).
  static AttributeTemplate parse(std::string_view text);

  /// The text with every reference replaced by its attribute's current value.
  std::string expand(const Attributes& attributes) const;

  /// True if the template references attribute `name`.
  bool references(std::string_view name) const;

  /// Why the template would silently expand to less than it says: a reference to a
  /// built-in attribute in another case ("${SMTP.MAIL.FROM}" is never set, so it is "";
  /// probe round 21). nullopt when there is none. Every place that compiles a template
  /// refuses it with this reason.
  std::optional<std::string> miscased_reference() const;

  /// The text the template was parsed from.
  const std::string& source() const { return source_; }

 private:
  struct Segment {
    bool is_reference = false;
    std::string text;  // literal text, or the attribute name
  };
  std::string source_;
  std::vector<Segment> segments_;
};

/// Shorthand: AttributeTemplate::parse(text).expand(attributes).
std::string expand_template(std::string_view text, const Attributes& attributes);

}  // namespace gw::controlplane::policy
