import { join } from "node:path";
import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";
import { packageRoot } from "../../package-root.js";

/** What the checkpoint thread is started with (see checkpoint-worker.ts). */
export interface CheckpointThreadData {
  file: string;
  synchronous: "FULL" | "NORMAL";
  intervalMs: number;
  /** Frames past which the WAL is started over; RESTART_FRAMES unless a test wants fewer. */
  restartFrames?: number;
}

/** What it reports: each checkpoint that moved pages, or a failure. */
export type CheckpointReport =
  | { type: "checkpoint"; walFrames: number; checkpointed: number; restarted: boolean }
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

/**
 * WAL frames (32 MiB of 4 KiB pages) past which the checkpoint thread starts
 * the WAL over itself. SQLite starts it over only when a writer begins while
 * every frame is already in the database file; under steady issuance a
 * passive checkpoint never gets there (each copies the frames of its own
 * snapshot while the next batches are appended), so the WAL grew to the
 * request-path connection's FALLBACK_AUTOCHECKPOINT_FRAMES and that
 * connection checkpointed inside a commit: 13–29 ms with the event loop
 * stopped, every ~1.5 s at ~4,500 issuances/s (the worst stalls at c=64).
 * Each restart holds writers back for a sync of the database file, which is
 * slower the larger the file: restarting at 2,000 frames put issuance with
 * 1M certificates recorded at 89–94% of the empty rate (p99 18–20 ms),
 * against 96–102% (12–15 ms) without restarts and at 8,000.
 */
export const RESTART_FRAMES = 8_000;

/**
 * How long a restart waits for the write lock and then for readers of older
 * snapshots. It holds the write lock from the moment it has it, so issuance
 * batches wait as long (without blocking the event loop: they retry).
 */
const RESTART_WAIT_MS = 20;

export interface CheckpointStep {
  /** Another checkpoint was running, or (on a restart) a reader or writer did not make way in time. */
  busy: boolean;
  walFrames: number;
  checkpointed: number;
  /** A restart was tried: the WAL had grown past restartFrames. */
  restartTried: boolean;
  /** The WAL is all in the database file and no reader needs it: the next commit starts it over. */
  restarted: boolean;
}

type CheckpointRow = { busy: number; log: number; checkpointed: number };

function checkpointWal(db: Database.Database, mode: "PASSIVE" | "RESTART"): CheckpointRow | undefined {
  return (db.pragma(`wal_checkpoint(${mode})`) as CheckpointRow[])[0];
}

/**
 * One round of the checkpoint thread: a passive checkpoint, which copies what
 * no reader still needs and never waits for or blocks a writer; then, once
 * the WAL has grown past `restartFrames`, a RESTART checkpoint. That one takes
 * the write lock, copies the few frames appended since, syncs, and waits until
 * no reader is on an older snapshot, so that the next commit writes the WAL
 * from its beginning. `db` is left with a busy timeout of 0.
 */
export function checkpointStep(db: Database.Database, restartFrames = RESTART_FRAMES): CheckpointStep {
  const passive = checkpointWal(db, "PASSIVE");
  if (!passive) return { busy: true, walFrames: 0, checkpointed: 0, restartTried: false, restarted: false };
  const step = {
    busy: passive.busy !== 0,
    walFrames: passive.log,
    checkpointed: passive.checkpointed,
    restartTried: false,
    restarted: false,
  };
  if (step.busy || step.walFrames < restartFrames) return step;
  db.pragma(`busy_timeout = ${RESTART_WAIT_MS}`);
  try {
    const restart = checkpointWal(db, "RESTART");
    if (!restart) return { ...step, restartTried: true };
    return {
      busy: restart.busy !== 0,
      walFrames: restart.log,
      checkpointed: restart.checkpointed,
      restartTried: true,
      restarted: restart.busy === 0,
    };
  } finally {
    db.pragma("busy_timeout = 0");
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
