import { randomBytes } from "node:crypto";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { encodeRevokedEntries } from "../../src/crl/build-crl.js";
import { packageRoot } from "../../src/package-root.js";
import { loadMigrations, migrate } from "../../src/store/sqlite/migrate.js";
import { CRL_SNAPSHOT_SQL, SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
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

/** A database file migrated up to (not including) `version`, with foreign keys off (no CA key rows needed). */
function databaseBefore(version: number, name: string): { path: string; db: Database.Database } {
  const path = `${tmp.dir}/${name}.db`;
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("foreign_keys = OFF");
  migrate(
    db,
    loadMigrations(join(packageRoot(), "migrations")).filter((m) => m.version < version),
    NOW,
  );
  return { path, db };
}

const insertCertificate = (store: SqliteStore) =>
  store.db.prepare(
    "INSERT INTO certificates (serial, spiffe_id, issuer_id, not_before, not_after, der, attestation, issued_at, revoked_at, revocation_reason) VALUES (?, 'spiffe://example.org/w', ?, 0, ?, x'00', 'test', 0, ?, ?)",
  );

/** Splits concatenated DER entries (short-form lengths: every entry is under 128 octets). */
function splitEntries(der: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < der.length; at += 2 + (der[at + 1] as number)) {
    expect(der[at]).toBe(0x30);
    expect(der[at + 1]).toBeLessThan(0x80);
    out.push(der.subarray(at, at + 2 + (der[at + 1] as number)));
  }
  return out;
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
    const { path, db: old } = databaseBefore(5, "old");
    const der = randomBytes(2048);
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

  it("snapshots each revoked entry as the TypeScript encoder writes it: sign octets, zero octets, every reason, both time forms, expired ones left out", async () => {
    const store = storeWithIssuer();
    try {
      const rows = [
        { serial: "4000000000000000000000000000ff00", revokedAt: NOW - 1_000, reason: 1 },
        { serial: "00", revokedAt: NOW - 2_000, reason: null },
        { serial: "ff00", revokedAt: NOW - 2_500, reason: 4 }, // INTEGER 00 ff 00
        { serial: "80", revokedAt: NOW, reason: 0 },
        { serial: "7f00", revokedAt: 1_000, reason: 4 },
        { serial: "5a0000a5", revokedAt: NOW - 3_999, reason: 5 },
        { serial: "7fffffffffffffffffffffffffffffffffffffff", revokedAt: NOW, reason: 9 }, // 20 octets
        { serial: "ffffffffffffffffffffffffffffffffffffffff", revokedAt: NOW, reason: 10 }, // 20 octets + sign
        { serial: "61", revokedAt: Date.UTC(2049, 11, 31, 23, 59, 59), reason: 2 }, // last UTCTime second
        { serial: "62", revokedAt: Date.UTC(2050, 0, 1), reason: 3 }, // first GeneralizedTime second
        { serial: "63", revokedAt: Date.UTC(9999, 11, 31, 23, 59, 59, 999), reason: 6 },
        { serial: "64", revokedAt: NOW, reason: 7 }, // not a defined code: no extension, as unspecified
        { serial: "65", revokedAt: NOW, reason: 8 },
        ...Array.from({ length: 200 }, (_, i) => ({
          serial: `1${randomBytes(16).toString("hex").slice(1)}`, // no leading zero octet
          revokedAt: NOW - i * 1_000 - (i % 1_000),
          reason: i % 11,
        })),
      ];
      const insert = insertCertificate(store);
      for (const r of rows) insert.run(r.serial, "ca-1", NOW + 60_000, r.revokedAt, r.reason);
      insert.run("6e", "ca-1", NOW - 1, NOW - 5_000, 1); // expired: no longer listed
      insert.run("6f", "ca-2", NOW + 60_000, NOW - 5_000, 1); // another issuer's
      insert.run("70", "ca-1", NOW + 60_000, null, null); // not revoked

      const { revoked } = await store.beginCrlBuild("ca-1", NOW);
      expect(revoked.count).toBe(rows.length);
      const expected = rows.map(
        (r) =>
          encodeRevokedEntries([{ serialHex: r.serial, revokedAtSeconds: Math.floor(r.revokedAt / 1000), reason: r.reason ?? 0 }])
            .der,
      );
      expect(
        splitEntries(revoked.der)
          .map((e) => e.toString("hex"))
          .sort(),
      ).toEqual(expected.map((e) => e.toString("hex")).sort());
    } finally {
      store.close();
    }
  });

  it.each([
    ["a serial over 20 octets", "01".repeat(21), NOW],
    ["a serial with a leading zero octet (not minimal DER)", "0001", NOW],
    ["a revocation time past year 9999", "66", Date.UTC(10000, 0, 1)],
  ])("refuses to build a CRL that would leave out an entry it cannot encode: %s", async (_, serial, revokedAt) => {
    const store = storeWithIssuer();
    try {
      const insert = insertCertificate(store);
      insert.run("41", "ca-1", NOW + 60_000, NOW, 1);
      insert.run(serial, "ca-1", NOW + 60_000, revokedAt, 1);
      await expect(store.beginCrlBuild("ca-1", NOW)).rejects.toThrow(
        /1 revoked certificate\(s\) of issuer ca-1 cannot be listed/,
      );
    } finally {
      store.close();
    }
  });

  it("lists certificates revoked before the upgrade to migration 0007", async () => {
    const { path, db: old } = databaseBefore(7, "v6");
    // the index the first text of migration 0006 built, which 0007 replaces
    old.exec(
      "CREATE INDEX certificates_crl_entries ON certificates (issuer_id, not_after, (char(length(serial) / 2) || unhex(serial))) WHERE revoked_at IS NOT NULL",
    );
    old.prepare("INSERT INTO crls (issuer_id) VALUES ('ca-1')").run();
    old
      .prepare(
        "INSERT INTO certificates (serial, spiffe_id, issuer_id, not_before, not_after, der, attestation, issued_at, revoked_at, revocation_reason) VALUES ('4a', 'spiffe://example.org/w', 'ca-1', 0, ?, x'00', 'test', 0, ?, 1)",
      )
      .run(NOW + 60_000, NOW);
    old.close();

    const store = new SqliteStore(path, { now: () => NOW });
    try {
      const { revoked } = await store.beginCrlBuild("ca-1", NOW);
      expect(revoked.count).toBe(1);
      expect(revoked.der).toEqual(encodeRevokedEntries([{ serialHex: "4a", revokedAtSeconds: NOW / 1000, reason: 1 }]).der);
      const indexes = store.db
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'certificates' AND name LIKE 'certificates_crl%'",
        )
        .pluck()
        .all();
      expect(indexes).toEqual(["certificates_crl_der"]);
    } finally {
      store.close();
    }
  });

  it("reads each entry's DER from the index, computing nothing per row", () => {
    const store = storeWithIssuer();
    try {
      const program = store.db.prepare(`EXPLAIN ${CRL_SNAPSHOT_SQL}`).all("ca-1", NOW) as Array<{ opcode: string; p1: number }>;
      const opcodes = program.map((op) => op.opcode);
      expect(opcodes).toContain("AggStep");
      // an expression that no longer matches the index's would be evaluated for every row
      expect(opcodes.filter((o) => o === "Function" || o === "PureFunc")).toEqual([]);
      // and the table's rows are never read: every Column comes from the index cursor
      const indexCursor = program.find((op) => op.opcode === "SeekGT")?.p1;
      expect(indexCursor).toBeDefined();
      expect(program.filter((op) => op.opcode === "Column" && op.p1 !== indexCursor)).toEqual([]);
    } finally {
      store.close();
    }
  });
});
