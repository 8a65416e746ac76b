-- Registration entries: which attested selectors earn which identity.
CREATE TABLE entries (
  id          TEXT PRIMARY KEY,
  spiffe_id   TEXT NOT NULL,
  selectors   TEXT NOT NULL,          -- JSON array, sorted, at least one
  dns_names   TEXT NOT NULL DEFAULT '[]',
  x509_ttl_ms INTEGER,
  jwt_ttl_ms  INTEGER,
  created_at  INTEGER NOT NULL,
  UNIQUE (spiffe_id, selectors)
) STRICT;
CREATE INDEX entries_by_spiffe_id ON entries (spiffe_id);

-- The entry a certificate was issued under; renewal needs it to still exist.
ALTER TABLE certificates ADD COLUMN entry_id TEXT;
