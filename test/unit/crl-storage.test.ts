import { randomBytes } from "node:crypto";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../src/package-root.js";
import { loadMigrations, migrate } from "../../src/store/sqlite/migrate.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { StoredCrl } from "../../src/store/store.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const NOW = 1_800_000_000_000;
let file = 0;

function storeWithIssuer(): SqliteStore {
  const store = new SqliteStore(`${tmp.dir}/c${file++}.db`, { now: () => NOW });
  store.db.pragma("foreign_keys = OFF"); // no CA key row needed to store CRLs
  store.db.prepare("INSERT INTO crls (issuer_id) VALUES ('ca-1')").run();
  return store;
}

const crl = (number: number, der: Buffer): StoredCrl => ({
  issuerId: "ca-1",
  number,
  thisUpdate: NOW,
  nextUpdate: NOW + 3_600_000,
  der,
  dropAt: null,
});

describe("stored CRLs", () => {
  it("round-trips a CRL of several slices, and a newer one replaces every slice", async () => {
    const store = storeWithIssuer();
    try {
      const big = randomBytes(600 * 1024 + 7);
      expect(await store.saveCrl(crl(1, big), 1)).toBe(true);
      expect((await store.getCrl("ca-1"))?.der.equals(big)).toBe(true);
      const small = randomBytes(1000);
      expect(await store.saveCrl(crl(2, small), 2)).toBe(true);
      expect((await store.getCrl("ca-1"))?.der.equals(small)).toBe(true);
      expect(store.db.prepare("SELECT count(*) AS n FROM crl_parts").get()).toEqual({ n: 1 });
    } finally {
      store.close();
    }
  });

  it("rejects/an older CRL saved after a newer one, leaving the newer one whole", async () => {
    const store = storeWithIssuer();
    try {
      const newer = randomBytes(300 * 1024);
      await store.saveCrl(crl(5, newer), 5);
      expect(await store.saveCrl(crl(4, randomBytes(10)), 4)).toBe(false);
      expect(await store.getCrl("ca-1")).toMatchObject({ number: 5 });
      expect((await store.getCrl("ca-1"))?.der.equals(newer)).toBe(true);
    } finally {
      store.close();
    }
  });

  it("keeps a CRL stored before migration 0005 (one blob in crls.der)", async () => {
    const path = `${tmp.dir}/old.db`;
    const old = new Database(path);
    old.pragma("journal_mode = WAL");
    const before = loadMigrations(join(packageRoot(), "migrations")).filter((m) => m.version < 5);
    migrate(old, before, NOW);
    const der = randomBytes(2048);
    old.pragma("foreign_keys = OFF");
    old
      .prepare(
        "INSERT INTO crls (issuer_id, number, built_revision, this_update, next_update, der) VALUES ('ca-1', 7, 1, ?, ?, ?)",
      )
      .run(NOW, NOW + 1, der);
    old.prepare("INSERT INTO crls (issuer_id) VALUES ('ca-2')").run();
    old.close();

    const store = new SqliteStore(path, { now: () => NOW });
    try {
      expect(await store.getCrl("ca-1")).toMatchObject({ number: 7, der });
      expect(await store.getCrl("ca-2")).toBeUndefined();
      expect(await store.crlsNeedingBuild(["ca-1", "ca-2"], NOW, NOW)).toEqual(["ca-2"]);
    } finally {
      store.close();
    }
  });
});
