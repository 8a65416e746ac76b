import { writeFileSync } from "node:fs";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { readAuditArchive } from "../../src/audit/audit-archive.js";
import { verifyAuditChain } from "../../src/audit/audit-chain.js";
import { AuditTail } from "../../src/audit/audit-tail.js";
import { newJti } from "../../src/jwt/mint-jwt-svid.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const NOW = 1_800_000_000_000;
let file = 0;

async function storeWithRows(n: number): Promise<SqliteStore> {
  const store = new SqliteStore(`${tmp.dir}/t${file++}.db`, { now: () => NOW });
  store.db.pragma("foreign_keys = OFF");
  await Promise.all(
    Array.from({ length: n }, (_, i) => {
      const jti = newJti();
      return store.recordJwtSvid(
        { jti, spiffeId: `spiffe://example.org/w${i}`, audience: ["api"], keyId: "k", issuedAt: NOW, expiresAt: NOW + 1 },
        { actor: "test", action: "svid.jwt.issue", subject: `spiffe://example.org/w${i}`, details: { jti, ünïcode: "✓" } },
      );
    }),
  );
  return store;
}

function capture(level: string) {
  const writes: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      writes.push(chunk.toString());
      done();
    },
  });
  const logger = pino({ level, base: { service: "tessera" }, timestamp: pino.stdTimeFunctions.isoTime }, stream);
  return { logger, writes };
}

describe("AuditTail", () => {
  it("mirrors every row once, as pino lines, in whole-line writes of at most 4 KiB", async () => {
    const store = await storeWithRows(120);
    try {
      const { logger, writes } = capture("info");
      const tail = new AuditTail(store, logger);
      await tail.resume();
      await tail.drain();
      await tail.drain(); // nothing new: nothing written
      const lines = writes
        .join("")
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => l.audit.seq)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
      expect(lines[0]).toMatchObject({ level: 30, service: "tessera", msg: expect.stringMatching(/^audit svid\.jwt\.issue /) });
      expect(new Date(lines[0].time).toISOString()).toBe(lines[0].time);
      expect(lines[0].audit.details.ünïcode).toBe("✓");
      // the shipped rows alone are a chain that verifies, in the archive format
      const shipped = `${tmp.dir}/shipped-${file}.jsonl`;
      writeFileSync(shipped, lines.map((l) => `${JSON.stringify(l.audit)}\n`).join(""));
      expect(verifyAuditChain(readAuditArchive(shipped))).toMatchObject({ ok: true, rows: 120 });
      expect(writes.length).toBeGreaterThan(1);
      for (const w of writes) {
        expect(Buffer.byteLength(w)).toBeLessThanOrEqual(4096);
        expect(w.endsWith("\n")).toBe(true);
      }
      // a restart resumes after the last row shipped
      const again = capture("info");
      const next = new AuditTail(store, again.logger);
      await next.resume();
      await next.drain();
      expect(again.writes).toEqual([]);
    } finally {
      store.close();
    }
  });

  it("writes nothing when info lines are off, but still moves past the rows", async () => {
    const store = await storeWithRows(3);
    try {
      const { logger, writes } = capture("warn");
      const tail = new AuditTail(store, logger);
      await tail.drain();
      expect(writes).toEqual([]);
      expect((await store.getSettings()).audit_shipped_seq).toBe("3");
    } finally {
      store.close();
    }
  });
});
