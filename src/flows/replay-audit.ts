import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { auditRowFromJson } from "../audit/audit-archive.js";
import { type AuditAnchor, verifyAuditChain } from "../audit/audit-chain.js";
import { TesseraError } from "../errors.js";
import type { AuditRecord, Store } from "../store/store.js";
import { parseReason } from "./revoke.js";

export interface ReplayResult {
  /** Audit rows the logs hold after the backup's head. */
  rows: number;
  throughSeq: number | null;
  revoked: number;
  entriesDeleted: number;
}

/**
 * The audit rows after `afterSeq` in shipped logs: the server's structured
 * log (lines `{"audit": {...}, ...}`; other lines are skipped) or archive
 * files (a row per line). Each seq once, in order; a seq that appears with
 * two different rows is refused.
 */
export async function auditRowsInLogs(files: string[], afterSeq: number): Promise<AuditRecord[]> {
  const bySeq = new Map<number, AuditRecord>();
  for (const file of files) {
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
    try {
      for await (const line of lines) {
        if (!line.startsWith("{")) continue;
        let v: Record<string, unknown>;
        try {
          v = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        const json = typeof v.audit === "object" && v.audit !== null ? (v.audit as Record<string, unknown>) : v;
        const row = auditRowFromJson(json);
        if (typeof row === "string" || row.seq <= afterSeq) continue;
        const seen = bySeq.get(row.seq);
        if (seen && seen.hash !== row.hash) {
          throw new TesseraError("conflict", `the logs hold two different audit rows ${row.seq}`);
        }
        bySeq.set(row.seq, row);
      }
    } catch (e) {
      if (e instanceof TesseraError) throw e;
      throw new TesseraError("invalid_argument", `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
  }
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/**
 * Re-applies to a restored database what must not be undone by going back
 * to a backup: the revocations and entry deletions recorded after its head.
 * The rows are taken from shipped logs and must continue the backup's hash
 * chain without a gap, so a log that was edited, or is missing a row, is
 * refused rather than half-applied. Revocations keep their original time.
 */
export async function replayLostChanges(
  store: Store,
  head: AuditAnchor | null,
  files: string[],
  actor: string,
): Promise<ReplayResult> {
  const rows = await auditRowsInLogs(files, head?.seq ?? 0);
  const verdict = verifyAuditChain(rows, { start: head ?? undefined });
  if (!verdict.ok) {
    throw new TesseraError(
      "conflict",
      `the logs do not continue the backup's audit chain at row ${verdict.badSeq}: ${verdict.problem}; nothing was replayed`,
    );
  }
  let revoked = 0;
  let entriesDeleted = 0;
  for (const row of rows) {
    const replayed = { replayed_seq: row.seq };
    if (row.action === "cert.revoke" && Array.isArray(row.details.serials)) {
      const reasonName = typeof row.details.reason === "string" ? row.details.reason : "unspecified";
      let reason: number;
      try {
        reason = parseReason(reasonName);
      } catch {
        reason = parseReason(undefined);
      }
      for (const serial of row.details.serials) {
        if (typeof serial !== "string") continue;
        const cert = await store.getCertificate(serial);
        if (!cert || cert.revokedAt !== null) continue;
        const done = await store.revoke({ serial }, reason, row.at, {
          actor,
          action: "cert.revoke",
          subject: cert.spiffeId,
          details: { reason: reasonName, ...replayed },
        });
        revoked += done.length;
      }
    } else if (row.action === "entry.delete" && typeof row.details.entry_id === "string") {
      const id = row.details.entry_id;
      const entry = await store.getEntry(id);
      if (!entry) continue;
      const deleted = await store.deleteEntry(id, {
        actor,
        action: "entry.delete",
        subject: entry.spiffeId,
        details: { entry_id: id, ...replayed },
      });
      if (deleted) entriesDeleted++;
    }
  }
  return { rows: rows.length, throughSeq: rows.at(-1)?.seq ?? null, revoked, entriesDeleted };
}
