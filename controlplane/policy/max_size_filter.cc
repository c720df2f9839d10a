// max_size: a DATA message is at most `bytes` octets (RFC 5321 §4.5.3.1.10).
#include "controlplane/policy/filters.h"

namespace gw::controlplane::policy {
namespace {

class MaxSizeFilter final : public Filter {
 public:
  explicit MaxSizeFilter(std::uint64_t bytes) : bytes_(bytes) {}

  std::string_view type() const override { return "max_size"; }

  // Commands other than DATA carry no message: nothing to measure, the filter passes.
  FilterOutcome apply(EvaluationState& state) const override {
    if (!state.has_message || state.message.size() <= bytes_) return FilterOutcome::pass();
    return FilterOutcome::fail("message is " + std::to_string(state.message.size()) +
                               " octets, the limit is " + std::to_string(bytes_));
  }

 private:
  std::uint64_t bytes_;
};

}  // namespace

std::unique_ptr<Filter> make_max_size_filter(FilterSpec& spec) {
  return std::make_unique<MaxSizeFilter>(spec.unsigned_integer("bytes"));
}

}  // namespace gw::controlplane::policy
