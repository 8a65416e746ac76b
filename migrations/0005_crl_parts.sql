-- A built CRL's DER in slices. Bound as one blob, a CRL of several megabytes
-- was copied twice inside SQLite on every save; a slice at a time it is not.
CREATE TABLE crl_parts (
  issuer_id TEXT NOT NULL REFERENCES crls (issuer_id),
  idx       INTEGER NOT NULL,
  bytes     BLOB NOT NULL,
  PRIMARY KEY (issuer_id, idx)
) STRICT;

INSERT INTO crl_parts (issuer_id, idx, bytes) SELECT issuer_id, 0, der FROM crls WHERE der IS NOT NULL;
-- a CRL has been built once `number` is set
UPDATE crls SET number = NULL WHERE der IS NULL;
ALTER TABLE crls DROP COLUMN der;
