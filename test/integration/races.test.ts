import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call } from "../helpers/https-client.js";
import { opensslCsr } from "../helpers/openssl.js";
import { CLI, runCli, spawnServe } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";
import { makeTokens } from "../helpers/workload.js";
import { splitPem } from "../helpers/x509.js";

const tmp = tempDir();
const dataDir = `${tmp.dir}/data`;
let serve: Awaited<ReturnType<typeof spawnServe>>;
let bundle: string;
const run = promisify(execFile);
let csr: string;

beforeAll(async () => {
  serve = await spawnServe(["--data-dir", dataDir, "--workers", "2", "--rate-limit", "off"]);
  bundle = readFileSync(`${dataDir}/bundle.pem`, "utf8");
  csr = opensslCsr(tmp.dir).csrPem;
});
afterAll(async () => {
  await serve.stop();
  tmp.cleanup();
});

const tokens = (spiffeId: string, n: number) => makeTokens(dataDir, spiffeId, n);

const issue = (token: string) =>
  call(`${serve.apiUrl}/v1/svid/x509`, { ca: bundle, body: { csr, attestation: { type: "join_token", token } } });

describe("races, each resolved in the database", () => {
  it("50 concurrent uses of one token across two worker processes give exactly one certificate", async () => {
    const [token] = await tokens("spiffe://example.org/race2", 1);
    const replies = await Promise.all(Array.from({ length: 50 }, () => issue(token as string)));
    expect(replies.filter((r) => r.status === 201)).toHaveLength(1);
    expect(replies.filter((r) => r.status === 409)).toHaveLength(49);
  });

  it("revocation while issuing: every certificate committed before the revocation is revoked, none after", async () => {
    const id = "spiffe://example.org/contested";
    const pool = await tokens(id, 40);
    const issuing = Promise.all(pool.map((t, i) => new Promise((r) => setTimeout(r, i * 15)).then(() => issue(t))));
    await new Promise((r) => setTimeout(r, 150));
    await run(process.execPath, [CLI, "revoke", "--spiffe-id", id, "--data-dir", dataDir]);
    const replies = await issuing;
    expect(replies.every((r) => r.status === 201)).toBe(true);

    const db = new Database(`${dataDir}/tessera.db`, { readonly: true });
    const audit = db.prepare("SELECT seq, action, details FROM audit_log WHERE subject = ? ORDER BY seq").all(id) as Array<{
      seq: number;
      action: string;
      details: string;
    }>;
    const certs = new Map(
      (
        db.prepare("SELECT serial, revoked_at FROM certificates WHERE spiffe_id = ?").all(id) as Array<{
          serial: string;
          revoked_at: number | null;
        }>
      ).map((c) => [c.serial, c.revoked_at]),
    );
    db.close();
    const revocation = audit.find((a) => a.action === "cert.revoke");
    expect(revocation).toBeDefined();
    const revokedSerials = new Set(JSON.parse(revocation?.details as string).serials as string[]);
    let before = 0;
    let after = 0;
    for (const a of audit.filter((x) => x.action === "svid.x509.issue")) {
      const serial = JSON.parse(a.details).serial as string;
      if (a.seq < (revocation?.seq as number)) {
        before++;
        expect(revokedSerials.has(serial)).toBe(true);
        expect(certs.get(serial)).not.toBeNull();
      } else {
        after++;
        expect(certs.get(serial)).toBeNull();
      }
    }
    expect(before + after).toBe(40);
    expect(before).toBeGreaterThan(0);
  });

  it("rotation while issuing: every certificate issued verifies against the bundle through its recorded issuer", async () => {
    const pool = await tokens("spiffe://example.org/rotating", 40);
    const issuing = Promise.all(pool.map((t, i) => new Promise((r) => setTimeout(r, i * 5)).then(() => issue(t))));
    await new Promise((r) => setTimeout(r, 60));
    await run(process.execPath, [CLI, "rotate", "x509", "--now", "--data-dir", dataDir]);
    const replies = await issuing;
    expect(replies.every((r) => r.status === 201)).toBe(true);
    const roots = splitPem(bundle).map((p) => new X509Certificate(p));
    const issuers = new Set<string>();
    for (const r of replies) {
      const { certificate, chain } = r.json<{ certificate: string; chain: string }>();
      const leaf = new X509Certificate(certificate);
      const intermediate = new X509Certificate(splitPem(chain)[1] as string);
      expect(leaf.verify(intermediate.publicKey)).toBe(true);
      expect(roots.some((root) => intermediate.verify(root.publicKey))).toBe(true);
      issuers.add(intermediate.fingerprint256);
    }
    const status = JSON.parse(runCli(["ca", "status", "--json", "--data-dir", dataDir]).stdout).keys as Array<{
      kind: string;
      state: string;
    }>;
    expect(status.filter((k) => k.kind === "x509_intermediate" && k.state === "active")).toHaveLength(1);
    expect(issuers.size).toBeGreaterThanOrEqual(1);
  });
});

describe("worker processes", () => {
  it("run with a fixed malloc mmap threshold (large CRL buffers go back to the system), unless the operator chose one", async () => {
    const { workerMallocEnv } = await import("../../src/cluster.js");
    expect(workerMallocEnv({})).toEqual({ MALLOC_MMAP_THRESHOLD_: "131072" });
    expect(workerMallocEnv({ MALLOC_MMAP_THRESHOLD_: "65536" })).toEqual({ MALLOC_MMAP_THRESHOLD_: "65536" });
    const primary = serve.child.pid as number;
    const workers = readFileSync(`/proc/${primary}/task/${primary}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    expect(workers).toHaveLength(2);
    for (const pid of workers) {
      const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      expect(environ).toContain("MALLOC_MMAP_THRESHOLD_=131072");
    }
  });

  it("have a crypto thread each only while there are cores to spare", async () => {
    const { cryptoThreadsPerWorker } = await import("../../src/cluster.js");
    expect([
      cryptoThreadsPerWorker(1, 2),
      cryptoThreadsPerWorker(2, 2),
      cryptoThreadsPerWorker(3, 2),
      cryptoThreadsPerWorker(2, 4),
    ]).toEqual([1, 0, 0, 1]);
  });

  it("start with a roomy initial old generation (fewer full GCs under load), unless the operator gave one", async () => {
    const { workerExecArgv } = await import("../../src/cluster.js");
    expect(workerExecArgv(["--enable-source-maps"])).toEqual(["--enable-source-maps", "--initial-old-space-size=128"]);
    expect(workerExecArgv(["--initial-old-space-size=32"])).toEqual(["--initial-old-space-size=32"]);
    const primary = serve.child.pid as number;
    const workers = readFileSync(`/proc/${primary}/task/${primary}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    expect(workers).toHaveLength(2);
    for (const pid of workers) {
      expect(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")).toContain("--initial-old-space-size=128");
    }
    expect(readFileSync(`/proc/${primary}/cmdline`, "utf8")).not.toContain("--initial-old-space-size");
  });

  it("collect garbage on their own threads only once their busy threads fill the cores, unless the operator chose", async () => {
    const { singleThreadedGc, workerExecArgv } = await import("../../src/cluster.js");
    // one worker and its crypto thread on two cores; one worker per core; a core to spare
    expect([singleThreadedGc(1, 2), singleThreadedGc(2, 2), singleThreadedGc(4, 4), singleThreadedGc(1, 4)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    const old = "--initial-old-space-size=128";
    expect(workerExecArgv([], { singleThreadedGc: true })).toEqual([old, "--single-threaded-gc"]);
    expect(workerExecArgv([], { singleThreadedGc: false })).toEqual([old]);
    expect(workerExecArgv(["--no-single-threaded-gc"], { singleThreadedGc: true })).toEqual(["--no-single-threaded-gc", old]);
    // two workers on this machine: each runs with it if due (and started, so V8 knows the flag)
    const primary = serve.child.pid as number;
    const workers = readFileSync(`/proc/${primary}/task/${primary}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    const expected = singleThreadedGc(2);
    for (const pid of workers) {
      expect(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("--single-threaded-gc")).toBe(expected);
    }
  });
});
