import type Database from "better-sqlite3";
import { auditRowHash, GENESIS_HASH } from "../../audit/audit-chain.js";
import type { AuditEvent } from "../store.js";

/**
 * Appends rows to the hash-chained audit log. Must be used inside a write
 * transaction; the newest row is remembered for the rest of that transaction
 * (so a batch does not look it up once per row) and forgotten by `reset`.
 */
export class AuditAppender {
  private head: { seq: number; hash: string } | undefined;
  private readonly last: Database.Statement;
  private readonly insert: Database.Statement;

  constructor(db: Database.Database) {
    this.last = db.prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
    this.insert = db.prepare(
      "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
  }

  /** Call at the start and end of every write transaction, and after a rolled-back savepoint. */
  reset(): void {
    this.head = undefined;
  }

  append(event: AuditEvent, at: number): void {
    const last = this.head ?? (this.last.get() as { seq: number; hash: string } | undefined);
    const row = {
      seq: (last?.seq ?? 0) + 1,
      at,
      actor: event.actor,
      action: event.action,
      subject: event.subject,
      details: event.details,
      prevHash: last?.hash ?? GENESIS_HASH,
    };
    const hash = auditRowHash(row);
    this.insert.run(row.seq, row.at, row.actor, row.action, row.subject, JSON.stringify(row.details), row.prevHash, hash);
    this.head = { seq: row.seq, hash };
  }
}
