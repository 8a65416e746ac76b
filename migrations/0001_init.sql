-- Tessera initial schema. Times are milliseconds since the Unix epoch.

CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

-- Every CA key: the X.509 root(s), the intermediate issuing CAs and the JWT signing keys.
CREATE TABLE ca_keys (
  id                    TEXT PRIMARY KEY,
  kind                  TEXT NOT NULL CHECK (kind IN ('x509_root', 'x509_intermediate', 'jwt')),
  state                 TEXT NOT NULL CHECK (state IN ('prepared', 'active', 'retired')),
  key_type              TEXT NOT NULL,
  encrypted_private_key BLOB NOT NULL,
  public_key_spki       BLOB NOT NULL,
  certificate_der       BLOB,
  parent_id             TEXT REFERENCES ca_keys (id),
  not_before            INTEGER NOT NULL,
  not_after             INTEGER NOT NULL,
  created_at            INTEGER NOT NULL,
  activated_at          INTEGER,
  retired_at            INTEGER
) STRICT;
CREATE UNIQUE INDEX ca_keys_one_active ON ca_keys (kind) WHERE state = 'active';

CREATE TABLE certificates (
  serial            TEXT PRIMARY KEY,   -- lower-case hex, no leading sign byte
  spiffe_id         TEXT NOT NULL,
  issuer_id         TEXT NOT NULL REFERENCES ca_keys (id),
  not_before        INTEGER NOT NULL,
  not_after         INTEGER NOT NULL,
  der               BLOB NOT NULL,
  attestation       TEXT NOT NULL,
  issued_at         INTEGER NOT NULL,
  revoked_at        INTEGER,
  revocation_reason INTEGER
) STRICT;
CREATE INDEX certificates_by_spiffe_id ON certificates (spiffe_id, not_after);
CREATE INDEX certificates_by_not_after ON certificates (not_after);
CREATE INDEX certificates_revoked ON certificates (issuer_id, not_after) WHERE revoked_at IS NOT NULL;

-- Join tokens are stored only as SHA-256 hashes.
CREATE TABLE join_tokens (
  token_hash     TEXT PRIMARY KEY,
  spiffe_id      TEXT NOT NULL,
  selectors      TEXT NOT NULL DEFAULT '[]',
  created_at     INTEGER NOT NULL,
  expires_at     INTEGER NOT NULL,
  used_at        INTEGER,
  used_by_serial TEXT
) STRICT;

-- One CRL per issuing key. `revision` moves on every revocation; the CRL is
-- stale while built_revision < revision. CRL numbers only ever grow.
CREATE TABLE crls (
  issuer_id      TEXT PRIMARY KEY REFERENCES ca_keys (id),
  last_number    INTEGER NOT NULL DEFAULT 0,
  revision       INTEGER NOT NULL DEFAULT 1,
  built_revision INTEGER NOT NULL DEFAULT 0,
  number         INTEGER,
  this_update    INTEGER,
  next_update    INTEGER,
  drop_at        INTEGER,            -- earliest expiry among the listed certificates
  der            BLOB
) STRICT;

-- Append-only, hash-chained record of every security-relevant action.
CREATE TABLE audit_log (
  seq       INTEGER PRIMARY KEY,
  at        INTEGER NOT NULL,
  actor     TEXT NOT NULL,
  action    TEXT NOT NULL,
  subject   TEXT NOT NULL,
  details   TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash      TEXT NOT NULL
) STRICT;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE (ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE (ABORT, 'audit_log is append-only'); END;
