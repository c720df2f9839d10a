// A policy compiled from its configuration (name, reply, filters YAML) into an immutable
// filter chain (DESIGN.md §6 "A policy is data").
#pragma once

#include <yaml-cpp/yaml.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/policy/attribute_template.h"
#include "controlplane/policy/filter.h"
#include "controlplane/policy/result.h"
#include "controlplane/policy/smtp_reply.h"

namespace gw::controlplane::policy {

/// A compiled policy. Immutable, shared between decision threads
/// (shared_ptr<const CompiledPolicy>).
class CompiledPolicy {
 public:
  const std::string& name() const { return name_; }
  /// The configured reply; nullopt means the command's default (default_reply()).
  const std::optional<ReplyTemplate>& reply() const { return reply_; }
  const AttributeTemplate& reply_text() const { return reply_text_; }
  const std::vector<std::unique_ptr<const Filter>>& filters() const { return filters_; }
  /// True if something in the policy may read content.body (the DATA engine decodes the
  /// body only then). Conservative: any mention of "content.body" counts.
  bool needs_body() const { return needs_body_; }
  /// True if a set_attribute writes content.body.
  bool writes_body() const { return writes_body_; }

 private:
  friend struct PolicyCompiler;
  std::string name_;
  std::optional<ReplyTemplate> reply_;
  AttributeTemplate reply_text_;
  std::vector<std::unique_ptr<const Filter>> filters_;
  bool needs_body_ = false;
  bool writes_body_ = false;
};

/// Why a policy does not compile.
struct CompileError {
  std::string policy;
  int line = 0;    // 1-based line in the filters YAML; 0 when the error is not in it
  int filter = 0;  // 1-based position of the filter in the list; 0 when not in one
  std::string reason;

  /// `policy "x": filter 2 (line 5): unknown filter type "foo"`; without the parts that
  /// are 0.
  std::string to_string() const;
};

/// Compiles a policy.
/// - `name`: 1..128 characters, no control characters.
/// - `reply_template`: "" (the command's default) or "NNN X.Y.Z text" (parse_reply); the
///   text may use ${attr} templates.
/// - `filters_yaml`: a YAML sequence of filter maps, each with "type", the type's keys and
///   an optional "when" (README.md beside this file); empty or null means no filter (the
///   policy always passes).
/// Errors carry the YAML line (yaml-cpp marks) and the filter's position: invalid YAML,
/// a non-list, unknown filter type, unknown or duplicate key, missing field, bad regex
/// (RE2's message), bad CIDR, bad reply, a read-only attribute, a template using the
/// password. smime_sign, smime_verify, smime_encrypt, smime_decrypt, xml_signature and
/// antivirus are recognised but refused ("not supported in this build"), so that no
/// operator believes mail is signed or scanned when it is not.
Result<std::shared_ptr<const CompiledPolicy>, CompileError> compile_policy(
    std::string_view name, std::string_view reply_template, std::string_view filters_yaml);

/// True if two filters texts say the same to compile_policy(): the same tree of maps,
/// sequences, nulls and scalar texts in the same order. How it is written does not count:
/// quotes (every filter field is read as text, "true" as true), flow or block style,
/// comments, indentation. False when either is not YAML. `gctl apply` of a policy written
/// otherwise but meaning the same (an export in JSON) then changes nothing (probe round 34:
/// every policy was "updated" and every node got a new snapshot).
bool same_filters(std::string_view a, std::string_view b);

/// compile_policy() over an already parsed `filters` node, e.g. the `filters` of a policy
/// inside a whole configuration file (`gctl apply -f`): CompileError::line is then the
/// line in that file. An undefined or null node means no filter.
Result<std::shared_ptr<const CompiledPolicy>, CompileError> compile_policy_node(
    std::string_view name, std::string_view reply_template, const YAML::Node& filters);

}  // namespace gw::controlplane::policy
