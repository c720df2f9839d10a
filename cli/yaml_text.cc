// YAML quoting, faithful re-emission of parsed nodes, and YAML → JSON.
#include "cli/yaml_text.h"

#include <charconv>
#include <cstdint>
#include <optional>
#include <regex>
#include <stdexcept>
#include <system_error>

#include "common/printable_line.h"

namespace gw::cli {
namespace {

// A plain scalar: yaml-cpp tags non-specific plain scalars "?" and quoted ones "!".
bool is_plain(const YAML::Node& node) { return node.Tag() == "?" || node.Tag().empty(); }

nlohmann::ordered_json resolve_plain(const std::string& text) {
  static const std::regex kNull(R"(^(|~|null|Null|NULL)$)");

  static const std::regex kInt(R"(^[-+]?[0-9]+$)");
  if (std::regex_match(text, kNull)) return nullptr;
  // Booleans too only as JSON spells them: "TRUE" read as text (an equals value) stays so.
  if (text == "true") return true;
  if (text == "false") return false;
  // A number only when JSON writes it back as the same text: "007", "+5", "1.50" or "1e3"
  // stay strings, so `-o json export` applied back gives the policies that were applied
  // (a filter reads every value as text: probe round 20 saw wildcard "1e3" come back as
  // "1000.0"). No configuration field holds a fraction, so no float is ever produced.
  if (std::regex_match(text, kInt)) {
    std::int64_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && ptr == text.data() + text.size() && std::to_string(value) == text) {
      return value;
    }
  }
  return text;
}

}  // namespace

bool yaml_needs_quotes(const std::string& s) {
  static const std::regex kNonString(
      R"(^(|~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|)"
      R"(on|On|ON|off|Off|OFF|y|Y|n|N|)"
      R"([-+]?([0-9][0-9_]*)?\.?[0-9_]*([eE][-+]?[0-9]+)?|)"
      R"([-+]?0[xob][0-9a-fA-F_]+|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)|)"
      R"([0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?)$)");
  // DEL is not allowed unescaped anywhere in a YAML document (YAML 1.2 §5.1): a string
  // holding one is double-quoted, and yaml_escape_del() escapes it there. A leading ':' is
  // valid YAML 1.2 in a plain scalar, but YAML 1.1 parsers (PyYAML) read it as an
  // indicator in flow maps ("cidr: ::1/128"; probe round 39): quoted, every reader agrees.
  return s.find('\x7f') != std::string::npos || (!s.empty() && s.front() == ':') ||
         yaml11_misreads_plain(s) || std::regex_match(s, kNonString);
}

bool yaml11_misreads_plain(std::string_view s) {
  // YAML 1.1's merge key ("<<": PyYAML wants a map to merge) and value key ("=", tag
  // !!value, which PyYAML cannot construct; probe round 49).
  if (s == "<<" || s == "=") return true;
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const auto next = static_cast<unsigned char>(s[i + 1]);
    if (c == 0xc2 && next >= 0x80 && next <= 0x9f) return true;  // C1 controls (NEL)
    if (c == 0xe2 && next == 0x80 && i + 2 < s.size() &&
        (static_cast<unsigned char>(s[i + 2]) == 0xa8 ||
         static_cast<unsigned char>(s[i + 2]) == 0xa9)) {
      return true;  // U+2028, U+2029
    }
  }
  return false;
}

std::string yaml_escape_del(std::string text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\x7f') {
      out += "\\x7f";
    } else if (c == '\xe2' && text.compare(i, 3, "\xe2\x80\xa8") == 0) {
      out += "\\u2028";
      i += 2;
    } else if (c == '\xe2' && text.compare(i, 3, "\xe2\x80\xa9") == 0) {
      out += "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

void emit_yaml_node(YAML::Emitter& out, const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out << YAML::Null;
      break;
    case YAML::NodeType::Scalar:
      // A plain scalar stays plain unless a YAML 1.1 reader would misread it.
      if ((!is_plain(node) && yaml_needs_quotes(node.Scalar())) ||
          yaml11_misreads_plain(node.Scalar())) {
        out << YAML::DoubleQuoted;
      }
      out << node.Scalar();
      break;
    case YAML::NodeType::Sequence:
      if (node.Style() == YAML::EmitterStyle::Flow || node.size() == 0) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const auto& item : node) emit_yaml_node(out, item);
      out << YAML::EndSeq;
      break;
    case YAML::NodeType::Map:
      if (node.Style() == YAML::EmitterStyle::Flow || node.size() == 0) out << YAML::Flow;
      out << YAML::BeginMap;
      for (const auto& item : node) {
        out << YAML::Key;
        emit_yaml_node(out, item.first);
        out << YAML::Value;
        emit_yaml_node(out, item.second);
      }
      out << YAML::EndMap;
      break;
  }
}

namespace {

// `text` with each octet 0x85 or 0xA0 that starts no valid UTF-8 sequence written as the
// UTF-8 of U+0085 / U+00A0; nullopt when there is none.
std::optional<std::string> repaired_escapes(const std::string& text) {
  std::optional<std::string> out;
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t n = c < 0x80 ? 1 : common::utf8_sequence_length(text, i);
    if (n == 0 && (c == 0x85 || c == 0xa0)) {
      if (!out) out = text.substr(0, i);
      *out += '\xc2';
      *out += static_cast<char>(c);
      ++i;
      continue;
    }
    const std::size_t take = n == 0 ? 1 : n;
    if (out) out->append(text, i, take);
    i += take;
  }
  return out;
}

}  // namespace

namespace {

// Counts down `budget` per node visited; false once it is spent.
bool walk_within(const YAML::Node& node, std::size_t& budget) {
  if (budget == 0) return false;
  --budget;
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      for (const auto& item : node) {
        if (!walk_within(item, budget)) return false;
      }
      return true;
    case YAML::NodeType::Map:
      for (const auto& item : node) {
        if (!walk_within(item.first, budget) || !walk_within(item.second, budget)) return false;
      }
      return true;
    default:
      return true;
  }
}

}  // namespace

bool yaml_expands_beyond(const YAML::Node& node, std::size_t limit) {
  std::size_t budget = limit;
  return !walk_within(node, budget);
}

void repair_yaml_escapes(YAML::Node node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      if (auto fixed = repaired_escapes(node.Scalar())) {
        const std::string tag = node.Tag();
        node = *fixed;
        node.SetTag(tag);
      }
      return;
    case YAML::NodeType::Sequence:
      for (auto item : node) repair_yaml_escapes(item);
      return;
    case YAML::NodeType::Map:
      for (auto item : node) {
        repair_yaml_escapes(item.first);
        repair_yaml_escapes(item.second);
      }
      return;
    default:
      return;
  }
}

std::string yaml_node_text(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "";
  YAML::Emitter out;
  emit_yaml_node(out, node);
  if (!out.good()) throw std::runtime_error("cannot write YAML: " + out.GetLastError());
  return yaml_escape_del(std::string(out.c_str())) + "\n";
}

nlohmann::ordered_json yaml_to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar:
      return is_plain(node) ? resolve_plain(node.Scalar()) : nlohmann::ordered_json(node.Scalar());
    case YAML::NodeType::Sequence: {
      auto array = nlohmann::ordered_json::array();
      for (const auto& item : node) array.push_back(yaml_to_json(item));
      return array;
    }
    case YAML::NodeType::Map: {
      auto object = nlohmann::ordered_json::object();
      for (const auto& item : node) {
        const std::string key =
            item.first.IsScalar() ? item.first.Scalar() : YAML::Dump(item.first);
        object[key] = yaml_to_json(item.second);
      }
      return object;
    }
  }
  return nullptr;
}

}  // namespace gw::cli
