-- Retires the covering index of 0004. Until 2026-12-02 this migration also
-- built an index of packed CRL entries; 0007 replaced it with DER-encoded
-- entries and drops it where it was built, so an upgrade no longer builds an
-- index only to drop it (~0.4 s per 100k revoked certificates). A database
-- that applied the earlier text ends in the same schema after 0007.
DROP INDEX IF EXISTS certificates_revoked_covering;
