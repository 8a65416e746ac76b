import { join } from "node:path";
import Database from "better-sqlite3";
import { TesseraError } from "../../errors.js";
import { packageRoot } from "../../package-root.js";
import { BUNDLE_SEQUENCE_FLOOR_KEY, SHIPPED_KEY } from "../settings-keys.js";
import type {
  AuditArchive,
  AuditEvent,
  AuditRecord,
  CaKeyRecord,
  CertificateFilter,
  CertificateRecord,
  EntryRecord,
  IssueOutcome,
  JoinTokenRecord,
  JoinTokenStatus,
  JwtSvidRecord,
  RevokedEntries,
  Store,
  StoredCrl,
} from "../store.js";
import { joinTokenStatus } from "../store.js";
import { AuditAppender } from "./audit-appender.js";
import { GroupCommitQueue } from "./group-commit.js";
import { CERT_COLUMNS, IssuanceBatchWriter, type IssuanceOp } from "./issuance-batch.js";
import { loadMigrations, migrate } from "./migrate.js";
import { type CheckpointReport, FALLBACK_AUTOCHECKPOINT_FRAMES, truncateWal, WalCheckpointer } from "./wal-checkpointer.js";
import { HeldFile, WalSync } from "./wal-sync.js";

type Row = Record<string, unknown>;

/** How often the checkpoint thread looks at the WAL: ~600 frames apart at ~4,500 issuances/s. */
const CHECKPOINT_INTERVAL_MS = 100;

/**
 * A CRL build's snapshot of one issuer's revoked entries: the DER of every
 * entry, concatenated by SQLite from the index of migration 0007, which holds
 * each entry already encoded (100k entries: one 4.6 MB blob, no object or
 * encoding work per entry in JS). group_concat keeps a value's bytes as they
 * are (length-counted: zero octets survive) and CAST makes its text a blob
 * again. count(crl_entry) falls short of count(*) only if SQLite could not
 * encode an entry; the build then fails rather than leave it out.
 */
export const CRL_SNAPSHOT_SQL = `SELECT count(*) AS n, count(crl_entry) AS encoded,
       CAST(group_concat(crl_entry, '') AS BLOB) AS der,
       min(not_after) AS earliest
FROM certificates INDEXED BY certificates_crl_der
WHERE issuer_id = ? AND revoked_at IS NOT NULL AND not_after > ?`;

const BUSY_TIMEOUT_MS = 10_000;
/**
 * A stored CRL is written in slices of this size (see migrations/0005_crl_parts.sql).
 * SQLite copies a bound blob and builds its record in buffers of the slice's
 * size; below glibc's mmap threshold as workers set it (128 KiB) those come
 * from the heap and are reused, not mapped and faulted in afresh per slice
 * (100k-entry save: ~67 ms with 256 KiB slices, ~37 ms with 64 KiB).
 */
const CRL_SLICE_BYTES = 64 * 1024;

const CA_KEY_COLUMNS =
  "id, kind, state, key_type, encrypted_private_key, public_key_spki, certificate_der, parent_id, not_before, not_after, created_at, activated_at, retired_at, destroyed_at";

function caKeyFromRow(r: Row): CaKeyRecord {
  return {
    id: r.id as string,
    kind: r.kind as CaKeyRecord["kind"],
    state: r.state as CaKeyRecord["state"],
    keyType: r.key_type as string,
    encryptedPrivateKey: r.encrypted_private_key as Buffer,
    publicKeySpki: r.public_key_spki as Buffer,
    certificateDer: (r.certificate_der as Buffer | null) ?? null,
    parentId: (r.parent_id as string | null) ?? null,
    notBefore: r.not_before as number,
    notAfter: r.not_after as number,
    createdAt: r.created_at as number,
    activatedAt: (r.activated_at as number | null) ?? null,
    retiredAt: (r.retired_at as number | null) ?? null,
    destroyedAt: (r.destroyed_at as number | null) ?? null,
  };
}

function joinTokenFromRow(r: Row): JoinTokenRecord {
  return {
    tokenHash: r.token_hash as string,
    spiffeId: r.spiffe_id as string,
    selectors: JSON.parse(r.selectors as string) as string[],
    createdAt: r.created_at as number,
    expiresAt: r.expires_at as number,
    usedAt: (r.used_at as number | null) ?? null,
    usedBySerial: (r.used_by_serial as string | null) ?? null,
    revokedAt: (r.revoked_at as number | null) ?? null,
  };
}

function certFromRow(r: Row): CertificateRecord {
  return {
    serial: r.serial as string,
    spiffeId: r.spiffe_id as string,
    issuerId: r.issuer_id as string,
    notBefore: r.not_before as number,
    notAfter: r.not_after as number,
    der: r.der as Buffer,
    attestation: r.attestation as string,
    issuedAt: r.issued_at as number,
    revokedAt: (r.revoked_at as number | null) ?? null,
    revocationReason: (r.revocation_reason as number | null) ?? null,
    entryId: (r.entry_id as string | null) ?? null,
  };
}

function entryFromRow(r: Row): EntryRecord {
  return {
    id: r.id as string,
    spiffeId: r.spiffe_id as string,
    selectors: JSON.parse(r.selectors as string) as string[],
    dnsNames: JSON.parse(r.dns_names as string) as string[],
    x509TtlMs: (r.x509_ttl_ms as number | null) ?? null,
    jwtTtlMs: (r.jwt_ttl_ms as number | null) ?? null,
    createdAt: r.created_at as number,
  };
}

function auditFromRow(r: Row): AuditRecord {
  return {
    seq: r.seq as number,
    at: r.at as number,
    actor: r.actor as string,
    action: r.action as string,
    subject: r.subject as string,
    details: JSON.parse(r.details as string) as Record<string, unknown>,
    prevHash: r.prev_hash as string,
    hash: r.hash as string,
  };
}

export interface SqliteStoreOptions {
  /** Time source for audit rows. */
  now: () => number;
  /** `FULL` (default) survives power loss; `NORMAL` survives process crashes. */
  synchronous?: "FULL" | "NORMAL";
}

/** Statements prepared once, for the reads on request paths. */
function hotStatements(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    getCert: p(`SELECT ${CERT_COLUMNS} FROM certificates WHERE serial = ?`),
    revokedAt: p("SELECT revoked_at FROM certificates WHERE serial = ?").pluck(),
    getToken: p("SELECT * FROM join_tokens WHERE token_hash = ?"),
    entries: p("SELECT * FROM entries ORDER BY spiffe_id, id"),
    entriesById: p("SELECT * FROM entries WHERE spiffe_id = ? ORDER BY spiffe_id, id"),
    getEntry: p("SELECT * FROM entries WHERE id = ?"),
    putSetting: p("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
    // built in SQLite: reading every key record (blobs and all) costs ~10 µs a row in JS
    caKeysVersion: p(
      "SELECT ifnull(group_concat(id || ':' || state || ':' || ifnull(destroyed_at, ''), ','), '') FROM ca_keys",
    ).pluck(),
  };
}

/** The SQLite backend: one file in WAL mode, shared safely by several processes. */
export class SqliteStore implements Store {
  readonly db: Database.Database;
  private readonly audit: AuditAppender;
  private readonly issuance: GroupCommitQueue;
  private readonly stmt: ReturnType<typeof hotStatements>;
  private checkpointer: WalCheckpointer | undefined;
  private readonly walFile: HeldFile;

  constructor(
    file: string,
    private readonly options: SqliteStoreOptions,
  ) {
    this.db = new Database(file);
    this.walFile = new HeldFile(`${this.db.name}-wal`);
    const journal = this.db.pragma("journal_mode = WAL", { simple: true });
    const synchronous = options.synchronous ?? "FULL";
    this.db.pragma(`synchronous = ${synchronous}`);
    this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    this.db.pragma("foreign_keys = ON");
    this.db.pragma("secure_delete = FAST");
    migrate(this.db, loadMigrations(join(packageRoot(), "migrations")), options.now());
    this.audit = new AuditAppender(this.db);
    this.issuance = new GroupCommitQueue(this.db, new IssuanceBatchWriter(this.db, this.audit), {
      busyTimeoutMs: BUSY_TIMEOUT_MS,
      synchronous,
      walSync: journal === "wal" ? new WalSync(this.walFile.sync) : undefined,
    });
    this.stmt = hotStatements(this.db);
  }

  /**
   * For a long-running server: the WAL is checkpointed on a thread of its own
   * rather than inside request-path commits (see WalCheckpointer). Should the
   * thread stop, this connection checkpoints on its own again.
   */
  checkpointInBackground(
    onReport?: (report: CheckpointReport) => void,
    options: { intervalMs?: number; threadFile?: string } = {},
  ): void {
    if (this.checkpointer || this.db.pragma("journal_mode", { simple: true }) !== "wal") return;
    const own = this.db.pragma("wal_autocheckpoint", { simple: true }) as number;
    this.db.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_FRAMES}`);
    this.checkpointer = new WalCheckpointer(
      {
        file: this.db.name,
        synchronous: this.options.synchronous ?? "FULL",
        intervalMs: options.intervalMs ?? CHECKPOINT_INTERVAL_MS,
      },
      onReport,
      () => {
        this.checkpointer = undefined;
        if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${own}`);
      },
      options.threadFile,
    );
  }

  /** Runs `fn` in an IMMEDIATE transaction (where audit rows may be appended). */
  private write<T>(fn: () => T): T {
    return this.audit.write(fn);
  }

  /** Appends one audit row; must run inside `write`. */
  private appendAudit(event: AuditEvent): void {
    this.audit.append(event, this.options.now());
  }

  async getSettings(): Promise<Record<string, string>> {
    const rows = this.db.prepare("SELECT key, value FROM settings").all() as Array<{ key: string; value: string }>;
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }

  async putSettings(values: Record<string, string>): Promise<void> {
    this.write(() => {
      for (const [k, v] of Object.entries(values)) this.stmt.putSetting.run(k, v);
    });
  }

  async recordEvent(audit: AuditEvent): Promise<void> {
    this.write(() => this.appendAudit(audit));
  }

  /**
   * A consistent copy of the database in `file`, made while other processes
   * go on reading and writing. The first step copies a few pages; the rest
   * go in one step, inside one read transaction, so a busy server cannot
   * keep restarting it.
   */
  async backupTo(file: string, onProgress?: (copied: number, total: number) => void): Promise<{ pages: number }> {
    const { totalPages } = await this.db.backup(file, {
      progress: ({ totalPages: total, remainingPages }) => {
        onProgress?.(total - remainingPages, total);
        return Math.max(remainingPages, 100);
      },
    });
    onProgress?.(totalPages, totalPages);
    return { pages: totalPages };
  }

  /**
   * Makes a database restored from a backup safe to serve from: CRL numbers
   * continue above any the lost history can have used (the current time in
   * milliseconds: a CRL is built at most a few times a second), every CRL is
   * rebuilt, unused join tokens expire (one used after the backup would
   * otherwise work again), the bundle sequence starts from now, and audit
   * rows already in the backup are not shipped again. One audit row says so.
   */
  async sealRestored(now: number, audit: AuditEvent): Promise<{ crls: number; joinTokens: number }> {
    return this.write(() => {
      const crls = this.db.prepare("UPDATE crls SET last_number = max(last_number, ?), revision = revision + 1").run(now).changes;
      const joinTokens = this.db
        .prepare("UPDATE join_tokens SET expires_at = ? WHERE used_at IS NULL AND expires_at > ?")
        .run(now, now).changes;
      const head = (this.db.prepare("SELECT max(seq) FROM audit_log").pluck().get() as number | null) ?? 0;
      this.stmt.putSetting.run(BUNDLE_SEQUENCE_FLOOR_KEY, String(now));
      this.stmt.putSetting.run(SHIPPED_KEY, String(head));
      this.appendAudit({ ...audit, details: { ...audit.details, crls_renumbered: crls, join_tokens_expired: joinTokens } });
      return { crls, joinTokens };
    });
  }

  async caKeysVersion(): Promise<string> {
    return this.stmt.caKeysVersion.get() as string;
  }

  async listCaKeys(): Promise<CaKeyRecord[]> {
    return (this.db.prepare(`SELECT ${CA_KEY_COLUMNS} FROM ca_keys ORDER BY created_at, id`).all() as Row[]).map(caKeyFromRow);
  }

  private insertCaKeyRow(key: CaKeyRecord): void {
    this.db
      .prepare(
        `INSERT INTO ca_keys (${CA_KEY_COLUMNS}) VALUES (@id, @kind, @state, @keyType, @encryptedPrivateKey, @publicKeySpki, @certificateDer, @parentId, @notBefore, @notAfter, @createdAt, @activatedAt, @retiredAt, @destroyedAt)`,
      )
      .run(key);
    if (key.kind === "x509_intermediate") this.db.prepare("INSERT INTO crls (issuer_id) VALUES (?)").run(key.id);
  }

  async insertCaKey(key: CaKeyRecord, audit: AuditEvent): Promise<void> {
    this.write(() => {
      this.insertCaKeyRow(key);
      this.appendAudit(audit);
    });
  }

  async prepareCaKey(key: CaKeyRecord, audit: AuditEvent): Promise<CaKeyRecord> {
    return this.write(() => {
      const existing = this.db
        .prepare(`SELECT ${CA_KEY_COLUMNS} FROM ca_keys WHERE kind = ? AND state = 'prepared'`)
        .get(key.kind) as Row | undefined;
      if (existing) return caKeyFromRow(existing);
      this.insertCaKeyRow(key);
      this.appendAudit(audit);
      return key;
    });
  }

  async activateCaKey(id: string, now: number, audit: AuditEvent): Promise<boolean> {
    return this.write(() => {
      const row = this.db.prepare("SELECT kind FROM ca_keys WHERE id = ? AND state = 'prepared'").get(id) as
        | { kind: string }
        | undefined;
      if (!row) return false;
      this.db
        .prepare("UPDATE ca_keys SET state = 'retired', retired_at = ? WHERE kind = ? AND state = 'active'")
        .run(now, row.kind);
      this.db.prepare("UPDATE ca_keys SET state = 'active', activated_at = ? WHERE id = ?").run(now, id);
      this.appendAudit(audit);
      return true;
    });
  }

  async destroyExpiredCaKeys(now: number, audit: (key: CaKeyRecord) => AuditEvent): Promise<CaKeyRecord[]> {
    // secure_delete zeroes the bytes the update frees in the page it writes;
    // the WAL may still hold earlier images of that page (from the key's
    // retirement, say) until it is checkpointed and truncated
    this.db.pragma("secure_delete = ON");
    let erased: CaKeyRecord[];
    try {
      erased = this.write(() => {
        const due = (
          this.db
            .prepare(
              `SELECT ${CA_KEY_COLUMNS} FROM ca_keys WHERE state = 'retired' AND not_after <= ? AND destroyed_at IS NULL ORDER BY not_after, id`,
            )
            .all(now) as Row[]
        ).map(caKeyFromRow);
        const erase = this.db.prepare("UPDATE ca_keys SET encrypted_private_key = x'', destroyed_at = ? WHERE id = ?");
        for (const key of due) {
          erase.run(now, key.id);
          this.appendAudit(audit(key));
        }
        return due.map((key) => ({ ...key, encryptedPrivateKey: Buffer.alloc(0), destroyedAt: now }));
      });
    } finally {
      this.db.pragma("secure_delete = FAST");
    }
    if (erased.length > 0) this.scrubWal();
    return erased;
  }

  /**
   * Gets old page images out of the WAL: on the checkpoint thread when there
   * is one (retried there until no reader is in the way), else here, once,
   * waiting for readers no longer than the thread would (the write lock is
   * held meanwhile, and other processes may be issuing).
   */
  private scrubWal(): void {
    if (this.checkpointer) this.checkpointer.scrub();
    else truncateWal(this.db, BUSY_TIMEOUT_MS);
  }

  async recordCertificate(
    cert: CertificateRecord,
    audit: AuditEvent,
    joinToken?: { hash: string; now: number },
  ): Promise<IssueOutcome> {
    return this.issuance.submit(this.op({ kind: "certificate", cert }, audit, joinToken));
  }

  async recordJwtSvid(token: JwtSvidRecord, audit: AuditEvent, joinToken?: { hash: string; now: number }): Promise<IssueOutcome> {
    return this.issuance.submit(this.op({ kind: "jwt", token }, audit, joinToken));
  }

  private op(
    what: { kind: "certificate"; cert: CertificateRecord } | { kind: "jwt"; token: JwtSvidRecord },
    audit: AuditEvent,
    joinToken: { hash: string; now: number } | undefined,
  ): IssuanceOp {
    return { ...what, audit, at: this.options.now(), ...(joinToken ? { joinToken } : {}) };
  }

  async getCertificate(serial: string): Promise<CertificateRecord | undefined> {
    const row = this.stmt.getCert.get(serial) as Row | undefined;
    return row ? certFromRow(row) : undefined;
  }

  async revokedAt(serial: string): Promise<number | null | undefined> {
    return this.stmt.revokedAt.get(serial) as number | null | undefined;
  }

  async listCertificates(filter: CertificateFilter): Promise<CertificateRecord[]> {
    const where: string[] = [];
    const params: Record<string, unknown> = { now: filter.now, limit: filter.limit ?? 1000 };
    if (filter.spiffeId) {
      where.push("spiffe_id = @spiffeId");
      params.spiffeId = filter.spiffeId;
    }
    if (filter.status === "revoked") where.push("revoked_at IS NOT NULL");
    if (filter.status === "expired") where.push("revoked_at IS NULL AND not_after <= @now");
    if (filter.status === "active") where.push("revoked_at IS NULL AND not_after > @now");
    const sql = `SELECT ${CERT_COLUMNS} FROM certificates ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY issued_at DESC, serial LIMIT @limit`;
    return (this.db.prepare(sql).all(params) as Row[]).map(certFromRow);
  }

  async revoke(
    target: { serial: string } | { spiffeId: string },
    reason: number,
    now: number,
    audit: AuditEvent,
  ): Promise<CertificateRecord[]> {
    return this.write(() => {
      const rows = (
        "serial" in target
          ? this.db.prepare(`SELECT ${CERT_COLUMNS} FROM certificates WHERE serial = ? AND revoked_at IS NULL`).all(target.serial)
          : this.db
              .prepare(`SELECT ${CERT_COLUMNS} FROM certificates WHERE spiffe_id = ? AND revoked_at IS NULL AND not_after > ?`)
              .all(target.spiffeId, now)
      ) as Row[];
      if (rows.length === 0) return [];
      const mark = this.db.prepare("UPDATE certificates SET revoked_at = ?, revocation_reason = ? WHERE serial = ?");
      const bump = this.db.prepare("UPDATE crls SET revision = revision + 1 WHERE issuer_id = ?");
      const issuers = new Set<string>();
      for (const r of rows) {
        mark.run(now, reason, r.serial);
        issuers.add(r.issuer_id as string);
      }
      for (const id of issuers) bump.run(id);
      this.appendAudit({ ...audit, details: { ...audit.details, serials: rows.map((r) => r.serial) } });
      return rows.map((r) => ({ ...certFromRow(r), revokedAt: now, revocationReason: reason }));
    });
  }

  async insertEntry(entry: EntryRecord, audit: AuditEvent): Promise<boolean> {
    return this.write(() => {
      const result = this.db
        .prepare(
          "INSERT INTO entries (id, spiffe_id, selectors, dns_names, x509_ttl_ms, jwt_ttl_ms, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .run(
          entry.id,
          entry.spiffeId,
          JSON.stringify(entry.selectors),
          JSON.stringify(entry.dnsNames),
          entry.x509TtlMs,
          entry.jwtTtlMs,
          entry.createdAt,
        );
      if (result.changes !== 1) return false;
      this.appendAudit(audit);
      return true;
    });
  }

  async listEntries(filter: { spiffeId?: string } = {}): Promise<EntryRecord[]> {
    const rows = filter.spiffeId ? this.stmt.entriesById.all(filter.spiffeId) : this.stmt.entries.all();
    return (rows as Row[]).map(entryFromRow);
  }

  async getEntry(id: string): Promise<EntryRecord | undefined> {
    const row = this.stmt.getEntry.get(id) as Row | undefined;
    return row ? entryFromRow(row) : undefined;
  }

  async deleteEntry(id: string, audit: AuditEvent): Promise<boolean> {
    return this.write(() => {
      if (this.db.prepare("DELETE FROM entries WHERE id = ?").run(id).changes !== 1) return false;
      this.appendAudit(audit);
      return true;
    });
  }

  async insertJoinToken(token: JoinTokenRecord, audit: AuditEvent): Promise<void> {
    this.write(() => {
      this.db
        .prepare("INSERT INTO join_tokens (token_hash, spiffe_id, selectors, created_at, expires_at) VALUES (?, ?, ?, ?, ?)")
        .run(token.tokenHash, token.spiffeId, JSON.stringify(token.selectors), token.createdAt, token.expiresAt);
      this.appendAudit(audit);
    });
  }

  async getJoinToken(hash: string): Promise<JoinTokenRecord | undefined> {
    const r = this.stmt.getToken.get(hash) as Row | undefined;
    return r ? joinTokenFromRow(r) : undefined;
  }

  async listJoinTokens(filter: {
    spiffeId?: string;
    status?: JoinTokenStatus;
    now: number;
    limit: number;
  }): Promise<JoinTokenRecord[]> {
    const where: string[] = [];
    if (filter.spiffeId) where.push("spiffe_id = @spiffeId");
    // the same order of precedence as joinTokenStatus
    if (filter.status === "used") where.push("used_at IS NOT NULL");
    if (filter.status === "revoked") where.push("used_at IS NULL AND revoked_at IS NOT NULL");
    if (filter.status === "expired") where.push("used_at IS NULL AND revoked_at IS NULL AND expires_at <= @now");
    if (filter.status === "unused") where.push("used_at IS NULL AND revoked_at IS NULL AND expires_at > @now");
    const sql = `SELECT * FROM join_tokens ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at DESC, token_hash LIMIT @limit`;
    const rows = this.db.prepare(sql).all({ spiffeId: filter.spiffeId ?? null, now: filter.now, limit: filter.limit }) as Row[];
    return rows.map(joinTokenFromRow);
  }

  async revokeJoinTokens(
    which: { hashPrefix: string } | { spiffeId: string },
    now: number,
    audit: (t: JoinTokenRecord) => AuditEvent,
  ): Promise<JoinTokenRecord[]> {
    return this.write(() => {
      const live = "used_at IS NULL AND revoked_at IS NULL AND expires_at > ?";
      let due: JoinTokenRecord[];
      if ("hashPrefix" in which) {
        const matching = (
          this.db
            .prepare("SELECT * FROM join_tokens WHERE substr(token_hash, 1, ?) = ? LIMIT 2")
            .all(which.hashPrefix.length, which.hashPrefix) as Row[]
        ).map(joinTokenFromRow);
        if (matching.length > 1) {
          throw new TesseraError("conflict", `token id ${which.hashPrefix} is ambiguous: give more of it`);
        }
        const [token] = matching;
        if (!token) throw new TesseraError("not_found", `no join token with id ${which.hashPrefix}`);
        const status = joinTokenStatus(token, now);
        if (status !== "unused") throw new TesseraError("conflict", `join token ${which.hashPrefix} is already ${status}`);
        due = [token];
      } else {
        due = (
          this.db
            .prepare(`SELECT * FROM join_tokens WHERE spiffe_id = ? AND ${live} ORDER BY created_at, token_hash`)
            .all(which.spiffeId, now) as Row[]
        ).map(joinTokenFromRow);
      }
      const revoke = this.db.prepare(
        "UPDATE join_tokens SET revoked_at = ?, expires_at = min(expires_at, ?) WHERE token_hash = ?",
      );
      for (const t of due) {
        revoke.run(now, now, t.tokenHash);
        this.appendAudit(audit(t));
      }
      return due.map((t) => ({ ...t, revokedAt: now, expiresAt: Math.min(t.expiresAt, now) }));
    });
  }

  async crlsNeedingBuild(issuerIds: string[], now: number, refreshBefore: number): Promise<string[]> {
    const q = this.db.prepare(
      "SELECT issuer_id FROM crls WHERE issuer_id = ? AND (number IS NULL OR built_revision < revision OR next_update <= ? OR drop_at <= ?)",
    );
    return issuerIds.filter((id) => q.get(id, refreshBefore, now) !== undefined);
  }

  async beginCrlBuild(issuerId: string, now: number): Promise<{ number: number; revision: number; revoked: RevokedEntries }> {
    // The number is taken first, in its own short write; the snapshot is read
    // after it without holding the write lock. A CRL saved with an older
    // revision stays stale (built_revision < revision) and is rebuilt, so no
    // interleaving of builders can leave a revocation out for good.
    const allocated = this.write(
      () =>
        this.db
          .prepare("UPDATE crls SET last_number = last_number + 1 WHERE issuer_id = ? RETURNING last_number")
          .get(issuerId) as { last_number: number } | undefined,
    );
    if (!allocated) throw new Error(`no CRL state for issuer ${issuerId}`);
    return this.db
      .transaction(() => {
        const { revision } = this.db.prepare("SELECT revision FROM crls WHERE issuer_id = ?").get(issuerId) as {
          revision: number;
        };
        const agg = this.db.prepare(CRL_SNAPSHOT_SQL).get(issuerId, now) as {
          n: number;
          encoded: number;
          der: Buffer | null;
          earliest: number | null;
        };
        if (agg.encoded !== agg.n) {
          throw new Error(
            `${agg.n - agg.encoded} revoked certificate(s) of issuer ${issuerId} cannot be listed in a CRL (a serial over 20 octets or not in minimal form, or a revocation time out of range)`,
          );
        }
        const revoked: RevokedEntries = { count: agg.n, der: agg.der ?? Buffer.alloc(0), earliestExpiry: agg.earliest };
        return { number: allocated.last_number, revision, revoked };
      })
      .deferred();
  }

  async saveCrl(crl: StoredCrl, revision: number): Promise<boolean> {
    return this.write(() => {
      const saved = this.db
        .prepare(
          "UPDATE crls SET number = ?, this_update = ?, next_update = ?, drop_at = ?, built_revision = ? WHERE issuer_id = ? AND (number IS NULL OR number < ?)",
        )
        .run(crl.number, crl.thisUpdate, crl.nextUpdate, crl.dropAt ?? null, revision, crl.issuerId, crl.number);
      if (saved.changes !== 1) return false;
      this.db.prepare("DELETE FROM crl_parts WHERE issuer_id = ?").run(crl.issuerId);
      const insert = this.db.prepare("INSERT INTO crl_parts (issuer_id, idx, bytes) VALUES (?, ?, ?)");
      for (let at = 0, idx = 0; at < crl.der.length; at += CRL_SLICE_BYTES, idx++) {
        insert.run(crl.issuerId, idx, crl.der.subarray(at, at + CRL_SLICE_BYTES));
      }
      return true;
    });
  }

  async crlNumber(issuerId: string): Promise<number | undefined> {
    const row = this.db.prepare("SELECT number FROM crls WHERE issuer_id = ? AND number IS NOT NULL").get(issuerId) as
      | { number: number }
      | undefined;
    return row?.number;
  }

  async getCrl(issuerId: string): Promise<StoredCrl | undefined> {
    return this.db
      .transaction(() => {
        const r = this.db
          .prepare("SELECT issuer_id, number, this_update, next_update FROM crls WHERE issuer_id = ? AND number IS NOT NULL")
          .get(issuerId) as Row | undefined;
        if (!r) return undefined;
        const parts = this.db
          .prepare("SELECT bytes FROM crl_parts WHERE issuer_id = ? ORDER BY idx")
          .pluck()
          .all(issuerId) as Buffer[];
        return {
          issuerId: r.issuer_id as string,
          number: r.number as number,
          thisUpdate: r.this_update as number,
          nextUpdate: r.next_update as number,
          der: Buffer.concat(parts),
        };
      })
      .deferred();
  }

  async prune(before: number, audit: AuditEvent): Promise<{ certificates: number; jwtSvids: number; joinTokens: number }> {
    // in slices, so a large backlog never holds the write lock for long
    const total = { certificates: 0, jwtSvids: 0, joinTokens: 0 };
    const slice = (sql: string) => {
      let n = 0;
      const statement = this.db.prepare(sql);
      for (;;) {
        const changes = this.write(() => statement.run({ before }).changes);
        n += changes;
        if (changes < 5000) return n;
      }
    };
    total.certificates = slice(
      "DELETE FROM certificates WHERE rowid IN (SELECT rowid FROM certificates WHERE not_after < @before LIMIT 5000)",
    );
    total.jwtSvids = slice(
      "DELETE FROM jwt_svids WHERE rowid IN (SELECT rowid FROM jwt_svids WHERE expires_at < @before LIMIT 5000)",
    );
    total.joinTokens = slice(
      "DELETE FROM join_tokens WHERE rowid IN (SELECT rowid FROM join_tokens WHERE expires_at < @before OR used_at < @before LIMIT 5000)",
    );
    if (total.certificates + total.jwtSvids + total.joinTokens > 0) {
      this.write(() => this.appendAudit({ ...audit, details: { ...audit.details, ...total } }));
    }
    return total;
  }

  async listAudit(options: { afterSeq?: number; limit?: number } = {}): Promise<AuditRecord[]> {
    const rows = this.db
      .prepare("SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?")
      .all(options.afterSeq ?? 0, options.limit ?? -1) as Row[];
    return rows.map(auditFromRow);
  }

  *auditRows(afterSeq = 0): IterableIterator<AuditRecord> {
    const rows = this.db.prepare("SELECT * FROM audit_log WHERE seq > ? ORDER BY seq").iterate(afterSeq);
    for (const row of rows as IterableIterator<Row>) yield auditFromRow(row);
  }

  async lastAuditSeqBefore(before: number): Promise<number> {
    const first = this.db.prepare("SELECT min(seq) AS seq FROM audit_log WHERE at >= ?").get(before) as { seq: number | null };
    if (first.seq !== null) return first.seq - 1;
    return (this.db.prepare("SELECT coalesce(max(seq), 0) AS seq FROM audit_log").get() as { seq: number }).seq;
  }

  async auditArchives(): Promise<AuditArchive[]> {
    const rows = this.db.prepare("SELECT * FROM audit_archives ORDER BY through_seq").all() as Row[];
    return rows.map((r) => ({
      throughSeq: r.through_seq as number,
      headHash: r.head_hash as string,
      rows: r.rows as number,
      fileSha256: r.file_sha256 as string,
      fileName: r.file_name as string,
      archivedAt: r.archived_at as number,
    }));
  }

  async recordAuditArchive(archive: AuditArchive, audit: AuditEvent): Promise<void> {
    this.write(() => {
      const newest = this.db.prepare("SELECT coalesce(max(through_seq), 0) AS seq FROM audit_archives").get() as { seq: number };
      const head = this.db.prepare("SELECT hash FROM audit_log WHERE seq = ?").get(archive.throughSeq) as
        | { hash: string }
        | undefined;
      if (archive.throughSeq <= newest.seq || head?.hash !== archive.headHash) {
        throw new TesseraError("conflict", `audit row ${archive.throughSeq} is not the next archive's head`);
      }
      this.db
        .prepare(
          "INSERT INTO audit_archives (through_seq, head_hash, rows, file_sha256, file_name, archived_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .run(archive.throughSeq, archive.headHash, archive.rows, archive.fileSha256, archive.fileName, archive.archivedAt);
      this.appendAudit(audit);
    });
  }

  async deleteArchivedAudit(): Promise<number> {
    // in slices, like prune: the server's issuances wait for the write lock meanwhile
    const slice = this.db.prepare(
      "DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log WHERE seq <= (SELECT max(through_seq) FROM audit_archives) ORDER BY seq LIMIT 5000)",
    );
    let deleted = 0;
    for (;;) {
      const n = this.db.transaction(() => slice.run().changes).immediate();
      deleted += n;
      if (n < 5000) return deleted;
    }
  }

  /**
   * Closes the connection. A checkpoint thread closes its own first, so that
   * this one is the last and removes the WAL (two connections closing at once
   * may each see the other and both leave it).
   */
  close(): Promise<void> {
    const checkpointer = this.checkpointer;
    this.checkpointer = undefined;
    const closeOwn = () => {
      this.db.close();
      this.walFile.close();
    };
    if (!checkpointer) {
      closeOwn();
      return Promise.resolve();
    }
    return checkpointer.stop().then(closeOwn);
  }
}
