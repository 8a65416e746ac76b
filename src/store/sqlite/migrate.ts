import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type Database from "better-sqlite3";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Reads `NNNN_name.sql` files from `dir`, ordered by number. */
export function loadMigrations(dir: string): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .map((f) => ({ version: Number(f.slice(0, 4)), name: f, sql: readFileSync(join(dir, f), "utf8") }))
    .sort((a, b) => a.version - b.version);
}

/**
 * Applies every migration not yet recorded in schema_migrations, each in its
 * own immediate transaction, so concurrent starters apply each exactly once.
 * Returns the names applied.
 */
export function migrate(db: Database.Database, migrations: Migration[], now: number): string[] {
  db.exec(
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT",
  );
  const applied: string[] = [];
  for (const m of migrations) {
    const apply = db.transaction(() => {
      const done = db.prepare("SELECT 1 FROM schema_migrations WHERE version = ?").get(m.version);
      if (done) return false;
      db.exec(m.sql);
      db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(m.version, m.name, now);
      return true;
    });
    if (apply.immediate()) applied.push(m.name);
  }
  const newest = db.prepare("SELECT max(version) AS v FROM schema_migrations").get() as { v: number | null };
  const known = migrations.at(-1)?.version ?? 0;
  if ((newest.v ?? 0) > known) {
    throw new Error(`database schema version ${newest.v} is newer than this Tessera (${known}); upgrade Tessera`);
  }
  return applied;
}
