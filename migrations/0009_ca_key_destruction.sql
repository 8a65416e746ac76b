-- A retired CA key whose validity has ended can sign nothing that verifies
-- any more; its encrypted private key is then erased (set to an empty blob)
-- and the time recorded here. The public key and certificate stay, for
-- `ca status` and investigations.
ALTER TABLE ca_keys ADD COLUMN destroyed_at INTEGER;
