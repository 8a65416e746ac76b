import { join } from "node:path";
import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";
import { packageRoot } from "../../package-root.js";

/** What the checkpoint thread is started with (see checkpoint-worker.ts). */
export interface CheckpointThreadData {
  file: string;
  synchronous: "FULL" | "NORMAL";
  intervalMs: number;
}

/** What it reports: each checkpoint that moved pages, or a failure. */
export type CheckpointReport =
  | { type: "checkpoint"; walFrames: number; checkpointed: number }
  | { type: "scrubbed" }
  | { type: "error"; message: string };

/**
 * How long a scrub (a TRUNCATE checkpoint) waits for readers of older
 * snapshots. It holds the write lock meanwhile, so issuance waits as long.
 */
const SCRUB_WAIT_MS = 50;

/**
 * Copies every frame into the database file and truncates the WAL to zero
 * bytes, so that no earlier page image is left in either file; false if a
 * reader of an older snapshot kept it from finishing within SCRUB_WAIT_MS.
 * The connection's busy timeout is `busyTimeoutMs` again afterwards.
 */
export function truncateWal(db: Database.Database, busyTimeoutMs: number): boolean {
  db.pragma(`busy_timeout = ${SCRUB_WAIT_MS}`);
  try {
    const [row] = db.pragma("wal_checkpoint(TRUNCATE)") as Array<{ busy: number }>;
    return row?.busy === 0;
  } finally {
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  }
}

/** WAL frames past which a connection checkpoints on its own commit (SQLite's default is 1,000). */
export const FALLBACK_AUTOCHECKPOINT_FRAMES = 10_000;

/**
 * Checkpoints the WAL on a thread of its own, with a connection of its own.
 * SQLite otherwise checkpoints inside the commit that takes the WAL past
 * 1,000 frames: on the event loop, copying ~4 MB into the database file and
 * syncing it (3–7 ms, growing with the database, every ~120 ms at ~4,500
 * issuances/s), while no request on the process moves. A passive checkpoint never blocks writers,
 * so the event loop only appends to the WAL; the request-path connection
 * keeps an automatic checkpoint at FALLBACK_AUTOCHECKPOINT_FRAMES in case
 * this thread falls behind or stops.
 */
export class WalCheckpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  private stopping = false;

  constructor(
    data: CheckpointThreadData,
    onReport: (report: CheckpointReport) => void = () => {},
    onExit: () => void = () => {},
    file = join(packageRoot(), "dist", "src", "store", "sqlite", "checkpoint-worker.js"),
  ) {
    this.worker = new Worker(file, { workerData: data });
    this.worker.unref();
    this.worker.on("message", onReport);
    this.worker.on("error", (e) => onReport({ type: "error", message: e.message }));
    this.exited = new Promise((resolve) =>
      this.worker.once("exit", () => {
        if (!this.stopping) onExit();
        resolve();
      }),
    );
  }

  /** Asks for every frame to be checkpointed and the WAL truncated, as soon as no reader stands in the way. */
  scrub(): void {
    this.worker.postMessage("scrub");
  }

  /** Asks the thread to finish its checkpoint, close its connection and end; resolves once it has. */
  stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.worker.postMessage("stop");
    }
    return this.exited;
  }
}
