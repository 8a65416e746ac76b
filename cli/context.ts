import type { Command } from "commander";
import { openCa } from "../src/ca/open-ca.js";
import { systemClock } from "../src/clock.js";
import { dataFiles, isInitialized, resolveDataDir } from "../src/data-dir.js";
import { TesseraError } from "../src/errors.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";

export interface GlobalOptions {
  dataDir?: string;
}

/** Adds the options every command takes. */
export function withDataDir(cmd: Command): Command {
  return cmd.option("--data-dir <dir>", "data directory (env TESSERA_DATA_DIR, default ./tessera-data)");
}

export function dataDirOf(opts: GlobalOptions): string {
  return resolveDataDir(opts.dataDir, process.env);
}

/** The operator running the CLI, as recorded in the audit log. */
export function operator(): string {
  return `operator:${process.env.USER ?? process.env.LOGNAME ?? `uid-${process.getuid?.() ?? "?"}`}`;
}

function requireInitialized(dir: string): void {
  if (!isInitialized(dir)) {
    throw new TesseraError("not_initialized", `${dir} is not initialised: run "tessera init --trust-domain TD" first`);
  }
}

/** Opens only the database (commands that need no CA key). */
export async function withStore<T>(opts: GlobalOptions, fn: (store: SqliteStore, dir: string) => Promise<T>): Promise<T> {
  const dir = dataDirOf(opts);
  requireInitialized(dir);
  const store = new SqliteStore(dataFiles(dir).database, { now: () => systemClock.now().getTime() });
  try {
    return await fn(store, dir);
  } finally {
    store.close();
  }
}

/** Opens the database and the CA keys (commands that sign). */
export async function withCa<T>(opts: GlobalOptions, fn: (ca: Awaited<ReturnType<typeof openCa>>) => Promise<T>): Promise<T> {
  const dir = dataDirOf(opts);
  requireInitialized(dir);
  const opened = await openCa(dir, process.env, systemClock);
  try {
    return await fn(opened);
  } finally {
    opened.store.close();
  }
}

/** Prints rows as an aligned table. */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  process.stdout.write(`${line(headers)}\n`);
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export const iso = (ms: number | null): string => (ms === null ? "" : new Date(ms).toISOString());
