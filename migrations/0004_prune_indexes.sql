-- Pruning deletes by expiry; JWT-SVID records are looked up by expiry too.
CREATE INDEX IF NOT EXISTS jwt_svids_by_key ON jwt_svids (key_id, expires_at);
