// compile_policy: YAML filter list → immutable filter chain, with line-numbered errors.
#include "controlplane/policy/compiled_policy.h"

#include <yaml-cpp/yaml.h>

#include <map>
#include <vector>

#include "controlplane/policy/filter_spec.h"
#include "controlplane/policy/filters.h"

namespace gw::controlplane::policy {

std::string CompileError::to_string() const {
  std::string out = "policy \"" + policy + "\": ";
  if (filter > 0 && line > 0) {
    out += "filter " + std::to_string(filter) + " (line " + std::to_string(line) + "): ";
  } else if (filter > 0) {
    out += "filter " + std::to_string(filter) + ": ";
  } else if (line > 0) {
    out += "line " + std::to_string(line) + ": ";
  }
  return out + reason;
}

namespace {

using Factory = std::unique_ptr<Filter> (*)(FilterSpec&);

// A filter type: its factory and its own keys ("type" and "when" are common to all).
struct FilterType {
  Factory make;
  std::vector<std::string_view> keys;
};

std::unique_ptr<Filter> make_true(FilterSpec&) { return make_constant_filter(true); }
std::unique_ptr<Filter> make_false(FilterSpec&) { return make_constant_filter(false); }

const std::map<std::string, FilterType, std::less<>>& filter_types() {
  static const auto* table = new std::map<std::string, FilterType, std::less<>>{
      {"true", {make_true, {}}},
      {"false", {make_false, {}}},
      {"attribute_authentication",
       {make_attribute_authentication_filter, {"allow_authorization_id"}}},
      {"set_attribute", {make_set_attribute_filter, {"attribute", "value"}}},
      {"match",
       {make_match_filter, {"attribute", "wildcard", "regex", "equals", "cidr", "negate"}}},
      {"body_match", {make_body_match_filter, {"regex", "wildcard", "negate"}}},
      {"max_size", {make_max_size_filter, {"bytes"}}},
      {"add_header", {make_add_header_filter, {"name", "value"}}},
      {"remove_header", {make_remove_header_filter, {"name"}}},
  };
  return *table;
}

// Filter types of DESIGN.md §6 that this build does not implement yet.
bool is_unsupported_type(std::string_view type) {
  return type == "smime_sign" || type == "smime_verify" || type == "smime_encrypt" ||
         type == "smime_decrypt" || type == "xml_signature" || type == "antivirus";
}

std::unique_ptr<Filter> compile_filter(const YAML::Node& node) {
  const FilterSpec untyped(node, "filter");
  const std::string type = untyped.string("type");
  const auto found = filter_types().find(type);
  if (found == filter_types().end()) {
    if (is_unsupported_type(type)) {
      untyped.fail("type", "filter type \"" + type +
                               "\" is not supported in this build (no message would be checked)");
    }
    untyped.fail("type", "unknown filter type \"" + type + "\"");
  }
  std::vector<std::string_view> keys = found->second.keys;
  keys.push_back("type");
  keys.push_back("when");
  FilterSpec typed(node, type + " filter", keys);
  std::optional<Condition> when;
  if (const YAML::Node when_node = typed.node("when"); when_node.IsDefined()) {
    FilterSpec condition(when_node, "when condition", kConditionKeys);
    when = read_condition(condition, "", true,
                          {MatchOperator::kWildcard, MatchOperator::kRegex, MatchOperator::kEquals,
                           MatchOperator::kCidr});
  }
  std::unique_ptr<Filter> filter = found->second.make(typed);
  filter->set_when(std::move(when));
  return filter;
}

}  // namespace

struct PolicyCompiler {
  static Result<std::shared_ptr<const CompiledPolicy>, CompileError> compile(
      std::string_view name, std::string_view reply_template, std::string_view filters_yaml) {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(filters_yaml));
    } catch (const YAML::Exception& e) {
      return boost::outcome_v2::failure(CompileError{to_single_line(name, 128), e.mark.is_null() ? 0 : e.mark.line + 1,
                                  0, to_single_line("invalid YAML: " + e.msg, 1024)});
    }
    return compile_node(name, reply_template, root, filters_yaml);
  }

  // `filters_text` is the text `root` was read from (the content.body scan); for a node
  // of a larger document, its re-emitted form.
  static Result<std::shared_ptr<const CompiledPolicy>, CompileError> compile_node(
      std::string_view name, std::string_view reply_template, const YAML::Node& root,
      std::string_view filters_text) {
    using boost::outcome_v2::failure;
    // Reasons quote configuration text (a type, a reply), which may hold line breaks:
    // keep every message one line.
    auto error = [&](int line, int filter, const std::string& reason) {
      return failure(
          CompileError{to_single_line(name, 128), line, filter, to_single_line(reason, 1024)});
    };
    if (name.empty() || name.size() > 128 || has_control_character(name)) {
      return error(0, 0, "a policy name has 1..128 characters and no control characters");
    }
    auto policy = std::make_shared<CompiledPolicy>();
    policy->name_ = std::string(name);
    if (!reply_template.empty()) {
      auto reply = parse_reply(reply_template);
      if (!reply) {
        // The reply is quoted short, so that the reason stays in sight (probe round 39: a
        // 100,000-octet reply filled the error line and hid why it was refused).
        constexpr std::size_t kQuoted = 80;
        std::string quoted = to_single_line(reply_template, kQuoted);
        if (reply_template.size() > quoted.size()) quoted += "...";
        return error(0, 0, "bad reply \"" + quoted + "\": " + reply.error());
      }
      policy->reply_text_ = AttributeTemplate::parse(reply.value().text);
      if (policy->reply_text_.references(attr::kSubjectPassword)) {
        return error(0, 0, "the reply must not use authentication.subject.password");
      }
      if (auto miscased = miscased_reference(policy->reply_text_)) {
        return error(0, 0, "the reply: " + *miscased);
      }
      policy->reply_ = std::move(reply).value();
    }
    if (root.IsDefined() && !root.IsNull()) {
      if (!root.IsSequence()) {
        return error(line_of(root), 0, "the filters must be a YAML list of filter maps");
      }
      int index = 0;
      for (const YAML::Node& node : root) {
        ++index;
        try {
          policy->filters_.push_back(compile_filter(node));
        } catch (const CompileFailure& e) {
          return error(e.line(), index, e.what());
        } catch (const YAML::Exception& e) {
          return error(e.mark.is_null() ? line_of(node) : e.mark.line + 1, index, e.msg);
        }
        if (policy->filters_.back()->type() == "body_match") policy->needs_body_ = true;
      }
    }
    const std::string_view body = attr::kContentBody;
    if (filters_text.find(body) != std::string_view::npos ||
        reply_template.find(body) != std::string_view::npos) {
      policy->needs_body_ = true;
    }
    for (const auto& filter : policy->filters_) {
      if (filter->writes_attribute(body)) policy->writes_body_ = true;
    }
    return std::shared_ptr<const CompiledPolicy>(std::move(policy));
  }
};

Result<std::shared_ptr<const CompiledPolicy>, CompileError> compile_policy(
    std::string_view name, std::string_view reply_template, std::string_view filters_yaml) {
  return PolicyCompiler::compile(name, reply_template, filters_yaml);
}

Result<std::shared_ptr<const CompiledPolicy>, CompileError> compile_policy_node(
    std::string_view name, std::string_view reply_template, const YAML::Node& filters) {
  const std::string text = filters.IsDefined() ? YAML::Dump(filters) : std::string();
  return PolicyCompiler::compile_node(name, reply_template, filters, text);
}

namespace {

bool same_node(const YAML::Node& a, const YAML::Node& b) {
  if (a.Type() != b.Type()) return false;
  switch (a.Type()) {
    case YAML::NodeType::Scalar:
      return a.Scalar() == b.Scalar();
    case YAML::NodeType::Sequence:
    case YAML::NodeType::Map: {
      if (a.size() != b.size()) return false;
      auto i = a.begin();
      auto j = b.begin();
      for (; i != a.end() && j != b.end(); ++i, ++j) {
        if (a.IsMap()) {
          if (!same_node(i->first, j->first) || !same_node(i->second, j->second)) return false;
        } else if (!same_node(*i, *j)) {
          return false;
        }
      }
      return i == a.end() && j == b.end();
    }
    default:  // Null, Undefined
      return true;
  }
}

}  // namespace

bool same_filters(std::string_view a, std::string_view b) {
  if (a == b) return true;
  try {
    return same_node(YAML::Load(std::string(a)), YAML::Load(std::string(b)));
  } catch (const YAML::Exception&) {
    return false;
  }
}

}  // namespace gw::controlplane::policy
