-- An operator can revoke a join token before it is used (one that leaked,
-- say). A revoked token also has its expiry moved to the revocation time, so
-- the statement that consumes tokens refuses it without knowing this column.
ALTER TABLE join_tokens ADD COLUMN revoked_at INTEGER;
