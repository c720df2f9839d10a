// `${attribute.name}` templates in filter values, replies and HELO greetings (DESIGN.md §6;
// reference: greeting "Hello ${smtp.helo.domain}"). In common/ because both planes expand
// them: the control plane's policy engine, and a relay node that greets with a HELO
// handler's template when its decision failed open.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace gw::common {

/// Attribute name → value, as templates read them (the policy engine's Attributes).
using AttributeMap = std::map<std::string, std::string, std::less<>>;

/// True if `name` may name a message attribute: 1-128 octets of letters, digits, '.', '_'
/// and '-' (the reference's names, such as "smtp.helo.domain").
bool is_valid_attribute_name(std::string_view name);

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
  std::string expand(const AttributeMap& attributes) const;

  /// True if the template references attribute `name`.
  bool references(std::string_view name) const;

  /// The attribute names the template references, in order (repeats included).
  std::vector<std::string_view> reference_names() const;

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
std::string expand_template(std::string_view text, const AttributeMap& attributes);

}  // namespace gw::common
