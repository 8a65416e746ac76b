import type Database from "better-sqlite3";
import type { IssueOutcome } from "../store.js";
import { type IssuanceBatchWriter, type IssuanceOp, isBusy } from "./issuance-batch.js";

/** Non-blocking lock attempts before giving up (≈ seconds of contention). */
const MAX_BUSY_RETRIES = 20_000;

/**
 * Group commit: issuances arriving in the same event-loop turn are written
 * in one transaction. Every caller is answered only after the commit, so
 * nothing is acknowledged before it is durable.
 */
export class GroupCommitQueue {
  private readonly queue: Array<{ op: IssuanceOp; resolve: (o: IssueOutcome) => void; reject: (e: unknown) => void }> = [];
  private busyRetries = 0;

  constructor(
    private readonly db: Database.Database,
    private readonly writer: IssuanceBatchWriter,
    private readonly busyTimeoutMs: number,
  ) {}

  submit(op: IssuanceOp): Promise<IssueOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      if (this.queue.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.queue.splice(0);
    if (batch.length === 0) return;
    let results: ReturnType<IssuanceBatchWriter["commit"]>;
    // Another process (worker, CLI) may hold the write lock. SQLite's busy
    // handler would sleep in steps of milliseconds; instead try without
    // waiting and, if busy, retry on the next turn with a bigger batch.
    this.db.pragma("busy_timeout = 0");
    try {
      results = this.writer.commit(batch.map((item) => item.op));
    } catch (error) {
      if (isBusy(error) && this.busyRetries++ < MAX_BUSY_RETRIES) {
        this.queue.unshift(...batch);
        setTimeout(() => this.flush(), 0);
        return;
      }
      for (const item of batch) item.reject(error);
      return;
    } finally {
      this.db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
    }
    this.busyRetries = 0;
    batch.forEach((item, i) => {
      const r = results[i];
      if (r?.ok) item.resolve(r.value);
      else item.reject(r?.error);
    });
  }
}
