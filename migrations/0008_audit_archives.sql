-- Archiving the start of the audit log: rows up to `through_seq` are written
-- to a file by `tessera audit archive`, then deleted from audit_log. Each
-- archive is recorded here (and by an `audit.archive` row in the chain
-- itself), and verification of what remains starts from the newest one's
-- head hash. Rows may be deleted only once an archive covers them; nothing
-- here may be changed or removed.
CREATE TABLE audit_archives (
  through_seq INTEGER PRIMARY KEY,
  head_hash   TEXT NOT NULL,
  rows        INTEGER NOT NULL,
  file_sha256 TEXT NOT NULL,
  file_name   TEXT NOT NULL,
  archived_at INTEGER NOT NULL
) STRICT;
CREATE TRIGGER audit_archives_no_update BEFORE UPDATE ON audit_archives
BEGIN SELECT RAISE (ABORT, 'audit_archives is append-only'); END;
CREATE TRIGGER audit_archives_no_delete BEFORE DELETE ON audit_archives
BEGIN SELECT RAISE (ABORT, 'audit_archives is append-only'); END;

DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN OLD.seq > coalesce((SELECT max(through_seq) FROM audit_archives), 0)
BEGIN SELECT RAISE (ABORT, 'audit_log is append-only'); END;
