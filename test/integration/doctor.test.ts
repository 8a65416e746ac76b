import { chmodSync } from "node:fs";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { runCli, spawnServe } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

type Check = { name: string; status: "ok" | "warn" | "fail"; detail: string };
function doctor(dataDir: string): { status: number; ok: boolean; checks: Map<string, Check> } {
  const r = runCli(["doctor", "--json", "--data-dir", dataDir]);
  const out = JSON.parse(r.stdout) as { ok: boolean; checks: Check[] };
  return { status: r.status, ok: out.ok, checks: new Map(out.checks.map((c) => [c.name, c])) };
}

describe("tessera doctor", () => {
  it("passes a healthy data directory, with or without a server, and tells the two apart", async () => {
    const dataDir = `${tmp.dir}/healthy`;
    expect(runCli(["init", "--trust-domain", "example.org", "--data-dir", dataDir]).status).toBe(0);
    const idle = doctor(dataDir);
    expect(idle.status).toBe(0);
    expect(idle.ok).toBe(true);
    for (const name of [
      "data directory",
      "master key",
      "database",
      "CA key: x509_root",
      "CA key: x509_intermediate",
      "CA key: jwt",
      "audit log",
    ]) {
      expect(idle.checks.get(name)?.status, name).toBe("ok");
    }
    expect(idle.checks.get("server")?.detail).toContain("no other process");

    const serve = await spawnServe(["--data-dir", dataDir, "--workers", "1"]);
    try {
      const served = doctor(dataDir);
      expect(served.status).toBe(0);
      expect(served.checks.get("server")?.detail).toContain("open in another process");
      const crls = [...served.checks.values()].filter((c) => c.name.startsWith("CRL: "));
      expect(crls.length).toBe(1);
      expect(crls[0]?.status).toBe("ok");
    } finally {
      await serve.stop();
    }
    // the human form: one line per check
    const text = runCli(["doctor", "--data-dir", dataDir]).stdout;
    expect(text).toMatch(/^ok {4}data directory/m);
  });

  it("rejects/a readable master key and an altered audit row: exit 1, each named, the other checks still run", () => {
    const dataDir = `${tmp.dir}/broken`;
    expect(runCli(["init", "--trust-domain", "example.org", "--data-dir", dataDir]).status).toBe(0);
    expect(runCli(["token", "create", "--spiffe-id", "spiffe://example.org/a", "--data-dir", dataDir]).status).toBe(0);
    chmodSync(`${dataDir}/master.key`, 0o644);
    const db = new Database(`${dataDir}/tessera.db`);
    db.exec("DROP TRIGGER audit_log_no_update");
    db.prepare("UPDATE audit_log SET subject = 'spiffe://example.org/b' WHERE seq = 2").run();
    db.close();
    const r = doctor(dataDir);
    expect(r.status).toBe(1);
    expect(r.ok).toBe(false);
    expect(r.checks.get("master key")).toMatchObject({ status: "fail" });
    expect(r.checks.get("master key")?.detail).toContain("chmod 600");
    expect(r.checks.get("audit log")).toMatchObject({ status: "fail" });
    expect(r.checks.get("audit log")?.detail).toContain("row 2");
    expect(r.checks.get("database")?.status).toBe("ok");
  });
});
