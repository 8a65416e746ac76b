import type { Logger } from "pino";
import type { Store } from "../store/store.js";

const SHIPPED_KEY = "audit_shipped_seq";

/**
 * Mirrors audit rows into the structured log, whichever process wrote them
 * (the server itself, or an operator's CLI on the same database), so a log
 * shipper sees every event exactly as the audit table holds it — including
 * those made while the server was down, on its next start.
 */
export class AuditTail {
  private lastSeq = 0;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
  ) {}

  /** Resumes after the last row a previous run shipped (recorded in settings). */
  async resume(): Promise<void> {
    this.lastSeq = Number((await this.store.getSettings())[SHIPPED_KEY] ?? 0);
  }

  async drain(): Promise<void> {
    for (;;) {
      const rows = await this.store.listAudit({ afterSeq: this.lastSeq, limit: 1000 });
      for (const r of rows) {
        this.logger.info(
          {
            audit: {
              seq: r.seq,
              at: new Date(r.at).toISOString(),
              actor: r.actor,
              action: r.action,
              subject: r.subject,
              details: r.details,
              hash: r.hash,
            },
          },
          `audit ${r.action} ${r.subject}`,
        );
        this.lastSeq = r.seq;
      }
      if (rows.length > 0) await this.store.putSettings({ [SHIPPED_KEY]: String(this.lastSeq) });
      if (rows.length < 1000) return;
    }
  }
}
