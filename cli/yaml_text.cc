// YAML quoting, faithful re-emission of parsed nodes, and YAML → JSON.
#include "cli/yaml_text.h"

#include <charconv>
#include <cstdint>
#include <regex>
#include <stdexcept>
#include <system_error>

namespace gw::cli {
namespace {

// A plain scalar: yaml-cpp tags non-specific plain scalars "?" and quoted ones "!".
bool is_plain(const YAML::Node& node) { return node.Tag() == "?" || node.Tag().empty(); }

nlohmann::ordered_json resolve_plain(const std::string& text) {
  static const std::regex kNull(R"(^(|~|null|Null|NULL)$)");
  static const std::regex kTrue(R"(^(true|True|TRUE)$)");
  static const std::regex kFalse(R"(^(false|False|FALSE)$)");
  static const std::regex kInt(R"(^[-+]?[0-9]+$)");
  static const std::regex kFloat(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
  if (std::regex_match(text, kNull)) return nullptr;
  if (std::regex_match(text, kTrue)) return true;
  if (std::regex_match(text, kFalse)) return false;
  if (std::regex_match(text, kInt)) {
    const char* begin = text.data() + (text.front() == '+' ? 1 : 0);
    const char* end = text.data() + text.size();
    std::int64_t value = 0;
    const auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec == std::errc() && ptr == end) return value;
    return text;  // out of range: keep the digits
  }
  if (std::regex_match(text, kFloat)) {
    try {
      return std::stod(text);
    } catch (const std::exception&) {
      return text;
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
  // holding one is double-quoted, and yaml_escape_del() escapes it there.
  return s.find('\x7f') != std::string::npos || std::regex_match(s, kNonString);
}

std::string yaml_escape_del(std::string text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\x7f') {
      out += "\\x7f";
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
      if (!is_plain(node) && yaml_needs_quotes(node.Scalar())) out << YAML::DoubleQuoted;
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
