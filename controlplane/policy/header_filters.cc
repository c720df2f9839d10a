// add_header and remove_header: edits of the DATA message's top header block (RFC 5322
// §2.2), applied by the engine when the policy passes.
#include "controlplane/policy/attribute_template.h"
#include "controlplane/policy/filters.h"
#include "controlplane/policy/mime_message.h"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace gw::controlplane::policy {
namespace {

class AddHeaderFilter final : public Filter {
 public:
  AddHeaderFilter(std::string name, AttributeTemplate value)
      : name_(std::move(name)), value_(std::move(value)) {}

  std::string_view type() const override { return "add_header"; }

  // Control characters out (no CR/LF injection), at most kMaxHeaderValue octets; the
  // field is folded onto lines of at most 998 octets when it is written (header_field).
  FilterOutcome apply(EvaluationState& state) const override {
    if (!state.has_message) return FilterOutcome::pass();
    state.header_edits.push_back({HeaderEditKind::kAdd, name_,
                                  to_single_line(value_.expand(state.attributes),
                                                 kMaxHeaderValue)});
    return FilterOutcome::pass();
  }

 private:
  std::string name_;
  AttributeTemplate value_;
};

class RemoveHeaderFilter final : public Filter {
 public:
  explicit RemoveHeaderFilter(std::string name) : name_(std::move(name)) {}

  std::string_view type() const override { return "remove_header"; }

  FilterOutcome apply(EvaluationState& state) const override {
    if (state.has_message) state.header_edits.push_back({HeaderEditKind::kRemove, name_, {}});
    return FilterOutcome::pass();
  }

 private:
  std::string name_;
};

// The fields that say how the body is encoded (RFC 2045 §4-§6): the engine keeps them in
// step with the body it writes. A policy's copy would contradict it (probe round 41: a
// second Content-Transfer-Encoding made the message one the gateway itself refuses, and a
// removed one left base64 text unlabelled).
constexpr std::string_view kMimeStructureFields[] = {"Content-Type", "Content-Transfer-Encoding",
                                                     "MIME-Version"};

std::string read_name(FilterSpec& spec) {
  std::string name = spec.string("name");
  if (!is_valid_header_name(name)) {
    spec.fail("name", "\"" + name +
                          "\" is not a header field name (1..76 printable ASCII characters, "
                          "no ':' or space)");
  }
  for (std::string_view field : kMimeStructureFields) {
    if (std::ranges::equal(name, field, [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      spec.fail("name", std::string(field) +
                            " describes the body's MIME encoding, which the gateway keeps "
                            "consistent itself; it cannot be added or removed by a policy");
    }
  }
  return name;
}

}  // namespace

std::unique_ptr<Filter> make_add_header_filter(FilterSpec& spec) {
  std::string name = read_name(spec);
  AttributeTemplate value = AttributeTemplate::parse(spec.string("value"));
  if (value.references(attr::kSubjectPassword)) {
    spec.fail("value", "a template must not use authentication.subject.password");
  }
  if (auto miscased = miscased_reference(value)) spec.fail("value", *miscased);
  return std::make_unique<AddHeaderFilter>(std::move(name), std::move(value));
}

std::unique_ptr<Filter> make_remove_header_filter(FilterSpec& spec) {
  return std::make_unique<RemoveHeaderFilter>(read_name(spec));
}

}  // namespace gw::controlplane::policy
