// match and body_match: condition filters, passing when their condition holds (DESIGN.md
// §6 "Condition filters").
#include "controlplane/policy/filters.h"

namespace gw::controlplane::policy {
namespace {

class MatchFilter final : public Filter {
 public:
  MatchFilter(std::string_view type, Condition condition)
      : type_(type), condition_(std::move(condition)) {}

  std::string_view type() const override { return type_; }

  FilterOutcome apply(EvaluationState& state) const override {
    switch (condition_.evaluate(state.attributes)) {
      case Truth::kTrue:
        return FilterOutcome::pass();
      case Truth::kFalse:
        return FilterOutcome::fail("condition not met: " + condition_.describe());
      case Truth::kUnknown:
        break;
    }
    return FilterOutcome::fail("condition cannot be decided (" + condition_.attribute +
                               " is not set or not an IP address): " + condition_.describe());
  }

 private:
  std::string_view type_;
  Condition condition_;
};

}  // namespace

std::unique_ptr<Filter> make_match_filter(FilterSpec& spec) {
  Condition condition = read_condition(spec, "", true,
                                       {MatchOperator::kWildcard, MatchOperator::kRegex,
                                        MatchOperator::kEquals, MatchOperator::kCidr});
  return std::make_unique<MatchFilter>("match", std::move(condition));
}

// body_match searches: a regex matches anywhere in the body, a wildcard must cover it all
// ("*virus*").
std::unique_ptr<Filter> make_body_match_filter(FilterSpec& spec) {
  Condition condition = read_condition(spec, attr::kContentBody, false,
                                       {MatchOperator::kRegex, MatchOperator::kWildcard});
  return std::make_unique<MatchFilter>("body_match", std::move(condition));
}

}  // namespace gw::controlplane::policy
