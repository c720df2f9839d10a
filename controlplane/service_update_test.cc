// Tests of the UpdateService field-mask merge.
#include "controlplane/service_update.h"

#include <google/protobuf/util/field_mask_util.h>
#include <gtest/gtest.h>

#include "controlplane/service_defaults.h"

namespace gw::controlplane {
namespace {

namespace v1 = gateway::v1;

v1::Service stored() {
  v1::Service s;
  s.set_name("corp");
  s.set_host("smtp.example.net");
  s.set_monitoring(true);
  s.add_trusted_cas("a");
  s.add_trusted_cas("b");
  fill_service_defaults(s);
  s.mutable_limits()->set_max_recipients(10);
  s.set_has_password(true);
  return s;
}

google::protobuf::FieldMask mask(std::initializer_list<const char*> paths) {
  google::protobuf::FieldMask m;
  for (const char* p : paths) m.add_paths(p);
  return m;
}

std::string refusal(const google::protobuf::FieldMask& m) {
  auto r = merge_service_update(stored(), v1::Service(), m);
  if (r) return "accepted";
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  return r.error().message;
}

TEST(ServiceUpdateTest, RefusesEmptyUnknownRenameAndOutputOnlyPaths) {
  EXPECT_EQ(refusal(mask({})), "update_mask is empty: name the fields to change");
  EXPECT_EQ(refusal(mask({"colour"})), "update_mask path \"colour\" is not a field of Service");
  EXPECT_NE(refusal(mask({"limits.max_colour"})), "accepted");
  EXPECT_NE(refusal(mask({"host.sub"})), "accepted");
  EXPECT_EQ(refusal(mask({"port", "name"})),
            "a service cannot be renamed: delete it and create it under the new name");
  for (const char* path : {"has_password", "interfaces", "created_at_ms", "updated_at_ms"}) {
    EXPECT_NE(refusal(mask({path})).find("output only"), std::string::npos) << path;
  }
}

TEST(ServiceUpdateTest, OnlyMaskedFieldsChange) {
  v1::Service patch;
  patch.set_name("corp");
  patch.set_port(2525);
  patch.set_host("ignored.example.net");  // not in the mask
  auto r = merge_service_update(stored(), patch, mask({"port"}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value().service.port(), 2525u);
  EXPECT_EQ(r.value().service.host(), "smtp.example.net");
  EXPECT_TRUE(r.value().service.monitoring());
  EXPECT_EQ(r.value().service.limits().max_recipients(), 10u);
  EXPECT_FALSE(r.value().password_changed);
}

TEST(ServiceUpdateTest, MaskedScalarsTakeZeroValuesToo) {
  auto r = merge_service_update(stored(), v1::Service(), mask({"monitoring", "port"}));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r.value().service.monitoring());
  EXPECT_EQ(r.value().service.port(), 0u);
  fill_service_defaults(r.value().service);
  EXPECT_EQ(r.value().service.port(), 25u) << "zero means default again";
}

TEST(ServiceUpdateTest, OneLimitOrAllLimits) {
  v1::Service patch;
  patch.mutable_limits()->set_max_errors(3);
  auto one = merge_service_update(stored(), patch, mask({"limits.max_errors"}));
  ASSERT_TRUE(one);
  EXPECT_EQ(one.value().service.limits().max_errors(), 3u);
  EXPECT_EQ(one.value().service.limits().max_recipients(), 10u);

  auto all = merge_service_update(stored(), patch, mask({"limits"}));
  ASSERT_TRUE(all);
  EXPECT_EQ(all.value().service.limits().max_errors(), 3u);
  EXPECT_EQ(all.value().service.limits().max_recipients(), 0u) << "replaced as a whole";
}

TEST(ServiceUpdateTest, RepeatedFieldsAreReplacedNotAppended) {
  v1::Service patch;
  patch.add_trusted_cas("c");
  auto r = merge_service_update(stored(), patch, mask({"trusted_cas"}));
  ASSERT_TRUE(r);
  ASSERT_EQ(r.value().service.trusted_cas_size(), 1);
  EXPECT_EQ(r.value().service.trusted_cas(0), "c");
}

TEST(ServiceUpdateTest, PasswordPathIsReported) {
  v1::Service patch;
  patch.set_password("new");
  auto r = merge_service_update(stored(), patch, mask({"password"}));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r.value().password_changed);
  EXPECT_EQ(r.value().service.password(), "new");
  auto cleared = merge_service_update(stored(), v1::Service(), mask({"password"}));
  EXPECT_TRUE(cleared.value().password_changed);
  EXPECT_EQ(cleared.value().service.password(), "");
}

}  // namespace
}  // namespace gw::controlplane
