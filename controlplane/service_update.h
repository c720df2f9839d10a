// Applying an UpdateService field mask (admin.proto) to a stored service.
#pragma once

#include <google/protobuf/field_mask.pb.h>

#include "controlplane/error.h"
#include "gateway/v1/config.pb.h"

namespace gw::controlplane {

/// The merged service and whether the mask asked to change the password.
struct ServiceUpdate {
  gateway::v1::Service service;
  bool password_changed = false;
};

/// Copies the fields named in `mask` from `patch` onto `current` (FieldMaskUtil semantics:
/// a named scalar takes the patch's value, also zero/false/empty; a named message or
/// repeated field is replaced as a whole; "limits.max_recipients" names one limit).
/// The result still needs fill_service_defaults() and validate_service(): a limit set to
/// zero goes back to its default, an empty password removes the stored one.
/// Errors (kInvalidArgument): empty mask, a path that is not a field of Service, "name"
/// (services cannot be renamed), output-only fields (has_password, interfaces,
/// created_at_ms, updated_at_ms).
Result<ServiceUpdate> merge_service_update(const gateway::v1::Service& current,
                                           const gateway::v1::Service& patch,
                                           const google::protobuf::FieldMask& mask);

}  // namespace gw::controlplane
