import { once } from "node:events";
import { existsSync } from "node:fs";
import type { Command } from "commander";
import { openCa } from "../src/ca/open-ca.js";
import { systemClock } from "../src/clock.js";
import { dataFiles, isInitialized, resolveDataDir } from "../src/data-dir.js";
import { TesseraError } from "../src/errors.js";
import { parseSpiffeId } from "../src/identity/spiffe-id.js";
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

export function requireInitialized(dir: string): void {
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

/** Parses a numeric option: a whole number of at least `min`, or one clear error. */
export function wholeNumber(text: string, name: string, min = 0): number {
  const n = Number(text);
  if (!/^\d{1,15}$/.test(text) || n < min) {
    throw new TesseraError("invalid_argument", `${name} must be a whole number of at least ${min}, not "${text}"`);
  }
  return n;
}

/** A table's lines: each column as wide as its widest cell among `sized`. */
function tableLine(headers: string[], sized: string[][]): (cells: string[]) => string {
  const widths = headers.map((h, i) => Math.max(h.length, ...sized.map((r) => (r[i] ?? "").length)));
  return (cells) =>
    `${cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd()}\n`;
}

/** Prints rows as an aligned table. */
export function printTable(headers: string[], rows: string[][]): void {
  const line = tableLine(headers, rows);
  process.stdout.write(line(headers));
  for (const r of rows) process.stdout.write(line(r));
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Writes to stdout in chunks, waiting whenever the reader falls behind: a
 * pipe to a slow consumer would otherwise queue the whole output in memory.
 */
class PacedStdout {
  private pending = "";

  async write(text: string): Promise<void> {
    this.pending += text;
    if (this.pending.length >= 64 * 1024) await this.flush();
  }

  async flush(): Promise<void> {
    const chunk = this.pending;
    this.pending = "";
    if (chunk && !process.stdout.write(chunk)) await once(process.stdout, "drain");
  }
}

/** Prints a JSON array item by item, byte for byte what `printJson` would print for the whole array. */
export async function printJsonArray(items: Iterable<unknown>): Promise<void> {
  const out = new PacedStdout();
  let first = true;
  for (const item of items) {
    const text = JSON.stringify(item, null, 2).replaceAll("\n", "\n  ");
    await out.write(`${first ? "[\n" : ",\n"}  ${text}`);
    first = false;
  }
  await out.write(first ? "[]\n" : "\n]\n");
  await out.flush();
}

/**
 * Prints rows as they come: columns are sized by the first `lookahead` rows
 * (a longer cell later only pushes its line), so a long listing is never
 * held in memory.
 */
export async function printTableStream(headers: string[], rows: Iterable<string[]>, lookahead = 1000): Promise<void> {
  const first: string[][] = [];
  const it = rows[Symbol.iterator]();
  let next = it.next();
  while (!next.done && first.length < lookahead) {
    first.push(next.value);
    next = it.next();
  }
  const line = tableLine(headers, first);
  const out = new PacedStdout();
  await out.write(line(headers));
  for (const r of first) await out.write(line(r));
  for (; !next.done; next = it.next()) await out.write(line(next.value));
  await out.flush();
}

/** A count on stderr, rewritten in place, for work that takes a while; silent unless stderr is a terminal. */
export function progressLine(label: string): { update(count: number): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  let shown = false;
  return {
    update(count) {
      if (!tty) return;
      process.stderr.write(`\r${label}: ${count.toLocaleString("en-US")}`);
      shown = true;
    },
    done() {
      if (shown) process.stderr.write("\r\x1b[K");
    },
  };
}

export const iso = (ms: number | null): string => (ms === null ? "" : new Date(ms).toISOString());

/** The filters every list command takes: --spiffe-id, --status (one of `statuses`), --limit, --json. */
export function withListFilters(cmd: Command, statuses: readonly string[]): Command {
  return cmd
    .option("--spiffe-id <id>", "only this identity")
    .option("--status <status>", `only ${statuses.join(", ")}`)
    .option("--limit <n>", "at most this many", "1000")
    .option("--json", "print as JSON");
}

export interface ListFilterOptions extends GlobalOptions {
  spiffeId?: string;
  status?: string;
  limit: string;
  json?: boolean;
}

/** Checks the options `withListFilters` added: the identity parsed, the status one of `statuses`, the limit a whole number. */
export function listFilter<S extends string>(
  opts: ListFilterOptions,
  statuses: readonly S[],
): { spiffeId?: string; status?: S; limit: number } {
  if (opts.status !== undefined && !(statuses as readonly string[]).includes(opts.status)) {
    throw new TesseraError("invalid_argument", `--status must be one of ${statuses.join(", ")}`);
  }
  return {
    spiffeId: opts.spiffeId ? parseSpiffeId(opts.spiffeId).toString() : undefined,
    status: opts.status as S | undefined,
    limit: wholeNumber(opts.limit, "--limit", 1),
  };
}

/** The data directory's bundle.pem, if there is one: the roots to trust by default on the CA's own machine. */
export function localBundle(opts: GlobalOptions): string | undefined {
  const path = dataFiles(dataDirOf(opts)).bundle;
  return existsSync(path) ? path : undefined;
}
