import { statSync } from "node:fs";
import { join } from "node:path";
import { verifyAuditTable } from "../audit/verify-table.js";
import { MASTER_KEY_FILE, openKeyStore } from "../ca/key-store.js";
import { CaManager } from "../ca/manager.js";
import { activateDueAt } from "../ca/slot.js";
import type { Clock } from "../clock.js";
import { dataFiles } from "../data-dir.js";
import { isTesseraError } from "../errors.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import type { CaKeyKind } from "../store/store.js";
import { databaseInUse } from "./restore.js";

export interface Check {
  name: string;
  /** ok; warn: works, but needs attention; fail: broken. */
  status: "ok" | "warn" | "fail";
  detail: string;
}

const DAY = 86_400_000;
const until = (ms: number) =>
  ms >= 2 * DAY ? `${Math.floor(ms / DAY)} days` : `${Math.max(0, Math.round(ms / 60_000))} minutes`;

/**
 * What `tessera doctor` looks at, offline, in one data directory: its
 * permissions, the master key, the database, the CA keys and whether rotation
 * keeps up, the stored CRLs, the audit chain, and whether a server has the
 * database open. Each check stands alone, so one failure does not hide the
 * others. Opening the database applies pending migrations, as every command
 * does.
 */
export async function diagnose(
  dataDir: string,
  deps: { clock: Clock; env: NodeJS.ProcessEnv; onAuditProgress?: (rows: number) => void },
): Promise<Check[]> {
  const database = dataFiles(dataDir).database;
  // probed before this process opens the database itself
  const served = databaseInUse(database);
  const store = new SqliteStore(database, { now: () => deps.clock.now().getTime() });
  try {
    const checks = await examine(dataDir, store, deps);
    checks.push({
      name: "server",
      status: "ok",
      detail: served ? "the database is open in another process (a server?)" : "no other process has the database open",
    });
    return checks;
  } finally {
    store.close();
  }
}

async function examine(
  dataDir: string,
  store: SqliteStore,
  deps: { clock: Clock; env: NodeJS.ProcessEnv; onAuditProgress?: (rows: number) => void },
): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (name: string, status: Check["status"], detail: string) => checks.push({ name, status, detail });
  const now = deps.clock.now().getTime();

  const dirMode = statSync(dataDir).mode & 0o777;
  if (dirMode & 0o022) add("data directory", "fail", `${dataDir} is writable by group or others (mode ${dirMode.toString(8)})`);
  else if (dirMode & 0o007)
    add("data directory", "warn", `${dataDir} is readable by others (mode ${dirMode.toString(8)}): chmod 700`);
  else add("data directory", "ok", `${dataDir} (mode ${dirMode.toString(8)})`);

  const settings = await store.getSettings();
  let ca: CaManager | undefined;
  try {
    const keyStore = openKeyStore(dataDir, settings, deps.env);
    const how = settings.key_protection === "passphrase" ? "passphrase" : `key file ${join(dataDir, MASTER_KEY_FILE)}, mode 600`;
    add("master key", "ok", `opens the CA keys (${how})`);
    ca = await CaManager.open(store, keyStore, deps.clock);
  } catch (e) {
    add("master key", "fail", isTesseraError(e) ? e.message : String(e));
  }

  const integrity = store.db.pragma("quick_check", { simple: true });
  const schema = store.db.prepare("SELECT max(version) FROM schema_migrations").pluck().get() as number;
  if (integrity === "ok") add("database", "ok", `${dataFiles(dataDir).database}: intact, schema version ${schema}`);
  else add("database", "fail", `${dataFiles(dataDir).database}: ${String(integrity)}`);

  if (ca) {
    for (const kind of ["x509_root", "x509_intermediate", "jwt"] as CaKeyKind[]) {
      const name = `CA key: ${kind}`;
      let active: ReturnType<CaManager["active"]>["record"];
      try {
        active = ca.active(kind).record;
      } catch {
        add(name, "fail", "no active key");
        continue;
      }
      const left = active.notAfter - now;
      if (left <= 0) add(name, "fail", `${active.id} expired on ${new Date(active.notAfter).toISOString()}`);
      else if (kind !== "x509_root" && now >= activateDueAt(active)) {
        add(name, "warn", `${active.id} is past its rotation time and expires in ${until(left)}: is a server running?`);
      } else add(name, "ok", `${active.id} expires in ${until(left)}`);
    }
    for (const key of ca.published("x509_intermediate")) {
      const crl = await store.getCrl(key.record.id);
      const name = `CRL: ${key.record.id}`;
      if (!crl) add(name, "warn", "none built yet: a server builds it on start");
      else if (crl.nextUpdate <= now) {
        add(
          name,
          "fail",
          `number ${crl.number} passed its nextUpdate (${new Date(crl.nextUpdate).toISOString()}): verifiers refuse it`,
        );
      } else if (crl.nextUpdate - now < (crl.nextUpdate - crl.thisUpdate) / 4) {
        add(
          name,
          "warn",
          `number ${crl.number} expires in ${until(crl.nextUpdate - now)} and has not been rebuilt: is a server running?`,
        );
      } else add(name, "ok", `number ${crl.number}, next update in ${until(crl.nextUpdate - now)}`);
    }
  }

  const verdict = await verifyAuditTable(store, { onProgress: deps.onAuditProgress });
  if (verdict.ok) add("audit log", "ok", `${verdict.rows} rows intact${verdict.head ? `, head ${verdict.head.seq}` : ""}`);
  else add("audit log", "fail", `altered at row ${verdict.badSeq}: ${verdict.problem}`);

  return checks;
}
