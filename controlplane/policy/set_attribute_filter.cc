// set_attribute: writes a message attribute from a template (reference: "configure a policy
// to replace the value of smtp.helo.greeting").
#include "controlplane/policy/attribute_template.h"
#include "controlplane/policy/filters.h"

namespace gw::controlplane::policy {
namespace {

class SetAttributeFilter final : public Filter {
 public:
  SetAttributeFilter(std::string attribute, AttributeTemplate value)
      : attribute_(std::move(attribute)), value_(std::move(value)) {}

  std::string_view type() const override { return "set_attribute"; }

  // Every attribute but content.body travels back in SMTP lines (greeting, EHLO domain,
  // addresses), so its value is made one safe line; the body keeps its line breaks.
  FilterOutcome apply(EvaluationState& state) const override {
    std::string value = value_.expand(state.attributes);
    if (attribute_ != attr::kContentBody) value = to_single_line(value);
    state.attributes.insert_or_assign(attribute_, std::move(value));
    state.written.insert(attribute_);
    return FilterOutcome::pass();
  }

  bool writes_attribute(std::string_view name) const override { return name == attribute_; }

 private:
  std::string attribute_;
  AttributeTemplate value_;
};

}  // namespace

std::unique_ptr<Filter> make_set_attribute_filter(FilterSpec& spec) {
  std::string attribute = spec.string("attribute");
  if (!is_valid_attribute_name(attribute)) {
    spec.fail("attribute",
              "\"" + attribute + "\" is not an attribute name (letters, digits, '.', '_', '-')");
  }
  if (is_read_only_attribute(attribute)) {
    spec.fail("attribute", "attribute " + attribute + " is read-only");
  }
  if (auto builtin = misspelled_builtin(attribute)) {
    // "SMTP.HELO.DOMAIN" or "smtp.helo.domian" would be another attribute: a rewrite that
    // looks in force and is not (probe rounds 19 and 38).
    spec.fail("attribute", "\"" + attribute + "\" is not a built-in attribute (names are "
                           "case-sensitive; the smtp., client., content., message., "
                           "authentication. and monitoring. names are the gateway's): did "
                           "you mean " + std::string(*builtin) + "?");
  }
  AttributeTemplate value = AttributeTemplate::parse(spec.string("value"));
  if (value.references(attr::kSubjectPassword)) {
    spec.fail("value", "a template must not use authentication.subject.password");
  }
  if (auto miscased = miscased_reference(value)) spec.fail("value", *miscased);
  return std::make_unique<SetAttributeFilter>(std::move(attribute), std::move(value));
}

}  // namespace gw::controlplane::policy
