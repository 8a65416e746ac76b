import { createHash, randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../../src/audit/audit-chain.js";
import { AuditAppender } from "../../src/store/sqlite/audit-appender.js";
import { GroupCommitQueue } from "../../src/store/sqlite/group-commit.js";
import { IssuanceBatchWriter } from "../../src/store/sqlite/issuance-batch.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { type HeldFile, type SyncCallback, WalSync } from "../../src/store/sqlite/wal-sync.js";
import type { AuditEvent, CertificateRecord } from "../../src/store/store.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const NOW = 1_800_000_000_000;
let store: SqliteStore;
let file = 0;

beforeEach(() => {
  store = new SqliteStore(`${tmp.dir}/g${file++}.db`, { now: () => NOW });
  // these tests exercise the batching alone, without a CA key row to reference
  store.db.pragma("foreign_keys = OFF");
});
afterEach(() => store.close());

function cert(serial = randomBytes(16).toString("hex")): CertificateRecord {
  return {
    serial,
    spiffeId: "spiffe://example.org/w",
    issuerId: "issuer",
    notBefore: NOW,
    notAfter: NOW + 3_600_000,
    der: randomBytes(64),
    attestation: "join_token",
    issuedAt: NOW,
    revokedAt: null,
    revocationReason: null,
    entryId: null,
  };
}

const audit = (serial: string): AuditEvent => ({ actor: "test", action: "svid.x509.issue", subject: serial, details: {} });

function addToken(seed: string): string {
  const hash = createHash("sha256").update(seed).digest("hex");
  store.db
    .prepare("INSERT INTO join_tokens (token_hash, spiffe_id, selectors, created_at, expires_at) VALUES (?, ?, '[]', ?, ?)")
    .run(hash, "spiffe://example.org/w", NOW, NOW + 60_000);
  return hash;
}

async function auditSubjects(): Promise<string[]> {
  const rows = await store.listAudit();
  expect(verifyAuditChain(rows).ok).toBe(true);
  return rows.map((r) => r.subject);
}

describe("group commit", () => {
  it("writes requests of one turn in one batch, and gives a raced token to exactly one of them", async () => {
    const token = addToken("t1");
    const certs = [cert(), cert(), cert()];
    const outcomes = await Promise.all(certs.map((c) => store.recordCertificate(c, audit(c.serial), { hash: token, now: NOW })));
    expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
    expect(outcomes.filter((o) => !o.ok && o.reason === "token_used")).toHaveLength(2);
    const winner = certs[outcomes.findIndex((o) => o.ok)] as CertificateRecord;
    expect((await store.getCertificate(winner.serial))?.serial).toBe(winner.serial);
    expect(await auditSubjects()).toEqual([winner.serial]);
  });

  it("rejects/an item that fails in the database without undoing the others in its batch", async () => {
    const first = cert();
    const duplicate = cert(first.serial); // same serial: the insert violates the primary key
    const third = cert();
    const tokens = [addToken("a"), addToken("b"), addToken("c")];
    const settled = await Promise.allSettled(
      [first, duplicate, third].map((c, i) =>
        store.recordCertificate(c, audit(`${c.serial}#${i}`), { hash: tokens[i] as string, now: NOW }),
      ),
    );
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(await store.getCertificate(third.serial)).toBeDefined();
    // the failed item's savepoint was rolled back: its token is unused and its audit row absent
    const used = store.db.prepare("SELECT token_hash FROM join_tokens WHERE used_at IS NOT NULL").all() as Array<{
      token_hash: string;
    }>;
    expect(used.map((r) => r.token_hash).sort()).toEqual([tokens[0], tokens[2]].sort());
    expect(await auditSubjects()).toEqual([`${first.serial}#0`, `${third.serial}#2`]);
  });

  it("keeps the audit chain whole across many batches", async () => {
    for (let b = 0; b < 5; b++) {
      const certs = Array.from({ length: 7 }, () => cert());
      await Promise.all(certs.map((c) => store.recordCertificate(c, audit(c.serial))));
    }
    expect(await auditSubjects()).toHaveLength(35);
  });

  it("holds the answer to a committed batch until the WAL sync has finished", async () => {
    const syncs: SyncCallback[] = [];
    const queue = new GroupCommitQueue(store.db, new IssuanceBatchWriter(store.db, new AuditAppender(store.db)), {
      busyTimeoutMs: 1_000,
      synchronous: "FULL",
      walSync: new WalSync((done) => syncs.push(done)),
    });
    const c = cert();
    let settled = false;
    const answer = queue.submit({ kind: "certificate", cert: c, audit: audit(c.serial), at: NOW }).finally(() => {
      settled = true;
    });
    while (syncs.length === 0) await new Promise((r) => setImmediate(r));
    // committed, and the sync asked for, but not finished: the caller is still waiting
    expect(await store.getCertificate(c.serial)).toBeDefined();
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    syncs[0]?.(null);
    await expect(answer).resolves.toMatchObject({ ok: true });
  });

  it("restores the connection's full sync for the writes that are not batched", async () => {
    const c = cert();
    await store.recordCertificate(c, audit(c.serial));
    // 2 = FULL: revocations, CRL numbers and the rest still sync as they commit
    expect(store.db.pragma("synchronous", { simple: true })).toBe(2);
  });

  it("refuses to acknowledge a batch whose WAL could not be synced", async () => {
    const c = cert();
    await store.recordCertificate(c, audit(c.serial)); // the WAL file exists now
    // the descriptor the syncs go through, closed under the store: the next sync fails
    (store as unknown as { walFile: HeldFile }).walFile.close();
    const next = cert();
    await expect(store.recordCertificate(next, audit(next.serial))).rejects.toThrow(/could not be synced to disk/);
  });
});
