import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, statSync } from "node:fs";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { type CheckpointReport, checkpointStep, WalCheckpointer } from "../../src/store/sqlite/wal-checkpointer.js";
import type { CertificateRecord } from "../../src/store/store.js";
import { waitFor } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const NOW = 1_800_000_000_000;
let n = 0;

function openStore(): { store: SqliteStore; file: string } {
  const file = `${tmp.dir}/c${n++}.db`;
  const store = new SqliteStore(file, { now: () => NOW });
  store.db.pragma("foreign_keys = OFF"); // certificates without a CA key row
  return { store, file };
}

async function issue(store: SqliteStore, count: number): Promise<string[]> {
  const serials = Array.from({ length: count }, () => randomBytes(16).toString("hex"));
  await Promise.all(
    serials.map((serial) => {
      const cert: CertificateRecord = {
        serial,
        spiffeId: "spiffe://example.org/w",
        issuerId: "issuer",
        notBefore: NOW,
        notAfter: NOW + 3_600_000,
        der: randomBytes(600),
        attestation: "join_token",
        issuedAt: NOW,
        revokedAt: null,
        revocationReason: null,
        entryId: null,
      };
      return store.recordCertificate(cert, { actor: "test", action: "svid.x509.issue", subject: serial, details: {} });
    }),
  );
  return serials;
}

/** Certificates in the database file itself, read from a copy made without its WAL. */
function certificatesInMainFile(file: string): number {
  const copy = `${file}.copy-${n++}`;
  copyFileSync(file, copy);
  const db = new Database(copy, { readonly: true });
  try {
    return (db.prepare("SELECT count(*) FROM certificates").pluck().get() as number) ?? 0;
  } finally {
    db.close();
  }
}

describe("WAL checkpoints on a thread of their own", () => {
  it("copies committed pages into the database file while the request-path connection only appends", async () => {
    const { store, file } = openStore();
    const reports: CheckpointReport[] = [];
    store.checkpointInBackground((r) => reports.push(r), { intervalMs: 20 });
    expect(store.db.pragma("wal_autocheckpoint", { simple: true })).toBe(10_000);
    await issue(store, 200);
    const done = await waitFor(
      async () => reports.find((r) => r.type === "checkpoint" && r.walFrames > 0 && r.checkpointed === r.walFrames),
      10_000,
    );
    expect(done).toBeDefined();
    expect(reports.filter((r) => r.type === "error")).toEqual([]);
    expect(certificatesInMainFile(file)).toBe(200);
    await store.close();
    // the last connection to close removes the WAL: both were closed
    expect(existsSync(`${file}-wal`)).toBe(false);
  });

  it("without it, the same commits stay in the WAL until 1,000 frames (the control for the test above)", async () => {
    const { store, file } = openStore();
    store.db.pragma("wal_checkpoint(TRUNCATE)"); // the schema in the file, as in the test above
    await issue(store, 200);
    expect(certificatesInMainFile(file)).toBe(0);
    await store.close();
  });

  it("scrubs on request: every frame into the database file and the WAL truncated to nothing", async () => {
    const { store, file } = openStore();
    const reports: CheckpointReport[] = [];
    const checkpointer = new WalCheckpointer({ file, synchronous: "FULL", intervalMs: 20 }, (r) => reports.push(r));
    try {
      await issue(store, 100);
      expect(statSync(`${file}-wal`).size).toBeGreaterThan(0);
      checkpointer.scrub();
      const scrubbed = await waitFor(async () => reports.find((r) => r.type === "scrubbed"), 10_000);
      expect(scrubbed).toBeDefined();
      expect(statSync(`${file}-wal`).size).toBe(0);
      expect(certificatesInMainFile(file)).toBe(100);
    } finally {
      await checkpointer.stop();
      await store.close();
    }
  });

  it("a scrub waits out a reader of an older snapshot while issuance goes on, and completes once it is gone", async () => {
    const { store, file } = openStore();
    const reports: CheckpointReport[] = [];
    const checkpointer = new WalCheckpointer({ file, synchronous: "FULL", intervalMs: 20 }, (r) => reports.push(r));
    const reader = new Database(file);
    try {
      await issue(store, 50);
      reader.exec("BEGIN");
      expect(reader.prepare("SELECT count(*) FROM certificates").pluck().get()).toBe(50); // holds this snapshot
      await issue(store, 50);
      checkpointer.scrub();
      // while the reader holds its snapshot, the scrub cannot finish, and writes still complete
      await issue(store, 50);
      await new Promise((r) => setTimeout(r, 300));
      expect(reports.some((r) => r.type === "scrubbed")).toBe(false);
      reader.exec("COMMIT");
      const scrubbed = await waitFor(async () => reports.find((r) => r.type === "scrubbed"), 20_000);
      expect(scrubbed).toBeDefined();
      expect(statSync(`${file}-wal`).size).toBe(0);
      expect(certificatesInMainFile(file)).toBe(150);
    } finally {
      reader.close();
      await checkpointer.stop();
      await store.close();
    }
  });

  it("starts the WAL over under steady writes, where the request-path connection never checkpoints", async () => {
    const { store, file } = openStore();
    store.db.pragma("wal_autocheckpoint = 0"); // only the thread can move frames out of the WAL
    const reports: CheckpointReport[] = [];
    const checkpointer = new WalCheckpointer({ file, synchronous: "FULL", intervalMs: 5, restartFrames: 100 }, (r) =>
      reports.push(r),
    );
    const restarts = () => reports.filter((r) => r.type === "checkpoint" && r.restarted).length;
    try {
      for (let i = 0; i < 2_000 && restarts() < 3; i++) await issue(store, 10);
      expect(restarts()).toBeGreaterThanOrEqual(3);
      expect(reports.filter((r) => r.type === "error")).toEqual([]);
      // each restart found the WAL past 100 frames and the writes went on from its beginning
      const frames = reports.flatMap((r) => (r.type === "checkpoint" ? [r.walFrames] : []));
      expect(frames.some((f, i) => i > 0 && f < (frames[i - 1] as number))).toBe(true);
    } finally {
      await checkpointer.stop();
      await store.close();
    }
  });

  it("rejects/a thread that cannot start: reported, and commits checkpoint on their own again", async () => {
    const { store } = openStore();
    const reports: CheckpointReport[] = [];
    store.checkpointInBackground((r) => reports.push(r), { threadFile: `${tmp.dir}/no-such-thread.js` });
    const restored = await waitFor(
      async () => (store.db.pragma("wal_autocheckpoint", { simple: true }) === 1000 ? true : undefined),
      10_000,
    );
    expect(restored).toBe(true);
    expect(reports.some((r) => r.type === "error")).toBe(true);
    await store.close();
  });
});

describe("checkpointStep: a passive checkpoint, then a restart once the WAL is long", () => {
  /** A store whose request-path connection never checkpoints, and a second connection to checkpoint with. */
  function pair(): { store: SqliteStore; file: string; checkpointer: Database.Database } {
    const { store, file } = openStore();
    store.db.pragma("wal_autocheckpoint = 0");
    const checkpointer = new Database(file);
    checkpointer.pragma("busy_timeout = 0");
    return { store, file, checkpointer };
  }
  /** Frames in the WAL now, as a passive checkpoint counts them. */
  const walFrames = (db: Database.Database) => (db.pragma("wal_checkpoint(PASSIVE)") as Array<{ log: number }>)[0]?.log ?? -1;

  it("below restartFrames, copies the frames and leaves the WAL as it is", async () => {
    const { store, checkpointer } = pair();
    await issue(store, 100);
    const step = checkpointStep(checkpointer, 100_000);
    expect(step).toMatchObject({ busy: false, restartTried: false, restarted: false });
    expect(step.checkpointed).toBe(step.walFrames);
    expect(step.walFrames).toBeGreaterThan(0);
    checkpointer.close();
    await store.close();
  });

  it("past restartFrames, restarts: the next commit writes the WAL from its beginning", async () => {
    const { store, checkpointer } = pair();
    await issue(store, 100);
    const step = checkpointStep(checkpointer, 10);
    expect(step).toMatchObject({ busy: false, restartTried: true, restarted: true });
    await issue(store, 1);
    expect(walFrames(checkpointer)).toBeLessThan(step.walFrames);
    expect(checkpointer.pragma("busy_timeout", { simple: true })).toBe(0);
    checkpointer.close();
    await store.close();
  });

  it("rejects/a restart while another connection holds the write lock: busy, and done once the lock is free", async () => {
    const { store, file, checkpointer } = pair();
    await issue(store, 100);
    const writer = new Database(file);
    writer.exec("BEGIN IMMEDIATE");
    try {
      const step = checkpointStep(checkpointer, 10);
      expect(step).toMatchObject({ busy: true, restartTried: true, restarted: false });
    } finally {
      writer.exec("ROLLBACK");
      writer.close();
    }
    expect(checkpointStep(checkpointer, 10)).toMatchObject({ busy: false, restarted: true }); // once it is free
    checkpointer.close();
    await store.close();
  });

  it("rejects/a restart while a reader holds an older snapshot, and the writer it held up goes on", async () => {
    const { store, file, checkpointer } = pair();
    await issue(store, 50);
    const reader = new Database(file);
    reader.exec("BEGIN");
    reader.prepare("SELECT count(*) FROM certificates").pluck().get();
    await issue(store, 50);
    try {
      expect(checkpointStep(checkpointer, 10)).toMatchObject({ busy: true, restarted: false });
      await issue(store, 10); // the write lock was given back
    } finally {
      reader.exec("COMMIT");
      reader.close();
    }
    expect(checkpointStep(checkpointer, 10)).toMatchObject({ busy: false, restarted: true });
    checkpointer.close();
    await store.close();
  });
});
