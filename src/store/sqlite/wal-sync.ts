import { closeSync, fdatasync, openSync } from "node:fs";

export type SyncCallback = (error: Error | null) => void;

/**
 * fdatasync of the file at `path` through a descriptor opened at the first
 * sync and held until `close`: an open and a close per sync were two more
 * trips to libuv's pool (their calls were ~5% of the event loop's busy
 * samples in an issuance profile). Holding it is safe for a WAL while its
 * store's connection is open: SQLite removes the WAL only when the last
 * connection to the database closes, so the file cannot be replaced under
 * the descriptor.
 */
export class HeldFile {
  private fd: number | undefined;
  private syncing = 0;
  private closing = false;

  constructor(private readonly path: string) {}

  readonly sync = (done: SyncCallback): void => {
    if (this.closing) {
      done(new Error(`${this.path} is closed`));
      return;
    }
    if (this.fd === undefined) {
      try {
        this.fd = openSync(this.path, "r");
      } catch (e) {
        done(e as Error);
        return;
      }
    }
    this.syncing++;
    fdatasync(this.fd, (error) => {
      this.syncing--;
      if (this.closing && this.syncing === 0) this.release();
      done(error);
    });
  };

  /** Closes the descriptor, once no sync is using it. */
  close(): void {
    this.closing = true;
    if (this.syncing === 0) this.release();
  }

  private release(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * Makes a WAL file durable off the event loop. Issuance batches are committed
 * without an fsync of their own (synchronous=NORMAL); each is answered once an
 * fdatasync that began after its commit has finished. One runs at a time and
 * covers every commit made before it began, so batches committed while a sync
 * is under way share the next one.
 */
export class WalSync {
  private running = false;
  private waiting: SyncCallback[] = [];

  constructor(private readonly syncFile: (done: SyncCallback) => void) {}

  /** Calls `done` once everything written to the WAL before this call is on disk. */
  afterCommit(done: SyncCallback): void {
    this.waiting.push(done);
    if (!this.running) this.start();
  }

  private start(): void {
    const covered = this.waiting;
    this.waiting = [];
    this.running = true;
    const finish = (error: Error | null) => {
      this.running = false;
      for (const done of covered) done(error);
      if (this.waiting.length > 0) this.start();
    };
    this.syncFile(finish);
  }
}
