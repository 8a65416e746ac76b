import { createHash } from "node:crypto";
import type { AuditRecord } from "../store/store.js";

/** Hash of the chain's start: the first row's prev_hash. */
export const GENESIS_HASH = "0".repeat(64);

/** The hash a row must carry: SHA-256 over its predecessor's hash and its own content. */
export function auditRowHash(row: Omit<AuditRecord, "hash">): string {
  const content = JSON.stringify([row.seq, row.at, row.actor, row.action, row.subject, row.details]);
  return createHash("sha256").update(row.prevHash).update("\n").update(content).digest("hex");
}

export type AuditVerdict = { ok: true; rows: number } | { ok: false; rows: number; badSeq: number; problem: string };

/**
 * Walks the chain in order. Detects a changed row (its hash no longer matches),
 * a removed or reordered row (a gap in `seq` or a prev_hash that is not the
 * previous row's hash), and a rewritten tail only up to the last row (which
 * operators should anchor elsewhere, e.g. by shipping the log).
 */
export function verifyAuditChain(rows: Iterable<AuditRecord>): AuditVerdict {
  let prev = GENESIS_HASH;
  let expectedSeq: number | undefined;
  let count = 0;
  for (const row of rows) {
    count++;
    if (expectedSeq !== undefined && row.seq !== expectedSeq) {
      return { ok: false, rows: count, badSeq: row.seq, problem: `row ${expectedSeq} is missing (next row is ${row.seq})` };
    }
    if (row.prevHash !== prev) {
      return { ok: false, rows: count, badSeq: row.seq, problem: "prev_hash does not match the previous row" };
    }
    if (auditRowHash(row) !== row.hash) {
      return { ok: false, rows: count, badSeq: row.seq, problem: "row content does not match its hash" };
    }
    prev = row.hash;
    expectedSeq = row.seq + 1;
  }
  return { ok: true, rows: count };
}
