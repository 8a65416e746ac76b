import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { auditRowHash, parseAuditAnchor, verifyAuditChain } from "../../src/audit/audit-chain.js";
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
        revokedAt: null,
      },
      { actor: "operator:test", action: "token.create", subject: `spiffe://example.org/w${i}`, details: { i } },
    );
  }
  rows = await store.listAudit();
});

describe("audit hash chain", () => {
  it("verifies an untouched log", () => {
    expect(verifyAuditChain(rows)).toMatchObject({ ok: true, rows: 5 });
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

  it("streams the rows from the store in order, after a given row", async () => {
    expect([...store.auditRows()]).toEqual(rows);
    expect([...store.auditRows(3)].map((r) => r.seq)).toEqual([4, 5]);
  });

  it("reports the head, and checks an anchor taken from it", () => {
    const verdict = verifyAuditChain(rows);
    const head = { seq: 5, hash: rows[4]?.hash as string };
    expect(verdict).toEqual({ ok: true, rows: 5, head });
    expect(verifyAuditChain(rows, { anchor: head }).ok).toBe(true);
    expect(verifyAuditChain(rows, { anchor: { seq: 2, hash: rows[1]?.hash as string } }).ok).toBe(true);
    expect(parseAuditAnchor(`5:${head.hash.toUpperCase()}`)).toEqual(head);
    for (const bad of ["5", `x:${head.hash}`, `5:${head.hash.slice(1)}`, `-1:${head.hash}`, `5:${head.hash}0`]) {
      expect(parseAuditAnchor(bad)).toBeUndefined();
    }
  });

  it("continues from an archive's head, and says when an anchor lies in the archived part", () => {
    const start = { seq: 2, hash: rows[1]?.hash as string };
    const rest = rows.slice(2);
    expect(verifyAuditChain(rest, { start })).toMatchObject({ ok: true, rows: 3, head: { seq: 5 } });
    expect(verifyAuditChain([], { start })).toEqual({ ok: true, rows: 0, head: start });
    expect(verifyAuditChain(rest, { start, anchor: start }).ok).toBe(true);
    const archived = verifyAuditChain(rest, { start, anchor: { seq: 1, hash: rows[0]?.hash as string } });
    expect(archived.ok === false && archived.problem).toContain("archived");
    expect(verifyAuditChain(rest, { start, anchor: { seq: 2, hash: "f".repeat(64) } }).ok).toBe(false);
    // the rows must follow the head directly, and from it
    expect(verifyAuditChain(rows.slice(3), { start }).ok).toBe(false);
    expect(verifyAuditChain(rest, { start: { seq: 2, hash: "e".repeat(64) } }).ok).toBe(false);
  });

  /** What someone with write access can do without breaking the chain itself: rewrite it from a row on. */
  function rechained(r: AuditRecord[], fromSeq: number, subject: string): AuditRecord[] {
    const out: AuditRecord[] = [];
    for (const row of r) {
      if (row.seq < fromSeq) {
        out.push(row);
        continue;
      }
      const prevHash = out.at(-1)?.hash ?? "0".repeat(64);
      const changed = { ...row, subject: row.seq === fromSeq ? subject : row.subject, prevHash };
      out.push({ ...changed, hash: auditRowHash(changed) });
    }
    return out;
  }

  it("rejects/a tail rewritten consistently, once an anchor from before is given", () => {
    const forged = rechained(rows, 3, "spiffe://example.org/evil");
    expect(verifyAuditChain(forged).ok).toBe(true); // the chain alone cannot tell
    const verdict = verifyAuditChain(forged, { anchor: { seq: 4, hash: rows[3]?.hash as string } });
    expect(verdict).toMatchObject({ ok: false, badSeq: 4 });
    expect(verdict.ok === false && verdict.problem).toContain("rewritten");
  });

  it("rejects/rows cut from the end, once an anchor from before is given", () => {
    const cut = rows.slice(0, 3);
    expect(verifyAuditChain(cut).ok).toBe(true);
    const verdict = verifyAuditChain(cut, { anchor: { seq: 5, hash: rows[4]?.hash as string } });
    expect(verdict).toMatchObject({ ok: false, badSeq: 5 });
    expect(verdict.ok === false && verdict.problem).toContain("ends at row 3");
    expect(verifyAuditChain([], { anchor: { seq: 1, hash: rows[0]?.hash as string } }).ok).toBe(false);
  });

  it("rejects/recording an archive whose head is not the table's row, or that does not come after the last one", async () => {
    const archive = { throughSeq: 3, headHash: rows[2]?.hash as string, rows: 3, fileSha256: "0", fileName: "a", archivedAt: 0 };
    const event = { actor: "operator:test", action: "audit.archive", subject: "rows", details: {} };
    await expect(store.recordAuditArchive({ ...archive, headHash: rows[1]?.hash as string }, event)).rejects.toMatchObject({
      code: "conflict",
    });
    expect(() => store.db.prepare("DELETE FROM audit_log WHERE seq = 1").run()).toThrow("append-only");
    await store.recordAuditArchive(archive, event);
    expect(await store.deleteArchivedAudit()).toBe(3);
    await expect(
      store.recordAuditArchive({ ...archive, throughSeq: 2, headHash: rows[1]?.hash as string }, event),
    ).rejects.toMatchObject({
      code: "conflict",
    });
    expect(() => store.db.prepare("DELETE FROM audit_log WHERE seq = 4").run()).toThrow("append-only");
    const rest = [...store.auditRows()];
    expect(rest.map((r) => r.seq)).toEqual([4, 5, 6]);
    expect(verifyAuditChain(rest, { start: { seq: 3, hash: archive.headHash } })).toMatchObject({ ok: true, rows: 3 });
  });

  it("refuses UPDATE and DELETE through SQLite itself", () => {
    expect(() => store.db.prepare("UPDATE audit_log SET actor = 'x' WHERE seq = 1").run()).toThrow("append-only");
    expect(() => store.db.prepare("DELETE FROM audit_log WHERE seq = 1").run()).toThrow("append-only");
  });
});
