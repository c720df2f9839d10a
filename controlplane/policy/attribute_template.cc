// One-pass `${attr}` template expansion.
#include "controlplane/policy/attribute_template.h"

namespace gw::controlplane::policy {

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

std::string AttributeTemplate::expand(const Attributes& attributes) const {
  std::string out;
  for (const auto& s : segments_) {
    if (!s.is_reference) {
      out += s.text;
      continue;
    }
    if (s.text == attr::kSubjectPassword) continue;
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

std::optional<std::string> AttributeTemplate::miscased_reference() const {
  for (const auto& s : segments_) {
    if (!s.is_reference) continue;
    if (auto builtin = misspelled_builtin(s.text)) {
      return "${" + s.text + "} is never set (not a built-in attribute; names are "
             "case-sensitive); did you mean ${" + std::string(*builtin) + "}?";
    }
  }
  return std::nullopt;
}

std::string expand_template(std::string_view text, const Attributes& attributes) {
  return AttributeTemplate::parse(text).expand(attributes);
}

}  // namespace gw::controlplane::policy
