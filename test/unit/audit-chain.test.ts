import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../../src/audit/audit-chain.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { AuditRecord } from "../../src/store/store.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

let store: SqliteStore;
let rows: AuditRecord[];
let file = 0;

beforeEach(async () => {
  store = new SqliteStore(`${tmp.dir}/a${file++}.db`, { now: () => 1_800_000_000_000 });
  for (let i = 0; i < 5; i++) {
    await store.insertJoinToken(
      {
        tokenHash: `h${i}`,
        spiffeId: `spiffe://example.org/w${i}`,
        selectors: [],
        createdAt: 0,
        expiresAt: 1,
        usedAt: null,
        usedBySerial: null,
      },
      { actor: "operator:test", action: "token.create", subject: `spiffe://example.org/w${i}`, details: { i } },
    );
  }
  rows = await store.listAudit();
});

describe("audit hash chain", () => {
  it("verifies an untouched log", () => {
    expect(verifyAuditChain(rows)).toEqual({ ok: true, rows: 5 });
    expect(rows[0]?.prevHash).toBe("0".repeat(64));
    expect(rows[1]?.prevHash).toBe(rows[0]?.hash);
  });

  it.each([
    [
      "rejects/a changed subject",
      (r: AuditRecord[]) => r.map((x) => (x.seq === 3 ? { ...x, subject: "spiffe://example.org/evil" } : x)),
      3,
    ],
    ["rejects/changed details", (r: AuditRecord[]) => r.map((x) => (x.seq === 2 ? { ...x, details: { i: 99 } } : x)), 2],
    ["rejects/a removed row", (r: AuditRecord[]) => r.filter((x) => x.seq !== 2), 3],
    ["rejects/reordered rows", (r: AuditRecord[]) => [r[0], r[2], r[1], r[3], r[4]] as AuditRecord[], 3],
    [
      "rejects/a row rehashed in place",
      (r: AuditRecord[]) => r.map((x) => (x.seq === 4 ? { ...x, actor: "x", hash: "f".repeat(64) } : x)),
      4,
    ],
  ])("%s", (_name, tamper, badSeq) => {
    const verdict = verifyAuditChain(tamper(rows));
    expect(verdict.ok).toBe(false);
    expect(verdict.ok === false && verdict.badSeq).toBe(badSeq);
  });

  it("refuses UPDATE and DELETE through SQLite itself", () => {
    expect(() => store.db.prepare("UPDATE audit_log SET actor = 'x' WHERE seq = 1").run()).toThrow("append-only");
    expect(() => store.db.prepare("DELETE FROM audit_log WHERE seq = 1").run()).toThrow("append-only");
  });
});
