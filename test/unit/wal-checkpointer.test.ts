import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, statSync } from "node:fs";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { type CheckpointReport, WalCheckpointer } from "../../src/store/sqlite/wal-checkpointer.js";
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
