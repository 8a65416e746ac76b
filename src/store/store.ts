import { TesseraError } from "../errors.js";

/**
 * The storage seam. Methods are grouped by aggregate and each is one atomic
 * step; they are async so that a networked backend (PostgreSQL) changes no
 * call site. Every mutating method takes the audit event that describes it and
 * appends it in the same transaction.
 */

export type CaKeyKind = "x509_root" | "x509_intermediate" | "jwt";
export type CaKeyState = "prepared" | "active" | "retired";

export interface CaKeyRecord {
  id: string;
  kind: CaKeyKind;
  state: CaKeyState;
  keyType: string;
  encryptedPrivateKey: Buffer;
  publicKeySpki: Buffer;
  certificateDer: Buffer | null;
  parentId: string | null;
  notBefore: number;
  notAfter: number;
  createdAt: number;
  activatedAt: number | null;
  retiredAt: number | null;
  /** When its private key was erased (a retired key past its validity); the blob is then empty. */
  destroyedAt: number | null;
}

export interface CertificateRecord {
  serial: string;
  spiffeId: string;
  issuerId: string;
  notBefore: number;
  notAfter: number;
  der: Buffer;
  attestation: string;
  issuedAt: number;
  revokedAt: number | null;
  revocationReason: number | null;
  /** The registration entry it was issued under, if any. */
  entryId?: string | null;
}

export interface JoinTokenRecord {
  tokenHash: string;
  spiffeId: string;
  selectors: string[];
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  usedBySerial: string | null;
  /** Set when an operator revoked it before use. */
  revokedAt: number | null;
}

export type JoinTokenStatus = "unused" | "used" | "expired" | "revoked";

export function joinTokenStatus(t: JoinTokenRecord, now: number): JoinTokenStatus {
  if (t.usedAt !== null) return "used";
  if (t.revokedAt !== null) return "revoked";
  return t.expiresAt <= now ? "expired" : "unused";
}

export interface EntryRecord {
  id: string;
  spiffeId: string;
  selectors: string[];
  dnsNames: string[];
  x509TtlMs: number | null;
  jwtTtlMs: number | null;
  createdAt: number;
}

export interface JwtSvidRecord {
  jti: string;
  spiffeId: string;
  audience: string[];
  keyId: string;
  issuedAt: number;
  expiresAt: number;
}

export interface AuditEvent {
  actor: string;
  action: string;
  subject: string;
  details: Record<string, unknown>;
}

export interface AuditRecord extends AuditEvent {
  seq: number;
  at: number;
  prevHash: string;
  hash: string;
}

/** The start of the audit log, written to a file and deleted from the table (`tessera audit archive`). */
export interface AuditArchive {
  /** The last row archived; the table keeps the rows after it. */
  throughSeq: number;
  /** That row's hash: where the chain that remains continues from. */
  headHash: string;
  rows: number;
  fileSha256: string;
  fileName: string;
  archivedAt: number;
}

export interface StoredCrl {
  issuerId: string;
  number: number;
  thisUpdate: number;
  nextUpdate: number;
  der: Buffer;
  /** Earliest expiry among the listed certificates: the CRL is rebuilt then, so they drop off. */
  dropAt?: number | null;
}

/**
 * Revocations for one CRL: `der` is every entry of its revokedCertificates
 * list, DER-encoded and concatenated (no object per entry: a CRL can list a
 * million).
 */
export interface RevokedEntries {
  count: number;
  der: Buffer;
  /** Earliest expiry among them (epoch ms), or null if none. */
  earliestExpiry: number | null;
}

export interface CertificateFilter {
  spiffeId?: string;
  status?: "active" | "expired" | "revoked";
  now: number;
  limit?: number;
}

export type IssueOutcome = { ok: true } | { ok: false; reason: "token_used" | "token_expired" | "token_unknown" };

/** Turns a refused issuance (its join token was used meanwhile) into the caller's error. */
export function ensureRecorded(outcome: IssueOutcome): void {
  if (outcome.ok) return;
  if (outcome.reason === "token_used") throw new TesseraError("token_used", "join token has already been used");
  throw new TesseraError("attestation_failed", "join token is not valid");
}

export interface Store {
  // settings
  getSettings(): Promise<Record<string, string>>;
  putSettings(values: Record<string, string>): Promise<void>;
  /** Appends an audit row for an event that changes nothing else (a backup, say). */
  recordEvent(audit: AuditEvent): Promise<void>;

  // CA keys
  listCaKeys(): Promise<CaKeyRecord[]>;
  /** A string that changes whenever a key is added or changes state (cheap: polled by every process). */
  caKeysVersion(): Promise<string>;
  insertCaKey(key: CaKeyRecord, audit: AuditEvent): Promise<void>;
  /**
   * Inserts a prepared successor of its kind unless one is already prepared;
   * returns the prepared key that exists afterwards (this one or the other).
   */
  prepareCaKey(key: CaKeyRecord, audit: AuditEvent): Promise<CaKeyRecord>;
  /**
   * Makes the prepared key `id` active and retires the active key of its kind,
   * atomically. False if `id` is no longer prepared (someone else activated it).
   */
  activateCaKey(id: string, now: number, audit: AuditEvent): Promise<boolean>;
  /**
   * Erases the private key of every retired key whose validity ended by
   * `now`, with an audit row each (`audit` builds it); returns those keys.
   */
  destroyExpiredCaKeys(now: number, audit: (key: CaKeyRecord) => AuditEvent): Promise<CaKeyRecord[]>;

  // certificates
  /**
   * Records an issued certificate. With `joinTokenHash`, also consumes that
   * token in the same transaction; if the token is no longer usable nothing is
   * recorded and the outcome says why.
   */
  recordCertificate(cert: CertificateRecord, audit: AuditEvent, joinToken?: { hash: string; now: number }): Promise<IssueOutcome>;
  /** Records an issued JWT-SVID (its jti must be new), consuming a join token like `recordCertificate`. */
  recordJwtSvid(token: JwtSvidRecord, audit: AuditEvent, joinToken?: { hash: string; now: number }): Promise<IssueOutcome>;
  getCertificate(serial: string): Promise<CertificateRecord | undefined>;
  /** When a certificate was revoked (null: it is not); undefined if there is no such record. */
  revokedAt(serial: string): Promise<number | null | undefined>;
  listCertificates(filter: CertificateFilter): Promise<CertificateRecord[]>;
  /** Revokes the given serials, or every unexpired certificate of a SPIFFE ID; returns what it revoked. */
  revoke(
    target: { serial: string } | { spiffeId: string },
    reason: number,
    now: number,
    audit: AuditEvent,
  ): Promise<CertificateRecord[]>;

  // registration entries
  /** Inserts an entry; false if one with the same SPIFFE ID and selectors exists. */
  insertEntry(entry: EntryRecord, audit: AuditEvent): Promise<boolean>;
  listEntries(filter?: { spiffeId?: string }): Promise<EntryRecord[]>;
  getEntry(id: string): Promise<EntryRecord | undefined>;
  deleteEntry(id: string, audit: AuditEvent): Promise<boolean>;

  // join tokens
  insertJoinToken(token: JoinTokenRecord, audit: AuditEvent): Promise<void>;
  getJoinToken(hash: string): Promise<JoinTokenRecord | undefined>;
  /** Join tokens, newest first; `status` as `joinTokenStatus` gives it at `now`. */
  listJoinTokens(filter: { spiffeId?: string; status?: JoinTokenStatus; now: number; limit: number }): Promise<JoinTokenRecord[]>;
  /**
   * Revokes the unused, unexpired tokens that `which` names (the token whose
   * hash begins with `hashPrefix`, or every one of `spiffeId`), with an audit
   * row each; returns them. Revoking by prefix refuses an ambiguous prefix.
   */
  revokeJoinTokens(
    which: { hashPrefix: string } | { spiffeId: string },
    now: number,
    audit: (t: JoinTokenRecord) => AuditEvent,
  ): Promise<JoinTokenRecord[]>;

  // CRLs
  /**
   * Issuers whose CRL is missing, stale (revocations since it was built), due
   * before `refreshBefore`, or lists a certificate that has expired by `now`.
   */
  crlsNeedingBuild(issuerIds: string[], now: number, refreshBefore: number): Promise<string[]>;
  /** A snapshot for building a CRL: the next number, the revision it covers, unexpired revocations. */
  beginCrlBuild(issuerId: string, now: number): Promise<{ number: number; revision: number; revoked: RevokedEntries }>;
  /** Stores a built CRL unless a newer one was stored meanwhile; true if stored. */
  saveCrl(crl: StoredCrl, revision: number): Promise<boolean>;
  getCrl(issuerId: string): Promise<StoredCrl | undefined>;
  /** The number of the stored CRL (cheap: to tell whether the cached one is current). */
  crlNumber(issuerId: string): Promise<number | undefined>;

  // retention
  /**
   * Deletes certificates and JWT-SVID records that expired before `before`,
   * and spent or expired join tokens; returns how many of each went.
   */
  prune(before: number, audit: AuditEvent): Promise<{ certificates: number; jwtSvids: number; joinTokens: number }>;

  // audit
  listAudit(options?: { afterSeq?: number; limit?: number }): Promise<AuditRecord[]>;
  /** Every row after `afterSeq`, oldest first, read as it is consumed (a log of millions of rows never sits in memory). */
  auditRows(afterSeq?: number): IterableIterator<AuditRecord>;
  /** The newest row such that it and every row before it were made before `before` (0 if none). */
  lastAuditSeqBefore(before: number): Promise<number>;
  /** Archives so far, oldest first. */
  auditArchives(): Promise<AuditArchive[]>;
  /**
   * Records an archive, with its audit row, once its file is on disk. Refused
   * unless it continues the newest archive and its head is the table's row
   * at `throughSeq`.
   */
  recordAuditArchive(archive: AuditArchive, audit: AuditEvent): Promise<void>;
  /** Deletes rows an archive covers, in slices; returns how many went. */
  deleteArchivedAudit(): Promise<number>;

  close(): void;
}
