/**
 * The thread of WalCheckpointer: every `intervalMs`, one checkpointStep —
 * a passive checkpoint, and a restart of the WAL once it has grown past
 * `restartFrames` (see RESTART_FRAMES for why a passive one is not enough
 * under steady writes).
 */
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { type CheckpointReport, type CheckpointThreadData, checkpointStep, truncateWal } from "./wal-checkpointer.js";

const data = workerData as CheckpointThreadData;
const db = new Database(data.file, { fileMustExist: true });
db.pragma(`synchronous = ${data.synchronous}`);
db.pragma("wal_autocheckpoint = 0");
db.pragma("busy_timeout = 0");
const report = (r: CheckpointReport) => parentPort?.postMessage(r);

let last = { walFrames: 0, checkpointed: 0 };

/**
 * A restart that a reader of an older snapshot kept from finishing held the
 * write lock for RESTART_WAIT_MS; while such readers last (a backup, a large
 * CRL build) restarts are tried less and less often.
 */
const RESTART_MAX_BACKOFF_MS = 10_000;
let restartFailures = 0;
let nextRestartAt = 0;

function checkpoint(): void {
  const mayRestart = Date.now() >= nextRestartAt;
  const step = checkpointStep(db, mayRestart ? data.restartFrames : Number.POSITIVE_INFINITY);
  if (step.restartTried) {
    restartFailures = step.restarted ? 0 : restartFailures + 1;
    nextRestartAt = step.restarted ? 0 : Date.now() + Math.min(RESTART_MAX_BACKOFF_MS, data.intervalMs * 2 ** restartFailures);
  }
  if (step.busy || step.walFrames <= 0) return;
  // an idle WAL, already copied, answers the same each time: say so once
  if (!step.restarted && step.walFrames === last.walFrames && step.checkpointed === last.checkpointed) return;
  last = step;
  report({ type: "checkpoint", walFrames: step.walFrames, checkpointed: step.checkpointed, restarted: step.restarted });
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
  last = { walFrames: 0, checkpointed: 0 };
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
