import { copyFileSync, existsSync, mkdirSync, renameSync, unlinkSync } from "node:fs";
import { basename } from "node:path";
import Database from "better-sqlite3";
import { openKeyStore } from "../ca/key-store.js";
import type { Clock } from "../clock.js";
import { dataFiles } from "../data-dir.js";
import { TesseraError } from "../errors.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { auditHeadOf, fileSha256, fsyncPath, makeSelfContained } from "./backup.js";
import { type ReplayResult, replayLostChanges } from "./replay-audit.js";

export interface RestoreResult {
  /** The newest audit row the backup held. */
  restoredHead: { seq: number; hash: string } | null;
  /** Where the database that was replaced now is, if there was one. */
  replacedBy: string | null;
  crlsRenumbered: number;
  joinTokensExpired: number;
  sha256: string;
  /** What shipped logs gave back (`--replay`), if any were given. */
  replayed: ReplayResult | null;
}

/** Reads a backup's settings, refusing what is not a sound Tessera database. */
function readBackup(file: string): Record<string, string> {
  if (!existsSync(file)) throw new TesseraError("invalid_argument", `no such file ${file}`);
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const check = db.pragma("quick_check", { simple: true });
    if (check !== "ok") throw new TesseraError("invalid_argument", `${file} is damaged (${String(check)})`);
    const rows = db.prepare("SELECT key, value FROM settings").all() as Array<{ key: string; value: string }>;
    const settings = Object.fromEntries(rows.map((r) => [r.key, r.value]));
    if (!settings.trust_domain) throw new Error("no trust domain");
    return settings;
  } catch (e) {
    if (e instanceof TesseraError) throw e;
    throw new TesseraError("invalid_argument", `${file} is not a Tessera database backup`);
  } finally {
    db?.close();
  }
}

function trustDomainOf(file: string): string | undefined {
  try {
    return readBackup(file).trust_domain;
  } catch {
    return undefined;
  }
}

/** Whether another process has the database open (a server, a CLI command): it cannot be locked exclusively. */
export function databaseInUse(file: string): boolean {
  if (!existsSync(file)) return false;
  const db = new Database(file, { fileMustExist: true });
  try {
    db.pragma("busy_timeout = 0");
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
    db.exec("COMMIT");
    return false;
  } catch (e) {
    // anything else (a damaged file) says nothing about other processes
    return (e as { code?: string }).code === "SQLITE_BUSY";
  } finally {
    db.close();
  }
}

/**
 * Puts a backup in place of the data directory's database. Refused while
 * any process has the database open, for a backup of another trust domain,
 * and for one whose CA keys this directory's key file or passphrase cannot
 * open. The backup is copied and sealed for service (`sealRestored`: CRL
 * numbers above anything used since, unused join tokens expired), and given
 * shipped logs, the revocations and entry deletions made after the backup
 * are replayed (`replayLostChanges`), before it replaces the database, which
 * is kept beside it, renamed, never deleted. A refusal at any step leaves
 * the data directory as it was.
 */
export async function restoreDatabase(
  dataDir: string,
  backupFile: string,
  deps: { clock: Clock; env: NodeJS.ProcessEnv; actor: string; replay?: string[] },
): Promise<RestoreResult> {
  const settings = readBackup(backupFile);
  const live = dataFiles(dataDir).database;
  if (existsSync(live)) {
    if (databaseInUse(live)) {
      throw new TesseraError(
        "conflict",
        "the database is in use: stop every `tessera serve` (and command) on this data directory first",
      );
    }
    // a damaged database (the usual reason to restore) has no trust domain to compare
    const current = trustDomainOf(live);
    if (current !== undefined && current !== settings.trust_domain) {
      throw new TesseraError(
        "conflict",
        `the backup is of trust domain ${settings.trust_domain}, this data directory's CA is ${current}`,
      );
    }
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // throws wrong_passphrase unless this directory's key file or passphrase opens the backup's keys
  openKeyStore(dataDir, settings, deps.env);

  const sha256 = await fileSha256(backupFile);
  const restoredHead = auditHeadOf(backupFile);
  const staging = `${live}.restoring`;
  for (const f of [staging, `${staging}-wal`, `${staging}-shm`]) if (existsSync(f)) unlinkSync(f);
  copyFileSync(backupFile, staging);
  const now = deps.clock.now().getTime();
  let sealed: { crls: number; joinTokens: number };
  let replayed: ReplayResult | null = null;
  try {
    const store = new SqliteStore(staging, { now: () => deps.clock.now().getTime() });
    try {
      sealed = await store.sealRestored(now, {
        actor: deps.actor,
        action: "data.restore",
        subject: basename(backupFile),
        details: {
          sha256,
          restored_head: restoredHead ? `${restoredHead.seq}:${restoredHead.hash}` : null,
        },
      });
      if (deps.replay?.length) replayed = await replayLostChanges(store, restoredHead, deps.replay, deps.actor);
    } finally {
      store.close();
    }
    makeSelfContained(staging); // one file to move into place
    fsyncPath(staging);
  } catch (e) {
    for (const f of [staging, `${staging}-wal`, `${staging}-shm`, `${staging}-journal`]) if (existsSync(f)) unlinkSync(f);
    throw e;
  }

  let replacedBy: string | null = null;
  if (existsSync(live)) {
    replacedBy = `${live}.replaced-${new Date(now).toISOString().replace(/[:.]/g, "-")}`;
    for (const suffix of ["-wal", "-shm"]) if (existsSync(live + suffix)) renameSync(live + suffix, replacedBy + suffix);
    renameSync(live, replacedBy);
  }
  renameSync(staging, live);
  fsyncPath(dataDir);
  return { restoredHead, replacedBy, crlsRenumbered: sealed.crls, joinTokensExpired: sealed.joinTokens, sha256, replayed };
}
