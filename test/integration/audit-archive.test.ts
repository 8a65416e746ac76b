import { readFileSync, statSync, writeFileSync } from "node:fs";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { auditRowHash } from "../../src/audit/audit-chain.js";
import { runCli, startTestServer, waitFor } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const cli = (dataDir: string, ...args: string[]) => runCli([...args, "--data-dir", dataDir]);
const tokenFor = (dataDir: string, name: string) =>
  expect(cli(dataDir, "token", "create", "--spiffe-id", `spiffe://example.org/${name}`).status).toBe(0);

/** Runs the server until it has written every audit row so far to its log (what `audit archive` waits for). */
async function ship(dataDir: string): Promise<void> {
  const server = await startTestServer({ dataDir });
  try {
    const db = new Database(`${dataDir}/tessera.db`, { readonly: true });
    const shipped = await waitFor(async () => {
      const max = (db.prepare("SELECT max(seq) AS m FROM audit_log").get() as { m: number }).m;
      const at = db.prepare("SELECT value FROM settings WHERE key = 'audit_shipped_seq'").get() as { value: string } | undefined;
      return Number(at?.value ?? 0) >= max ? true : undefined;
    }, 5000);
    db.close();
    expect(shipped).toBe(true);
  } finally {
    await server.stop();
  }
}

const seqs = (dataDir: string) =>
  (JSON.parse(cli(dataDir, "audit", "list", "--json").stdout) as Array<{ seq: number }>).map((r) => r.seq);

describe("tessera audit archive", () => {
  it("moves old, shipped rows to a file; verify checks what stays, or files and table as one chain", async () => {
    const dataDir = `${tmp.dir}/archive`;
    expect(cli(dataDir, "init", "--trust-domain", "example.org").status).toBe(0);
    for (const n of ["a", "b", "c"]) tokenFor(dataDir, n);
    const first = `${tmp.dir}/audit-1.jsonl`;

    // rows the server has not yet written to its log stay
    const early = cli(dataDir, "audit", "archive", "--older-than", "1s", "--out", first);
    await new Promise((r) => setTimeout(r, 1100));
    expect(cli(dataDir, "audit", "archive", "--older-than", "1s", "--out", first).stdout).toContain(
      "not yet in the server's log",
    );
    expect(early.stdout).toContain("nothing archived");
    await ship(dataDir);
    const before = seqs(dataDir);
    await new Promise((r) => setTimeout(r, 1100));

    const archived = JSON.parse(cli(dataDir, "audit", "archive", "--older-than", "1s", "--out", first, "--json").stdout);
    const through = before.at(-1) as number;
    expect(archived).toMatchObject({ archived: through, from_seq: 1, through_seq: through, deleted: through });
    expect(statSync(first).mode & 0o777).toBe(0o600);
    const lines = readFileSync(first, "utf8").trim().split("\n");
    expect(lines.map((l) => JSON.parse(l).seq)).toEqual(before);
    expect(archived.head).toBe(`${through}:${JSON.parse(lines.at(-1) as string).hash}`);
    // what stays: the archive's own row
    const rest = JSON.parse(cli(dataDir, "audit", "list", "--json").stdout) as Array<{ seq: number; action: string }>;
    expect(rest.map((r) => [r.seq, r.action])).toEqual([[through + 1, "audit.archive"]]);
    const alone = cli(dataDir, "audit", "verify");
    expect(alone.status, alone.stderr).toBe(0);
    expect(alone.stdout).toContain(`rows 1-${through} are archived`);
    const whole = JSON.parse(cli(dataDir, "audit", "verify", "--archive", first, "--json").stdout);
    expect(whole).toMatchObject({ ok: true, rows: through + 1, archived_through: through });

    // an archive is never overwritten
    const again = cli(dataDir, "audit", "archive", "--older-than", "1s", "--out", first);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toContain("never overwritten");

    // a second archive continues the first
    for (const n of ["d", "e"]) tokenFor(dataDir, n);
    await ship(dataDir);
    await new Promise((r) => setTimeout(r, 1100));
    const second = `${tmp.dir}/audit-2.jsonl`;
    const next = JSON.parse(cli(dataDir, "audit", "archive", "--older-than", "1s", "--out", second, "--json").stdout);
    expect(next.from_seq).toBe(through + 1);
    const both = cli(dataDir, "audit", "verify", "--archive", first, "--archive", second);
    expect(both.status, both.stderr).toBe(0);
    expect(both.stdout).not.toContain("archived");
    const onlySecond = cli(dataDir, "audit", "verify", "--archive", second);
    expect(onlySecond.status).not.toBe(0);
    const onlyFirst = cli(dataDir, "audit", "verify", "--archive", first);
    expect(onlyFirst.status).not.toBe(0);
    expect(onlyFirst.stderr).toContain("give every archive file, oldest first");
    expect(cli(dataDir, "audit", "verify").status).toBe(0);
  });

  it("rejects/an edited, rewritten or shortened archive file, and deleting rows no archive covers", async () => {
    const dataDir = `${tmp.dir}/archive-tamper`;
    expect(cli(dataDir, "init", "--trust-domain", "example.org").status).toBe(0);
    for (const n of ["a", "b"]) tokenFor(dataDir, n);
    await ship(dataDir);
    await new Promise((r) => setTimeout(r, 1100));
    const file = `${tmp.dir}/tamper.jsonl`;
    expect(cli(dataDir, "audit", "archive", "--older-than", "1s", "--out", file).status).toBe(0);
    const original = readFileSync(file, "utf8");

    writeFileSync(file, original.replace("spiffe://example.org/a", "spiffe://example.org/z"));
    const edited = cli(dataDir, "audit", "verify", "--archive", file);
    expect(edited.status).not.toBe(0);
    expect(edited.stderr).toMatch(/altered at row \d+: row content does not match its hash/);

    // rewritten as a consistent chain, it still ends in a head the database did not record
    let prev = "0".repeat(64);
    const rechained = original
      .trim()
      .split("\n")
      .map((line) => {
        const r = JSON.parse(line);
        const row = { ...r, subject: r.subject.replace("example.org/a", "example.org/z"), prevHash: prev, at: Date.parse(r.at) };
        prev = auditRowHash(row);
        return JSON.stringify({ ...r, subject: row.subject, prev_hash: row.prevHash, hash: prev });
      });
    const forged = `${tmp.dir}/forged.jsonl`;
    writeFileSync(forged, `${rechained.join("\n")}\n`);
    const rewritten = cli(dataDir, "audit", "verify", "--archive", forged);
    expect(rewritten.status).not.toBe(0);
    expect(rewritten.stderr).toContain("not the head the archive recorded");
    // cut short, it does not reach the head either
    writeFileSync(forged, `${original.trim().split("\n").slice(0, -1).join("\n")}\n`);
    const short = cli(dataDir, "audit", "verify", "--archive", forged);
    expect(short.status).not.toBe(0);
    expect(short.stderr).toContain("give every archive file");

    writeFileSync(file, "not json\n");
    const garbage = cli(dataDir, "audit", "verify", "--archive", file);
    expect(garbage.status).not.toBe(0);
    expect(garbage.stderr).toContain("tamper.jsonl:1: not an audit archive row");
    writeFileSync(file, original);
    expect(cli(dataDir, "audit", "verify", "--archive", file).status).toBe(0);

    const db = new Database(`${dataDir}/tessera.db`);
    const newest = (db.prepare("SELECT max(seq) AS m FROM audit_log").get() as { m: number }).m;
    expect(() => db.prepare("DELETE FROM audit_log WHERE seq = ?").run(newest)).toThrow("append-only");
    expect(() => db.prepare("DELETE FROM audit_archives").run()).toThrow("append-only");
    expect(() => db.prepare("UPDATE audit_archives SET head_hash = 'x'").run()).toThrow("append-only");
    db.close();
  });
});
