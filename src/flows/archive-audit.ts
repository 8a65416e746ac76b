import { createHash } from "node:crypto";
import { closeSync, existsSync, fsyncSync, linkSync, openSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname } from "node:path";
import { archiveLine } from "../audit/audit-archive.js";
import { verifyAuditChain } from "../audit/audit-chain.js";
import type { Clock } from "../clock.js";
import { TesseraError } from "../errors.js";
import { SHIPPED_KEY } from "../store/settings-keys.js";
import type { AuditRecord, Store } from "../store/store.js";

export interface ArchiveResult {
  fromSeq: number;
  throughSeq: number;
  rows: number;
  headHash: string;
  fileSha256: string;
  /** Rows deleted from the table: more than `rows` if an earlier archive's deletion was cut short. */
  deleted: number;
}

/**
 * Moves the start of the audit log to a file: the rows older than the
 * cut-off (and already mirrored to the structured log, so a log shipper has
 * seen them) are checked, written to `file` (JSON Lines, never over an
 * existing file) and made durable; the archive is recorded, with its own
 * audit row, and only then are the rows deleted from the table. What stays
 * verifies from the archive's head hash onwards; `audit verify --archive`
 * checks the files and the table as one chain.
 */
export async function archiveAudit(
  deps: { store: Store; clock: Clock },
  options: { olderThanMs: number; file: string; actor: string; onProgress?: (rows: number) => void },
): Promise<ArchiveResult | { nothing: string }> {
  const { store } = deps;
  if (existsSync(options.file)) throw new TesseraError("conflict", `${options.file} exists; an archive is never overwritten`);
  const previous = (await store.auditArchives()).at(-1);
  const fromSeq = (previous?.throughSeq ?? 0) + 1;
  const now = deps.clock.now().getTime();
  const old = await store.lastAuditSeqBefore(now - options.olderThanMs);
  const shipped = Number((await store.getSettings())[SHIPPED_KEY] ?? 0);
  const throughSeq = Math.min(old, shipped);
  if (throughSeq < fromSeq) {
    return {
      nothing:
        old >= fromSeq
          ? `rows from ${shipped + 1} on are not yet in the server's log; start the server to write them there first`
          : "no row is old enough",
    };
  }

  // written beside the target, synced, then linked into place (link fails rather than replace a file)
  const tmp = `${options.file}.${process.pid}.tmp`;
  const fd = openSync(tmp, "wx", 0o600);
  const sha = createHash("sha256");
  let pending = "";
  const flush = () => {
    const bytes = Buffer.from(pending);
    writeSync(fd, bytes);
    sha.update(bytes);
    pending = "";
  };
  let verdict: ReturnType<typeof verifyAuditChain>;
  try {
    verdict = verifyAuditChain(
      (function* (): Generator<AuditRecord> {
        for (const row of store.auditRows(fromSeq - 1)) {
          if (row.seq > throughSeq) return;
          pending += archiveLine(row);
          if (pending.length >= 1 << 20) flush();
          yield row;
        }
      })(),
      { start: previous ? { seq: previous.throughSeq, hash: previous.headHash } : undefined, onProgress: options.onProgress },
    );
    flush();
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  if (!verdict.ok || verdict.head?.seq !== throughSeq) {
    unlinkSync(tmp);
    const why = verdict.ok ? `it ends at row ${verdict.head?.seq ?? 0}` : `row ${verdict.badSeq}: ${verdict.problem}`;
    throw new TesseraError("conflict", `the audit log does not verify (${why}); nothing was archived`);
  }
  try {
    linkSync(tmp, options.file);
  } finally {
    unlinkSync(tmp);
  }
  const dir = openSync(dirname(options.file), "r");
  fsyncSync(dir);
  closeSync(dir);

  const result = { fromSeq, throughSeq, rows: verdict.rows, headHash: verdict.head.hash, fileSha256: sha.digest("hex") };
  await store.recordAuditArchive(
    {
      throughSeq,
      headHash: result.headHash,
      rows: result.rows,
      fileSha256: result.fileSha256,
      fileName: basename(options.file),
      archivedAt: now,
    },
    {
      actor: options.actor,
      action: "audit.archive",
      subject: `audit rows ${fromSeq}-${throughSeq}`,
      details: { from_seq: fromSeq, through_seq: throughSeq, head_hash: result.headHash, file_sha256: result.fileSha256 },
    },
  );
  return { ...result, deleted: await store.deleteArchivedAudit() };
}
