// The "true" and "false" filters (reference: "a simple True filter", "a simple False filter").
#include "controlplane/policy/filters.h"

namespace gw::controlplane::policy {
namespace {

class ConstantFilter final : public Filter {
 public:
  explicit ConstantFilter(bool result) : result_(result) {}
  std::string_view type() const override { return result_ ? "true" : "false"; }
  FilterOutcome apply(EvaluationState&) const override {
    return result_ ? FilterOutcome::pass() : FilterOutcome::fail("the false filter fails");
  }

 private:
  bool result_;
};

}  // namespace

std::unique_ptr<Filter> make_constant_filter(bool result) {
  return std::make_unique<ConstantFilter>(result);
}

}  // namespace gw::controlplane::policy
