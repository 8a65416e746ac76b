import { createHash } from "node:crypto";
import { closeSync, createReadStream, existsSync, fsyncSync, linkSync, openSync, statSync, unlinkSync } from "node:fs";
import { basename, dirname } from "node:path";
import Database from "better-sqlite3";
import { TesseraError } from "../errors.js";
import type { SqliteStore } from "../store/sqlite/sqlite-store.js";

export interface BackupResult {
  file: string;
  bytes: number;
  pages: number;
  sha256: string;
  /** The newest audit row the backup holds. */
  auditHead: { seq: number; hash: string } | null;
}

export async function fileSha256(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The newest audit row of a database file. */
export function auditHeadOf(file: string): { seq: number; hash: string } | null {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (
      (db.prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").get() as { seq: number; hash: string }) ?? null
    );
  } finally {
    db.close();
  }
}

/** Turns a copy of a WAL database into one self-contained file (a reader then creates no -wal or -shm beside it). */
export function makeSelfContained(file: string): void {
  const db = new Database(file, { fileMustExist: true });
  try {
    db.pragma("journal_mode = DELETE");
  } finally {
    db.close();
  }
}

/**
 * Copies the database, consistently, while servers keep issuing: written
 * beside `file` (mode 0600: it holds the sealed CA keys), synced, then
 * linked into place, never over an existing file. The backup is recorded in
 * the audit log of the live database (`data.backup`), with the file's
 * SHA-256 and the newest audit row it holds.
 */
export async function backupDatabase(
  store: SqliteStore,
  file: string,
  options: { actor: string; onProgress?: (copied: number, total: number) => void },
): Promise<BackupResult> {
  if (existsSync(file)) throw new TesseraError("conflict", `${file} exists; a backup is never overwritten`);
  const tmp = `${file}.${process.pid}.tmp`;
  let pages: number;
  try {
    closeSync(openSync(tmp, "wx", 0o600)); // SQLite writes into it, and it keeps this mode
    ({ pages } = await store.backupTo(tmp, options.onProgress));
    makeSelfContained(tmp);
    fsyncPath(tmp);
    linkSync(tmp, file);
  } catch (e) {
    if (existsSync(tmp)) unlinkSync(tmp);
    if ((e as NodeJS.ErrnoException).code === "EEXIST") {
      throw new TesseraError("conflict", `${file} exists; a backup is never overwritten`);
    }
    if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "EACCES") {
      throw new TesseraError("invalid_argument", `cannot write ${file}: ${(e as NodeJS.ErrnoException).code}`);
    }
    throw e;
  }
  unlinkSync(tmp);
  fsyncPath(dirname(file));
  const result: BackupResult = {
    file,
    bytes: statSync(file).size,
    pages,
    sha256: await fileSha256(file),
    auditHead: auditHeadOf(file),
  };
  await store.recordEvent({
    actor: options.actor,
    action: "data.backup",
    subject: basename(file),
    details: {
      sha256: result.sha256,
      bytes: result.bytes,
      audit_head: result.auditHead ? `${result.auditHead.seq}:${result.auditHead.hash}` : null,
    },
  });
  return result;
}
