import { writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { archiveLine, readAuditArchive } from "../../src/audit/audit-archive.js";
import { auditRowHash, GENESIS_HASH, verifyAuditChain } from "../../src/audit/audit-chain.js";
import type { AuditRecord } from "../../src/store/store.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function chain(n: number, subject: (i: number) => string): AuditRecord[] {
  const rows: AuditRecord[] = [];
  let prevHash = GENESIS_HASH;
  for (let i = 1; i <= n; i++) {
    const row = {
      seq: i,
      at: 1_800_000_000_000 + i,
      actor: "operator:jörg",
      action: "token.create",
      subject: subject(i),
      details: { i, note: "ü→✓" },
      prevHash,
    };
    prevHash = auditRowHash(row);
    rows.push({ ...row, hash: prevHash });
  }
  return rows;
}

describe("audit archive files", () => {
  it("read back exactly what was written, characters split across read chunks included", () => {
    // long multi-byte subjects so that some character straddles the 1 MiB chunk boundary
    const rows = chain(3000, (i) => `spiffe://example.org/${"é".repeat(200 + (i % 7))}`);
    const file = `${tmp.dir}/a.jsonl`;
    writeFileSync(file, rows.map(archiveLine).join(""));
    const back = [...readAuditArchive(file)];
    expect(back).toEqual(rows);
    expect(verifyAuditChain(back)).toMatchObject({ ok: true, rows: 3000 });
  });

  it.each([
    ["rejects/a line that is not JSON", "{not json\n", "a.jsonl:1: not an audit archive row (not JSON)"],
    [
      "rejects/a row without its hash",
      `${JSON.stringify({ seq: 1, at: "2026-01-01T00:00:00.000Z", actor: "a", action: "b", subject: "c", details: {}, prev_hash: GENESIS_HASH })}\n`,
      "wrong type",
    ],
    [
      "rejects/a bad time",
      `${JSON.stringify({ seq: 1, at: "yesterday", actor: "a", action: "b", subject: "c", details: {}, prev_hash: "x", hash: "y" })}\n`,
      "wrong type",
    ],
  ])("%s", (_name, text, message) => {
    const file = `${tmp.dir}/a.jsonl`;
    writeFileSync(file, text);
    expect(() => [...readAuditArchive(file)]).toThrow(message);
  });

  it("rejects/a file that cannot be read, saying which", () => {
    expect(() => [...readAuditArchive(`${tmp.dir}/missing.jsonl`)]).toThrow("cannot read");
  });
});
