-- 001: services, their interfaces, relay nodes and the configuration version counter.
-- Later migrations add handlers, policies, users, certificates and the audit log.

-- One outbound configuration (DESIGN.md §2 "service"). Enums are stored as their lower-case
-- names so the file is readable with the sqlite3 shell. Limits always hold explicit values:
-- the control plane fills the defaults in before it writes a row.
CREATE TABLE services (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  host TEXT NOT NULL,
  port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
  security TEXT NOT NULL CHECK (security IN ('none', 'ssl', 'starttls')),
  client_cert TEXT NOT NULL DEFAULT '',
  ciphers TEXT NOT NULL,
  username TEXT NOT NULL DEFAULT '',
  -- Upstream password sealed with AES-256-GCM (storage/secret_box.h); NULL: none stored.
  password_sealed BLOB,
  monitoring INTEGER NOT NULL DEFAULT 0 CHECK (monitoring IN (0, 1)),
  instance TEXT NOT NULL,
  fail_open INTEGER NOT NULL DEFAULT 0 CHECK (fail_open IN (0, 1)),
  allow_plaintext_auth INTEGER NOT NULL DEFAULT 0 CHECK (allow_plaintext_auth IN (0, 1)),
  require_tls INTEGER NOT NULL DEFAULT 0 CHECK (require_tls IN (0, 1)),
  hostname TEXT NOT NULL DEFAULT '',
  max_command_line INTEGER NOT NULL,
  max_auth_line INTEGER NOT NULL,
  max_text_line INTEGER NOT NULL,
  max_message_size INTEGER NOT NULL,
  max_recipients INTEGER NOT NULL,
  max_sessions INTEGER NOT NULL,
  max_sessions_per_client INTEGER NOT NULL,
  idle_timeout_ms INTEGER NOT NULL,
  session_timeout_ms INTEGER NOT NULL,
  data_timeout_ms INTEGER NOT NULL,
  upstream_connect_timeout_ms INTEGER NOT NULL,
  upstream_timeout_ms INTEGER NOT NULL,
  upstream_data_timeout_ms INTEGER NOT NULL,
  max_errors INTEGER NOT NULL,
  max_idle_commands INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX services_by_instance ON services (instance);

-- Names of the trust anchors of a service, in the operator's order. They will refer to the
-- certificates table once it exists.
CREATE TABLE service_trusted_cas (
  service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  ca_name TEXT NOT NULL,
  PRIMARY KEY (service_id, position)
) STRICT;

-- One inbound listener of a service (DESIGN.md §2 "interface"). bind_address is stored in
-- canonical form (inet_ntop), so UNIQUE sees "::0001" and "::1" as the same address.
-- AUTOINCREMENT: the id of a deleted interface is never handed out again, relay nodes key
-- their listeners by it.
CREATE TABLE interfaces (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
  type TEXT NOT NULL CHECK (type IN ('tcp', 'ssl', 'starttls')),
  bind_address TEXT NOT NULL,
  port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
  cert TEXT NOT NULL DEFAULT '',
  created_at_ms INTEGER NOT NULL,
  UNIQUE (bind_address, port)
) STRICT;

CREATE INDEX interfaces_by_service ON interfaces (service_id);
CREATE INDEX interfaces_by_port ON interfaces (port);

-- Relay nodes that registered or watched (DESIGN.md §2 "node"). Whether a node is
-- connected right now is process state of the control plane, not stored.
CREATE TABLE nodes (
  node_id TEXT PRIMARY KEY,
  instance TEXT NOT NULL,
  hostname TEXT NOT NULL DEFAULT '',
  version TEXT NOT NULL DEFAULT '',
  registered_at_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL
) STRICT;

-- The configuration version: one row, bumped in the same transaction as every change, so
-- snapshot versions only grow, across restarts too.
CREATE TABLE config_version (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL CHECK (version >= 0)
) STRICT;

INSERT INTO config_version (id, version) VALUES (1, 0);
