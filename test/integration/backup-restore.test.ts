import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { call } from "../helpers/https-client.js";
import { openssl, opensslCsr } from "../helpers/openssl.js";
import { CLI, runCli, spawnServe, waitFor } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";
import { makeTokens } from "../helpers/workload.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

async function servedCrl(apiUrl: string, bundle: string): Promise<{ number: bigint; text: string }> {
  const pem = (await call(`${apiUrl}/v1/crl.pem`, { ca: bundle })).text();
  const file = `${tmp.dir}/crl-${Math.random().toString(36).slice(2)}.pem`;
  writeFileSync(file, pem);
  const text = openssl(["crl", "-in", file, "-noout", "-text"]).stdout;
  const number = openssl(["crl", "-in", file, "-noout", "-crlnumber"]).stdout.trim().split("=")[1] as string;
  return { number: BigInt(`0x${number.replace(/^0x/i, "")}`), text };
}

/** The CLI without blocking this process (which drives load meanwhile). */
function cliAsync(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, TESSERA_LOG_LEVEL: "silent" } }, (err, stdout, stderr) =>
      resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function issue(apiUrl: string, bundle: string, token: string) {
  return call(`${apiUrl}/v1/svid/x509`, {
    ca: bundle,
    body: { csr: opensslCsr(tmp.dir).csrPem, attestation: { type: "join_token", token } },
  });
}

describe("tessera backup and restore", () => {
  it("backs up while serving, restores only when stopped, and then never reuses a CRL number or revives a join token", async () => {
    const dataDir = `${tmp.dir}/ca`;
    const cli = (args: string[]) => runCli([...args, "--data-dir", dataDir]);
    let serve = await spawnServe(["--data-dir", dataDir, "--workers", "1"]);
    const bundle = readFileSync(`${dataDir}/bundle.pem`, "utf8");
    const token = (id: string) => cli(["token", "create", "--spiffe-id", id]).stdout.trim();
    try {
      const a = await issue(serve.apiUrl, bundle, token("spiffe://example.org/a"));
      expect(a.status).toBe(201);
      const serialA = a.json<{ serial: string }>().serial;
      const spare = token("spiffe://example.org/b"); // unused when the backup is taken

      const file = `${tmp.dir}/tessera-backup.db`;
      const backup = cli(["backup", "--out", file, "--json"]);
      expect(backup.status, backup.stderr).toBe(0);
      const made = JSON.parse(backup.stdout);
      expect(made.sha256).toBe(sha256(file));
      expect(made.audit_head).toMatch(/^\d+:[0-9a-f]{64}$/);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(existsSync(`${file}-wal`) || existsSync(`${file}-shm`)).toBe(false);
      const again = cli(["backup", "--out", file]);
      expect(again.status).not.toBe(0);
      expect(again.stderr).toContain("never overwritten");
      expect(sha256(file)).toBe(made.sha256);

      // after the backup: the spare token is used, A is revoked, CRLs are built
      expect((await issue(serve.apiUrl, bundle, spare)).status).toBe(201);
      expect(cli(["revoke", serialA]).status).toBe(0);
      const revokedCrl = await waitFor(async () => {
        const crl = await servedCrl(serve.apiUrl, bundle);
        return crl.text.toUpperCase().includes(serialA.toUpperCase()) ? crl : undefined;
      }, 3000);
      expect(revokedCrl).toBeDefined();

      const busy = cli(["restore", "--from", file]);
      expect(busy.status).not.toBe(0);
      expect(busy.stderr).toContain("in use");
      expect(await serve.stop()).toBe(0);

      const restoreStarted = Date.now();
      const restored = cli(["restore", "--from", file, "--json"]);
      expect(restored.status, restored.stderr).toBe(0);
      const done = JSON.parse(restored.stdout);
      expect(done).toMatchObject({ restored_head: made.audit_head, sha256: made.sha256, join_tokens_expired: 1 });
      expect(existsSync(done.replaced_database)).toBe(true);

      serve = await spawnServe(["--data-dir", dataDir, "--workers", "1"]);
      const after = await servedCrl(serve.apiUrl, bundle);
      expect(after.number).toBeGreaterThan(revokedCrl?.number ?? 0n);
      // the revocation came after the backup: it is lost, as restore says
      expect(after.text.toUpperCase()).not.toContain(serialA.toUpperCase());
      expect(JSON.parse(cli(["cert", "show", serialA, "--json"]).stdout).status).toBe("active");
      // the spare token was unused in the backup, but used since: it must not work twice
      const replay = await issue(serve.apiUrl, bundle, spare);
      expect(replay.status).toBe(401);
      expect(replay.json<{ error: { code: string } }>().error.code).toBe("attestation_failed");
      // new tokens work, the audit chain verifies and says what happened
      expect((await issue(serve.apiUrl, bundle, token("spiffe://example.org/c"))).status).toBe(201);
      expect(cli(["audit", "verify"]).status).toBe(0);
      const actions = (JSON.parse(cli(["audit", "list", "--json"]).stdout) as Array<{ action: string }>).map((r) => r.action);
      expect(actions).toContain("data.restore");
      expect(actions).not.toContain("cert.revoke");
      // the bundle sequence does not go back to the backup's
      const sequence = (await call(`${serve.apiUrl}/v1/bundle/spiffe`, { ca: bundle })).json<{ spiffe_sequence: number }>();
      expect(sequence.spiffe_sequence).toBeGreaterThanOrEqual(restoreStarted);
    } finally {
      await serve.stop();
    }
  }, 60_000);

  it("restore --replay applies again the revocations and entry deletions made after the backup, from the shipped log, and refuses an edited or incomplete log", async () => {
    const dataDir = `${tmp.dir}/replay`;
    const cli = (args: string[]) => runCli([...args, "--data-dir", dataDir]);
    let serve = await spawnServe(["--data-dir", dataDir, "--workers", "1"], { TESSERA_LOG_LEVEL: "info" });
    const bundle = readFileSync(`${dataDir}/bundle.pem`, "utf8");
    const token = (id: string) => cli(["token", "create", "--spiffe-id", id]).stdout.trim();
    try {
      const serialOf = async (id: string) => (await issue(serve.apiUrl, bundle, token(id))).json<{ serial: string }>().serial;
      const a = await serialOf("spiffe://example.org/a");
      const b = await serialOf("spiffe://example.org/b");
      const entry = JSON.parse(
        cli(["entry", "create", "--spiffe-id", "spiffe://example.org/e", "--selector", "k8s:ns:e", "--json"]).stdout,
      ) as { id: string };
      const file = `${tmp.dir}/replay-backup.db`;
      expect(cli(["backup", "--out", file]).status).toBe(0);

      expect(cli(["revoke", a, "--reason", "keyCompromise"]).status).toBe(0);
      expect(cli(["entry", "delete", entry.id]).status).toBe(0);
      type Line = { audit?: { action: string; seq: number; at: string; details: Record<string, unknown> } };
      const shipped = await waitFor(async () => {
        const lines = serve.logs() as Line[];
        return lines.some((l) => l.audit?.action === "entry.delete") ? lines : undefined;
      }, 5000);
      expect(shipped).toBeDefined();
      expect(await serve.stop()).toBe(0);
      const lines = (shipped ?? []).map((l) => JSON.stringify(l));
      const log = `${tmp.dir}/server.log`;
      writeFileSync(log, `${lines.join("\n")}\nnot json at all\n`);
      const revokedAt = (shipped ?? []).find((l) => l.audit?.action === "cert.revoke")?.audit?.at;

      // an edited log (the revocation moved to another certificate) and one missing a row are refused, changing nothing
      const before = sha256(`${dataDir}/tessera.db`);
      const edited = `${tmp.dir}/edited.log`;
      writeFileSync(edited, lines.map((l) => l.replace(a, b)).join("\n"));
      const incomplete = `${tmp.dir}/incomplete.log`;
      writeFileSync(incomplete, lines.filter((l) => !l.includes('"action":"cert.revoke"')).join("\n"));
      for (const [bad, message] of [
        [edited, "row content does not match its hash"],
        [incomplete, "is missing"],
      ] as const) {
        const r = cli(["restore", "--from", file, "--replay", bad]);
        expect(r.status).not.toBe(0);
        expect(r.stderr).toContain("do not continue the backup's audit chain");
        expect(r.stderr).toContain(message);
        expect(sha256(`${dataDir}/tessera.db`)).toBe(before);
      }

      const restored = cli(["restore", "--from", file, "--replay", log, "--json"]);
      expect(restored.status, restored.stderr).toBe(0);
      expect(JSON.parse(restored.stdout).replayed).toMatchObject({ revoked: 1, entries_deleted: 1 });
      const shownA = JSON.parse(cli(["cert", "show", a, "--json"]).stdout);
      expect(shownA).toMatchObject({ status: "revoked", revocation_reason: "keyCompromise", revoked_at: revokedAt });
      expect(JSON.parse(cli(["cert", "show", b, "--json"]).stdout).status).toBe("active");
      expect(JSON.parse(cli(["entry", "list", "--json"]).stdout)).toEqual([]);
      expect(cli(["audit", "verify"]).status).toBe(0);

      serve = await spawnServe(["--data-dir", dataDir, "--workers", "1"]);
      const crl = await servedCrl(serve.apiUrl, bundle);
      expect(crl.text.toUpperCase()).toContain(a.toUpperCase());
      expect(crl.text.toUpperCase()).not.toContain(b.toUpperCase());
    } finally {
      await serve.stop();
    }
  }, 60_000);

  it("completes a backup while the server keeps issuing, and the copy is a database of its own whose audit chain verifies", async () => {
    const dataDir = `${tmp.dir}/busy`;
    const serve = await spawnServe(["--data-dir", dataDir, "--workers", "2"]);
    try {
      const bundle = readFileSync(`${dataDir}/bundle.pem`, "utf8");
      // well over the first step's 100 pages, so writes land between the backup's steps
      const [first, ...spares] = await makeTokens(dataDir, "spiffe://example.org/busy", 3000);
      const { csrPem, keyPem } = opensslCsr(tmp.dir);
      const svid = await call(`${serve.apiUrl}/v1/svid/x509`, {
        ca: bundle,
        body: { csr: csrPem, attestation: { type: "join_token", token: first } },
      });
      expect(svid.status).toBe(201);
      const chain = svid.json<{ chain: string }>().chain;
      let stop = false;
      let issued = 0;
      const load = Array.from({ length: 8 }, async (_, i) => {
        for (let n = 0; !stop; n++) {
          const r =
            n % 2 === 0
              ? await call(`${serve.apiUrl}/v1/svid/jwt`, { ca: bundle, cert: chain, key: keyPem, body: { audience: ["x"] } })
              : await issue(serve.apiUrl, bundle, spares[(i * 1000 + n) % spares.length] as string);
          if (r.status === 201) issued++;
        }
      });
      await waitFor(async () => (issued >= 20 ? true : undefined), 10_000);
      const file = `${tmp.dir}/busy-backup.db`;
      const backup = await cliAsync(["backup", "--out", file, "--json", "--data-dir", dataDir]);
      stop = true;
      await Promise.all(load);
      expect(backup.status, backup.stderr).toBe(0);
      const made = JSON.parse(backup.stdout);
      expect(made.bytes).toBeGreaterThan(100 * 4096);

      const copy = `${tmp.dir}/busy-copy`;
      mkdirSync(copy);
      copyFileSync(file, `${copy}/tessera.db`);
      const verified = runCli(["audit", "verify", "--json", "--data-dir", copy]);
      expect(verified.status, verified.stderr).toBe(0);
      expect(JSON.parse(verified.stdout).head).toBe(made.audit_head);
      // and the live log goes on past it, with the backup recorded there
      const headSeq = String(made.audit_head).split(":")[0] as string;
      const since = JSON.parse(runCli(["audit", "list", "--after", headSeq, "--json", "--data-dir", dataDir]).stdout) as Array<{
        action: string;
      }>;
      expect(since.map((r) => r.action)).toContain("data.backup");
    } finally {
      await serve.stop();
    }
  }, 60_000);

  it.each([
    [
      "rejects/a file that is not a database",
      async () => {
        const f = `${tmp.dir}/garbage.db`;
        writeFileSync(f, "SQLite format 3\0 but not really".repeat(200));
        return f;
      },
      "not a Tessera database backup",
    ],
    [
      "rejects/a backup of another trust domain",
      async () => {
        const other = `${tmp.dir}/other-td`;
        expect(runCli(["init", "--trust-domain", "other.example", "--data-dir", other]).status).toBe(0);
        expect(runCli(["backup", "--out", `${other}.db`, "--data-dir", other]).status).toBe(0);
        return `${other}.db`;
      },
      "trust domain other.example",
    ],
    [
      "rejects/a backup whose keys this data directory cannot open",
      async () => {
        const other = `${tmp.dir}/other-keys`;
        expect(runCli(["init", "--trust-domain", "example.org", "--data-dir", other]).status).toBe(0);
        expect(runCli(["backup", "--out", `${other}.db`, "--data-dir", other]).status).toBe(0);
        return `${other}.db`;
      },
      "cannot decrypt the CA keys",
    ],
  ])("%s", async (_name, make, message) => {
    const dataDir = `${tmp.dir}/target-${Math.random().toString(36).slice(2)}`;
    expect(runCli(["init", "--trust-domain", "example.org", "--data-dir", dataDir]).status).toBe(0);
    const before = sha256(`${dataDir}/tessera.db`);
    const r = runCli(["restore", "--from", await make(), "--data-dir", dataDir]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(message);
    expect(sha256(`${dataDir}/tessera.db`)).toBe(before);
    expect(runCli(["audit", "verify", "--data-dir", dataDir]).status).toBe(0);
  });
});
