// One-pass `${attr}` template expansion.
#include "common/attribute_template.h"

namespace gw::common {
namespace {

// Never expanded (DESIGN.md §7 "Secrets"): the policy engine's attr::kSubjectPassword.
constexpr std::string_view kSubjectPassword = "authentication.subject.password";

}  // namespace

bool is_valid_attribute_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

AttributeTemplate AttributeTemplate::parse(std::string_view text) {
  AttributeTemplate t;
  t.source_ = std::string(text);
  std::string literal;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c != '$' || i + 1 >= text.size()) {
      literal += c;
      ++i;
      continue;
    }
    if (text[i + 1] == '$') {  // "$$": literal, and shields a following "{"
      literal += "$$";
      i += 2;
      continue;
    }
    if (text[i + 1] != '{') {
      literal += c;
      ++i;
      continue;
    }
    const std::size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      literal += text.substr(i);
      break;
    }
    const std::string_view name = text.substr(i + 2, close - i - 2);
    if (!is_valid_attribute_name(name)) {
      literal += c;
      ++i;
      continue;
    }
    if (!literal.empty()) t.segments_.push_back({false, std::move(literal)});
    literal.clear();
    t.segments_.push_back({true, std::string(name)});
    i = close + 1;
  }
  if (!literal.empty()) t.segments_.push_back({false, std::move(literal)});
  return t;
}

std::string AttributeTemplate::expand(const AttributeMap& attributes) const {
  std::string out;
  for (const auto& s : segments_) {
    if (!s.is_reference) {
      out += s.text;
      continue;
    }
    if (s.text == kSubjectPassword) continue;
    if (auto it = attributes.find(s.text); it != attributes.end()) out += it->second;
  }
  return out;
}

bool AttributeTemplate::references(std::string_view name) const {
  for (const auto& s : segments_) {
    if (s.is_reference && s.text == name) return true;
  }
  return false;
}

std::vector<std::string_view> AttributeTemplate::reference_names() const {
  std::vector<std::string_view> names;
  for (const auto& s : segments_) {
    if (s.is_reference) names.push_back(s.text);
  }
  return names;
}

std::string expand_template(std::string_view text, const AttributeMap& attributes) {
  return AttributeTemplate::parse(text).expand(attributes);
}

}  // namespace gw::common
