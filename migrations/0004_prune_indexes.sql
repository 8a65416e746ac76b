-- Pruning deletes JWT-SVID records by expiry.
CREATE INDEX IF NOT EXISTS jwt_svids_by_key ON jwt_svids (key_id, expires_at);

-- A covering index for CRL builds: every column a CRL entry needs, for revoked
-- rows only, so a build reads the index alone and never the certificate rows.
DROP INDEX IF EXISTS certificates_revoked;
CREATE INDEX certificates_revoked_covering ON certificates (issuer_id, not_after, serial, revoked_at, revocation_reason)
  WHERE revoked_at IS NOT NULL;
