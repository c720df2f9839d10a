-- 002: the certificate store and the TLS settings of services and interfaces (issue 3).

-- Named certificate chains (DESIGN.md §6 `certificates`). Subject, SANs, validity and the
-- fingerprint are derived from cert_pem when read, so they can never disagree with it.
CREATE TABLE certificates (
  name TEXT PRIMARY KEY,
  -- PEM chain, leaf first; only CERTIFICATE blocks (the control plane checks every block).
  cert_pem TEXT NOT NULL,
  -- The leaf's private key (PKCS#8 PEM) sealed with AES-256-GCM like services.password_sealed
  -- (storage/secret_box.h); NULL: a trust anchor without key.
  key_pem_sealed BLOB,
  created_at_ms INTEGER NOT NULL
) STRICT;

-- Upstream leg of a service. References to certificates stay by name (services.client_cert,
-- service_trusted_cas.ca_name): "system" in trusted_cas is no row, and the control plane
-- refuses to delete a certificate still named, with a message naming the referrer.
ALTER TABLE services ADD COLUMN tls_min_version TEXT NOT NULL DEFAULT '1.2'
  CHECK (tls_min_version IN ('1.2', '1.3'));
ALTER TABLE services ADD COLUMN no_verify_hostname INTEGER NOT NULL DEFAULT 0
  CHECK (no_verify_hostname IN (0, 1));
ALTER TABLE services ADD COLUMN tls_server_name TEXT NOT NULL DEFAULT '';

-- Inbound leg of an interface (interfaces.cert exists since 001).
ALTER TABLE interfaces ADD COLUMN client_ca TEXT NOT NULL DEFAULT '';
ALTER TABLE interfaces ADD COLUMN ciphers TEXT NOT NULL DEFAULT 'DEFAULT';
ALTER TABLE interfaces ADD COLUMN tls_min_version TEXT NOT NULL DEFAULT '1.2'
  CHECK (tls_min_version IN ('1.2', '1.3'));

-- Certificates chosen by the TLS server name a client sends (RFC 6066 §3), in the operator's
-- order. server_name is stored lower-case, so UNIQUE sees "MX.example" and "mx.example" as one.
CREATE TABLE interface_sni_certs (
  interface_id INTEGER NOT NULL REFERENCES interfaces (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  server_name TEXT NOT NULL,
  cert TEXT NOT NULL,
  PRIMARY KEY (interface_id, position),
  UNIQUE (interface_id, server_name)
) STRICT;

-- Reference lookups when a certificate is deleted or changed.
CREATE INDEX service_trusted_cas_by_name ON service_trusted_cas (ca_name);
CREATE INDEX interface_sni_certs_by_cert ON interface_sni_certs (cert);
