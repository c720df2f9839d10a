// Tests of migrations 002..005 on a database written by 001: existing rows get explicit TLS
// defaults, the decision timeout and the MIME caps, and stay readable through the
// repositories.
#include <gtest/gtest.h>

#include "storage/interface_repository.h"
#include "storage/service_repository.h"
#include "storage/test_temp_dir.h"

namespace gw::storage {
namespace {

TEST(Migration002Test, ExistingServicesAndInterfacesGetTlsDefaults) {
  TestTempDir dir;
  const auto all = embedded_migrations();
  ASSERT_GE(all.size(), 2u);
  {
    Database db = Database::open(dir.file("gw.db"), all.subspan(0, 1));
    ASSERT_EQ(db.schema_version(), 1);
    ASSERT_TRUE(
        db.prepare("INSERT INTO services (name, host, port, security, ciphers, instance, "
                   "max_command_line, max_auth_line, max_text_line, max_message_size, "
                   "max_recipients, max_sessions, max_sessions_per_client, idle_timeout_ms, "
                   "session_timeout_ms, data_timeout_ms, upstream_connect_timeout_ms, "
                   "upstream_timeout_ms, upstream_data_timeout_ms, max_errors, "
                   "max_idle_commands, created_at_ms, updated_at_ms) VALUES ('corp', "
                   "'smtp.example.net', 25, 'starttls', 'HIGH', 'default', 512, 12288, 1000, "
                   "36700160, 100, 1000, 50, 60000, 1800000, 600000, 30000, 300000, 600000, "
                   "20, 50, 1, 1)")
            .value()
            .run());
    ASSERT_TRUE(db.prepare("INSERT INTO interfaces (service_id, type, bind_address, port, cert, "
                           "created_at_ms) VALUES (1, 'starttls', '127.0.0.1', 2525, 'gw-cert', 1)")
                    .value()
                    .run());
  }
  Database db = Database::open(dir.file("gw.db"));
  EXPECT_EQ(db.schema_version(), all.back().version);
  SecretBox secrets = SecretBox::open_key_file(dir.file("gw.db.key"));
  auto service = ServiceRepository(db, secrets).get("corp", Secrets::kOmit);
  ASSERT_TRUE(service) << service.error().message;
  EXPECT_EQ(service.value().tls_min_version(), "1.2");
  EXPECT_FALSE(service.value().no_verify_hostname());
  EXPECT_EQ(service.value().tls_server_name(), "");
  EXPECT_EQ(service.value().ciphers(), "HIGH");
  // Migration 004 and 005 columns: the values gctld used before they were configurable.
  EXPECT_EQ(service.value().limits().decision_timeout_ms(), 1000u);
  EXPECT_EQ(service.value().limits().max_mime_parts(), 1000u);
  EXPECT_EQ(service.value().limits().max_mime_depth(), 20u);
  EXPECT_EQ(service.value().limits().max_mime_header_block(), 65536u);

  auto interfaces = InterfaceRepository(db).list("");
  ASSERT_TRUE(interfaces) << interfaces.error().message;
  ASSERT_EQ(interfaces.value().size(), 1u);
  const auto& iface = interfaces.value()[0];
  EXPECT_EQ(iface.cert(), "gw-cert");
  EXPECT_EQ(iface.ciphers(), "DEFAULT");
  EXPECT_EQ(iface.tls_min_version(), "1.2");
  EXPECT_EQ(iface.client_ca(), "");
  EXPECT_EQ(iface.sni_certs_size(), 0);
}

}  // namespace
}  // namespace gw::storage
