-- 003: policies, the handlers that bind them to SMTP commands, the authentication
-- repository and the audit trail of decisions (DESIGN.md §5, §6, §7; issue 4).

-- A policy (DESIGN.md §6): its filter chain is kept as the YAML the operator wrote, so new
-- filter types need no migration; the control plane validates it before every write.
CREATE TABLE policies (
  name TEXT PRIMARY KEY CHECK (length(name) > 0),
  -- "550 5.7.1 text with ${attr}"; '': the command's default reply.
  reply TEXT NOT NULL DEFAULT '',
  filters_yaml TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
) STRICT;

-- Binds a policy to one SMTP command of a service (DESIGN.md §2 "handler", §5). The id is
-- also the creation order that breaks best-match ties, so AUTOINCREMENT: never reused.
-- A policy still bound here cannot be deleted (RESTRICT; the repository names the handlers
-- first, this is the last line).
CREATE TABLE handlers (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
  command TEXT NOT NULL CHECK (command IN ('helo', 'auth', 'mail', 'rcpt', 'data')),
  policy TEXT NOT NULL REFERENCES policies (name) ON DELETE RESTRICT,
  -- helo only: greeting template; mail/rcpt only: wildcard address pattern. The control
  -- plane fills the defaults ("Hello ${smtp.helo.domain}", "*") before it writes.
  greeting TEXT NOT NULL DEFAULT '',
  address TEXT NOT NULL DEFAULT '',
  created_at_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX handlers_by_service ON handlers (service_id);
-- The foreign-key check of a policy delete looks handlers up by policy.
CREATE INDEX handlers_by_policy ON handlers (policy);

-- The authentication repository (attribute_authentication filter). Only a salted slow
-- hash is stored ("$argon2id$..." or the like); the plaintext never reaches storage.
CREATE TABLE users (
  name TEXT PRIMARY KEY CHECK (length(name) > 0),
  password_hash TEXT NOT NULL CHECK (length(password_hash) > 0),
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
) STRICT;

-- One row per decision (issue 4 "Audit"). Rows name services, handlers and policies by
-- value, not by reference: the trail outlives the configuration it describes.
-- seq is the follow cursor (`gctl audit --follow`): AUTOINCREMENT so that pruning every
-- row never makes a cursor value come round again; decision_id is the operator's key.
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  decision_id TEXT NOT NULL UNIQUE,
  time_ms INTEGER NOT NULL,
  node_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  service TEXT NOT NULL,
  interface_id INTEGER NOT NULL,
  client_address TEXT NOT NULL,
  command TEXT NOT NULL
    CHECK (command IN ('unspecified', 'helo', 'auth', 'mail', 'rcpt', 'data')),
  handler_id INTEGER NOT NULL,
  policy TEXT NOT NULL,
  verdict TEXT NOT NULL CHECK (verdict IN ('unspecified', 'continue', 'reject', 'tempfail')),
  reply_code INTEGER NOT NULL,
  reply_enhanced TEXT NOT NULL,
  reply_text TEXT NOT NULL,
  latency_us INTEGER NOT NULL,
  -- JSON object of the message attributes, authentication.subject.password removed.
  attributes_json TEXT NOT NULL
) STRICT;

CREATE INDEX audit_by_time ON audit (time_ms);
CREATE INDEX audit_by_service_time ON audit (service, time_ms);
