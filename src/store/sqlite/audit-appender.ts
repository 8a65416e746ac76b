import type Database from "better-sqlite3";
import { auditRowHash, GENESIS_HASH } from "../../audit/audit-chain.js";
import type { AuditEvent } from "../store.js";

/**
 * Appends rows to the hash-chained audit log, inside `write` transactions:
 * the newest row is remembered for the rest of the transaction (so a batch
 * does not look it up once per row) and forgotten when it ends.
 */
export class AuditAppender {
  private head: { seq: number; hash: string } | undefined;
  private readonly last: Database.Statement;
  private readonly insert: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.last = db.prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
    this.insert = db.prepare(
      "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
  }

  /** Runs `fn` in an IMMEDIATE transaction, the chain head looked up afresh inside it. */
  write<T>(fn: () => T): T {
    this.head = undefined;
    try {
      return this.db.transaction(fn).immediate();
    } finally {
      this.head = undefined;
    }
  }

  /** After a savepoint inside `write` was rolled back: its rows, and so the remembered head, are gone. */
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
