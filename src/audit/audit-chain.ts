import { hash } from "node:crypto";
import type { AuditRecord } from "../store/store.js";

/** Hash of the chain's start: the first row's prev_hash. */
export const GENESIS_HASH = "0".repeat(64);

/** The hash a row must carry: SHA-256 over its predecessor's hash and its own content. */
export function auditRowHash(row: Omit<AuditRecord, "hash">): string {
  const content = JSON.stringify([row.seq, row.at, row.actor, row.action, row.subject, row.details]);
  return hash("sha256", `${row.prevHash}\n${content}`, "hex");
}

/** A row's place in the chain, kept elsewhere (a shipped log, a ticket) to check the log against later. */
export interface AuditAnchor {
  seq: number;
  hash: string;
}

export type AuditVerdict =
  | { ok: true; rows: number; head?: AuditAnchor }
  | { ok: false; rows: number; badSeq: number; problem: string };

const ANCHOR = /^(\d{1,15}):([0-9a-f]{64})$/;

/** Parses `SEQ:HASH` as `audit verify` prints it. */
export function parseAuditAnchor(text: string): AuditAnchor | undefined {
  const m = ANCHOR.exec(text.trim().toLowerCase());
  return m ? { seq: Number(m[1]), hash: m[2] as string } : undefined;
}

/**
 * Walks the chain in order. Detects a changed row (its hash no longer matches),
 * a removed or reordered row (a gap in `seq` or a prev_hash that is not the
 * previous row's hash). A chain rewritten from some row to its end, or cut
 * short, is consistent in itself: only an anchor taken earlier (the row's
 * hash as shipped in the log) reveals it.
 */
export function verifyAuditChain(
  rows: Iterable<AuditRecord>,
  options: {
    /** Where the rows continue from (the newest archive's head); the genesis row otherwise. */
    start?: AuditAnchor;
    anchor?: AuditAnchor;
    onProgress?: (rows: number) => void;
  } = {},
): AuditVerdict {
  const { start, anchor, onProgress } = options;
  if (anchor && start && anchor.seq <= start.seq && !(anchor.seq === start.seq && anchor.hash === start.hash)) {
    const problem =
      anchor.seq === start.seq
        ? "its hash is not the anchor's: the log was rewritten up to here"
        : `it is archived (rows up to ${start.seq}): check the anchor with the archive files`;
    return { ok: false, rows: 0, badSeq: anchor.seq, problem };
  }
  let prev = start?.hash ?? GENESIS_HASH;
  let expectedSeq = start ? start.seq + 1 : undefined;
  let count = 0;
  for (const row of rows) {
    count++;
    if (onProgress && count % 65_536 === 0) onProgress(count);
    if (expectedSeq !== undefined && row.seq !== expectedSeq) {
      return { ok: false, rows: count, badSeq: row.seq, problem: `row ${expectedSeq} is missing (next row is ${row.seq})` };
    }
    if (row.prevHash !== prev) {
      return { ok: false, rows: count, badSeq: row.seq, problem: "prev_hash does not match the previous row" };
    }
    if (auditRowHash(row) !== row.hash) {
      return { ok: false, rows: count, badSeq: row.seq, problem: "row content does not match its hash" };
    }
    if (anchor && row.seq === anchor.seq && row.hash !== anchor.hash) {
      return {
        ok: false,
        rows: count,
        badSeq: row.seq,
        problem: "its hash is not the anchor's: the log was rewritten up to here",
      };
    }
    prev = row.hash;
    expectedSeq = row.seq + 1;
  }
  if (anchor && (expectedSeq === undefined || anchor.seq >= expectedSeq)) {
    const last = expectedSeq === undefined ? 0 : expectedSeq - 1;
    return {
      ok: false,
      rows: count,
      badSeq: anchor.seq,
      problem: `the log ends at row ${last}, before the anchored row: rows were removed from its end`,
    };
  }
  return expectedSeq === undefined
    ? { ok: true, rows: count }
    : { ok: true, rows: count, head: { seq: expectedSeq - 1, hash: prev } };
}
