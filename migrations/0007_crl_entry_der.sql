-- Each revoked certificate's CRL entry, DER-encoded by SQLite, and an index
-- that holds it, so a CRL build concatenates stored entries and encodes
-- nothing per entry (RFC 5280 §5.1.2.6):
--
--   SEQUENCE { INTEGER serial, Time revocationDate, [Extensions { reasonCode }] }
--
-- The column is VIRTUAL: computed from the row wherever SQLite needs it, and
-- kept in the index below for revoked rows, so no writer can leave it stale.
-- Lengths are computed from the hex serial (the concatenations are text that
-- may hold zero octets, which length() would stop at), and every length stays
-- below 128 so that char() makes one octet and a short-form DER length. A
-- serial longer than 20 octets, one with a leading zero octet (its INTEGER
-- would not be minimal, which DER requires and OpenSSL enforces), or a date
-- SQLite cannot format makes the entry NULL, which the build refuses
-- (count(crl_entry) < count(*)) rather than leave a revoked certificate out.
-- Tessera stores serials as minimal hex of at most 20 octets. Time: UTCTime
-- from 1950 to 2049, GeneralizedTime outside (RFC 5280 §5.1.2.4), in whole
-- seconds. The reason extension is written for the codes RFC 5280 defines
-- other than unspecified (0) and the unused 7. src/crl/build-crl.ts encodes the same entries in
-- TypeScript, and a test compares the two byte for byte.
ALTER TABLE certificates ADD COLUMN crl_entry BLOB GENERATED ALWAYS AS (
  CASE WHEN revoked_at IS NULL OR length(serial) > 40 OR serial GLOB '00?*' THEN NULL ELSE CAST(
    x'30' || char(
      2 + (CASE WHEN serial = '' THEN 1 WHEN substr(serial, 1, 1) >= '8' THEN length(serial) / 2 + 1 ELSE length(serial) / 2 END)
        + (CASE WHEN revoked_at / 1000 >= -631152000 AND revoked_at / 1000 < 2524608000 THEN 15 ELSE 17 END)
        + (CASE WHEN revocation_reason IN (1, 2, 3, 4, 5, 6, 8, 9, 10) THEN 14 ELSE 0 END)
    )
    || x'02' || char(CASE WHEN serial = '' THEN 1 WHEN substr(serial, 1, 1) >= '8' THEN length(serial) / 2 + 1 ELSE length(serial) / 2 END)
    || (CASE WHEN serial = '' THEN x'00' WHEN substr(serial, 1, 1) >= '8' THEN x'00' || unhex(serial) ELSE unhex(serial) END)
    || (CASE WHEN revoked_at / 1000 >= -631152000 AND revoked_at / 1000 < 2524608000
          THEN x'170d' || substr(strftime('%Y%m%d%H%M%S', revoked_at / 1000, 'unixepoch'), 3)
          ELSE x'180f' || strftime('%Y%m%d%H%M%S', revoked_at / 1000, 'unixepoch') END) || 'Z'
    || (CASE WHEN revocation_reason IN (1, 2, 3, 4, 5, 6, 8, 9, 10)
          THEN x'300c300a0603551d1504030a01' || char(revocation_reason) ELSE x'' END)
  AS BLOB) END
) VIRTUAL;

DROP INDEX IF EXISTS certificates_crl_entries;
CREATE INDEX certificates_crl_der ON certificates (issuer_id, not_after, crl_entry) WHERE revoked_at IS NOT NULL;
