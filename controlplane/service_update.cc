// Field-mask merge for UpdateService.
#include "controlplane/service_update.h"

#include <google/protobuf/util/field_mask_util.h>

#include <array>
#include <string_view>

#include "common/logging.h"

namespace gw::controlplane {

using google::protobuf::util::FieldMaskUtil;

Result<ServiceUpdate> merge_service_update(const gateway::v1::Service& current,
                                           const gateway::v1::Service& patch,
                                           const google::protobuf::FieldMask& mask) {
  if (mask.paths_size() == 0) {
    return fail(Code::kInvalidArgument, "update_mask is empty: name the fields to change");
  }
  static constexpr std::array<std::string_view, 8> kOutputOnly = {
      "has_password",  "interfaces",  "handlers",           "created_at_ms",
      "updated_at_ms", "source_line", "declares_interfaces", "declares_handlers"};
  for (const std::string& path : mask.paths()) {
    if (!FieldMaskUtil::IsValidPath<gateway::v1::Service>(path)) {
      return fail(Code::kInvalidArgument, "update_mask path \"" + common::log_escape(path, 80) +
                                              "\" is not a field of Service");
    }
    const std::string_view top = std::string_view(path).substr(0, path.find('.'));
    if (top == "name") {
      return fail(Code::kInvalidArgument,
                  "a service cannot be renamed: delete it and create it under the new name");
    }
    for (std::string_view output_only : kOutputOnly) {
      if (top == output_only) {
        return fail(Code::kInvalidArgument,
                    "field \"" + std::string(top) + "\" is output only and cannot be updated");
      }
    }
  }
  ServiceUpdate update;
  update.service = current;
  FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  options.set_replace_repeated_fields(true);
  FieldMaskUtil::MergeMessageTo(patch, mask, options, &update.service);
  update.password_changed = FieldMaskUtil::IsPathInFieldMask("password", mask);
  return update;
}

}  // namespace gw::controlplane
