-- Every JWT-SVID issued: its jti (never reused) and audience.
CREATE TABLE jwt_svids (
  jti        TEXT PRIMARY KEY,
  spiffe_id  TEXT NOT NULL,
  audience   TEXT NOT NULL,   -- JSON array
  key_id     TEXT NOT NULL REFERENCES ca_keys (id),
  issued_at  INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX jwt_svids_by_expiry ON jwt_svids (expires_at);
