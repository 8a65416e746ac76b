/**
 * The thread of WalCheckpointer: every `intervalMs`, a passive checkpoint of
 * the database's WAL. Passive checkpoints copy what no reader still needs and
 * never wait for or block a writer. Frames committed while one ran are
 * caught up at once (a few tries), because SQLite starts the WAL over from
 * its beginning only once every frame is in the database file; otherwise
 * under steady writes the WAL, and the index every read searches, would keep
 * growing.
 */
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { type CheckpointReport, type CheckpointThreadData, truncateWal } from "./wal-checkpointer.js";

const CATCH_UP_TRIES = 4;
const data = workerData as CheckpointThreadData;
const db = new Database(data.file, { fileMustExist: true });
db.pragma(`synchronous = ${data.synchronous}`);
db.pragma("wal_autocheckpoint = 0");
db.pragma("busy_timeout = 0");
const report = (r: CheckpointReport) => parentPort?.postMessage(r);

let last = { log: 0, checkpointed: 0 };

function checkpoint(): void {
  for (let i = 0; i < CATCH_UP_TRIES; i++) {
    const [row] = db.pragma("wal_checkpoint(PASSIVE)") as Array<{ busy: number; log: number; checkpointed: number }>;
    if (!row || row.busy || row.log <= 0) return;
    const done = row.checkpointed === row.log;
    if (done || i === CATCH_UP_TRIES - 1) {
      // an idle WAL, already copied, answers the same each time: say so once
      if (row.log !== last.log || row.checkpointed !== last.checkpointed) {
        report({ type: "checkpoint", walFrames: row.log, checkpointed: row.checkpointed });
      }
      last = row;
      return;
    }
  }
}

/** A scrub that a long read (a backup, a large CRL build) keeps from finishing is tried again later, backing off. */
const SCRUB_MAX_BACKOFF_MS = 10_000;
let scrubPending = false;
let scrubFailures = 0;
let nextScrubAt = 0;

/** One try of a requested scrub; a try that fails or throws is followed by a longer pause. */
function scrub(): void {
  let done = false;
  try {
    done = truncateWal(db, 0);
  } finally {
    if (!done) {
      scrubFailures++;
      nextScrubAt = Date.now() + Math.min(SCRUB_MAX_BACKOFF_MS, data.intervalMs * 2 ** scrubFailures);
    }
  }
  if (!done) return;
  scrubPending = false;
  scrubFailures = 0;
  last = { log: 0, checkpointed: 0 };
  report({ type: "scrubbed" });
}

/** A failure that repeats (a full disk) is reported once a minute, not at every try. */
const ERROR_REPEAT_MS = 60_000;
let lastError = { message: "", at: 0 };

const timer = setInterval(() => {
  try {
    // between tries of a scrub that has to wait, the WAL is still checkpointed as usual
    if (scrubPending && Date.now() >= nextScrubAt) scrub();
    else checkpoint();
  } catch (e) {
    const message = (e as Error).message;
    const now = Date.now();
    if (message === lastError.message && now - lastError.at < ERROR_REPEAT_MS) return;
    lastError = { message, at: now };
    report({ type: "error", message });
  }
}, data.intervalMs);

parentPort?.on("message", (m: unknown) => {
  if (m === "scrub") scrubPending = true;
  if (m !== "stop") return;
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
