import type Database from "better-sqlite3";
import type { AuditEvent, CertificateRecord, IssueOutcome, JwtSvidRecord } from "../store.js";
import type { AuditAppender } from "./audit-appender.js";

/** One issuance to record: plain data, so it can cross to the writer thread. */
export type IssuanceOp = ({ kind: "certificate"; cert: CertificateRecord } | { kind: "jwt"; token: JwtSvidRecord }) & {
  audit: AuditEvent;
  /** When the audit row says it happened (the caller's clock). */
  at: number;
  joinToken?: { hash: string; now: number };
};

export type OpResult = { ok: true; value: IssueOutcome } | { ok: false; error: unknown };

export const CERT_COLUMNS =
  "serial, spiffe_id, issuer_id, not_before, not_after, der, attestation, issued_at, revoked_at, revocation_reason, entry_id";

export function isBusy(error: unknown): boolean {
  return (error as { code?: string }).code === "SQLITE_BUSY";
}

/**
 * Writes a batch of issuances in one IMMEDIATE transaction (one fsync). A
 * refusal (token used, say) is a result that wrote nothing; should an item
 * throw, the batch is rolled back and written again with each item in its
 * own savepoint, so that one failure does not undo the others. Throws
 * SQLITE_BUSY untouched when another connection holds the write lock.
 */
export class IssuanceBatchWriter {
  private readonly stmt;
  private readonly inSavepoint: (op: IssuanceOp) => IssueOutcome;

  constructor(
    db: Database.Database,
    private readonly audit: AuditAppender,
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.stmt = {
      insertCert: p(
        `INSERT INTO certificates (${CERT_COLUMNS}) VALUES (@serial, @spiffeId, @issuerId, @notBefore, @notAfter, @der, @attestation, @issuedAt, NULL, NULL, @entryId)`,
      ),
      insertJwt: p("INSERT INTO jwt_svids (jti, spiffe_id, audience, key_id, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)"),
      consumeToken: p(
        "UPDATE join_tokens SET used_at = ?, used_by_serial = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
      ),
      getToken: p("SELECT used_at FROM join_tokens WHERE token_hash = ?"),
    };
    this.inSavepoint = db.transaction((op: IssuanceOp) => this.apply(op));
  }

  commit(batch: readonly IssuanceOp[]): OpResult[] {
    try {
      return this.audit.write(() => batch.map((op): OpResult => ({ ok: true, value: this.apply(op) })));
    } catch (error) {
      if (isBusy(error) || batch.length === 1) throw error;
    }
    return this.audit.write(() =>
      batch.map((op): OpResult => {
        try {
          return { ok: true, value: this.inSavepoint(op) };
        } catch (error) {
          this.audit.reset(); // its savepoint, audit row included, was rolled back
          return { ok: false, error };
        }
      }),
    );
  }

  private apply(op: IssuanceOp): IssueOutcome {
    if (op.joinToken) {
      const consumed = this.consumeJoinToken(op.joinToken, op.kind === "certificate" ? op.cert.serial : `jti:${op.token.jti}`);
      if (!consumed.ok) return consumed;
    }
    if (op.kind === "certificate") {
      this.stmt.insertCert.run({ ...op.cert, entryId: op.cert.entryId ?? null });
    } else {
      const t = op.token;
      this.stmt.insertJwt.run(t.jti, t.spiffeId, JSON.stringify(t.audience), t.keyId, t.issuedAt, t.expiresAt);
    }
    this.audit.append(op.audit, op.at);
    return { ok: true };
  }

  private consumeJoinToken(joinToken: { hash: string; now: number }, usedBy: string): IssueOutcome {
    const used = this.stmt.consumeToken.run(joinToken.now, usedBy, joinToken.hash, joinToken.now);
    if (used.changes === 1) return { ok: true };
    const token = this.stmt.getToken.get(joinToken.hash) as { used_at: number | null } | undefined;
    if (!token) return { ok: false, reason: "token_unknown" };
    if (token.used_at !== null) return { ok: false, reason: "token_used" };
    return { ok: false, reason: "token_expired" };
  }
}
