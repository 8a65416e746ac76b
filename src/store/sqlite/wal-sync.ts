import { close, fdatasync, open } from "node:fs";

export type SyncCallback = (error: Error | null) => void;

/**
 * fdatasync of the file at `path`, opened afresh so that the sync reaches the
 * file SQLite is writing now; it covers the whole file, whichever descriptor
 * wrote it.
 */
export function syncFileAt(path: string, done: SyncCallback): void {
  open(path, "r", (openError, fd) => {
    if (openError) return done(openError);
    fdatasync(fd, (syncError) => close(fd, () => done(syncError)));
  });
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

  constructor(
    private readonly walPath: string,
    private readonly syncFile: (path: string, done: SyncCallback) => void = syncFileAt,
  ) {}

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
    this.syncFile(this.walPath, finish);
  }
}
