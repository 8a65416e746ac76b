import type Database from "better-sqlite3";
import type { IssueOutcome } from "../store.js";
import { type IssuanceBatchWriter, type IssuanceOp, isBusy } from "./issuance-batch.js";
import type { WalSync } from "./wal-sync.js";

/** Non-blocking lock attempts before giving up (≈ seconds of contention). */
const MAX_BUSY_RETRIES = 20_000;

export interface GroupCommitOptions {
  busyTimeoutMs: number;
  /** The connection's own `synchronous` setting, restored after each batch. */
  synchronous: "FULL" | "NORMAL";
  /** Where the WAL is made durable off the event loop; without it each commit syncs itself. */
  walSync?: WalSync;
}

/**
 * Group commit: issuances arriving in the same event-loop turn are written
 * in one transaction. Every caller is answered only after the commit is on
 * disk, so nothing is acknowledged before it is durable. With a WalSync the
 * commit skips its own fsync (which would block the event loop) and the
 * batch waits for the WAL to be synced on the thread pool instead. That is
 * as durable as synchronous=FULL: in WAL mode a commit is on disk once its
 * frames are, and a checkpoint syncs the WAL before it copies anything.
 */
export class GroupCommitQueue {
  private readonly queue: Array<{ op: IssuanceOp; resolve: (o: IssueOutcome) => void; reject: (e: unknown) => void }> = [];
  private busyRetries = 0;
  /** The settings each batch switches to and back, prepared once (db.pragma parses its text at every call). */
  private readonly settings: { enter: Array<() => void>; leave: Array<() => void> };

  constructor(
    db: Database.Database,
    private readonly writer: IssuanceBatchWriter,
    private readonly options: GroupCommitOptions,
  ) {
    const pragma = (text: string) => {
      const stmt = db.prepare(`PRAGMA ${text}`);
      return stmt.reader ? () => void stmt.get() : () => void stmt.run();
    };
    const enter = [pragma("busy_timeout = 0")];
    const leave = [pragma(`busy_timeout = ${options.busyTimeoutMs}`)];
    if (options.walSync) {
      enter.push(pragma("synchronous = NORMAL"));
      leave.push(pragma(`synchronous = ${options.synchronous}`));
    }
    this.settings = { enter, leave };
  }

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
    const { walSync } = this.options;
    for (const set of this.settings.enter) set();
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
      for (const set of this.settings.leave) set();
    }
    this.busyRetries = 0;
    const answer = () =>
      batch.forEach((item, i) => {
        const r = results[i];
        if (r?.ok) item.resolve(r.value);
        else item.reject(r?.error);
      });
    if (!walSync) {
      answer();
      return;
    }
    walSync.afterCommit((error) => {
      if (!error) answer();
      // committed, but not known to be durable: nobody may rely on it
      else for (const item of batch) item.reject(new Error(`the database could not be synced to disk: ${error.message}`));
    });
  }
}
